//! The variables a task sees on one host, assembled in Ansible's precedence order.

use crate::playbook::Role;
use crate::vars::{Level, VarLayers, VarMap};

/// Everything that contributes variables to one task on one host.
pub struct VarSources<'a> {
    /// Defaults and vars of every role in the play (Ansible exports role variables to the play).
    pub play_role_defaults: &'a VarMap,
    pub play_role_vars: &'a VarMap,
    pub inventory: &'a VarMap,
    pub facts: &'a VarMap,
    pub play_vars: &'a VarMap,
    pub vars_files: &'a VarMap,
    pub role: Option<&'a Role>,
    /// Vars of the enclosing blocks, outermost first.
    pub block_vars: &'a [&'a VarMap],
    pub task_vars: &'a VarMap,
    pub include_vars: &'a VarMap,
    pub set_facts: &'a VarMap,
    pub include_params: &'a VarMap,
    pub extra_vars: &'a VarMap,
    /// Magic variables go last: users cannot override them.
    pub magic: &'a VarMap,
}

pub fn assemble(sources: &VarSources<'_>) -> VarMap {
    let mut layers = VarLayers::new();
    layers.add(Level::RoleDefaults, sources.play_role_defaults.clone());
    if let Some(role) = sources.role {
        layers.add(Level::RoleDefaults, role.defaults.clone());
    }
    layers.add(Level::Inventory, sources.inventory.clone());
    if !sources.facts.is_empty() {
        layers.add_facts(sources.facts);
    }
    layers.add(Level::PlayVars, sources.play_vars.clone());
    layers.add(Level::VarsFiles, sources.vars_files.clone());
    layers.add(Level::RoleVars, sources.play_role_vars.clone());
    if let Some(role) = sources.role {
        layers.add(Level::RoleVars, role.vars.clone());
        layers.add(Level::RoleParams, role.params.clone());
    }
    for block in sources.block_vars {
        layers.add(Level::BlockVars, (*block).clone());
    }
    layers.add(Level::TaskVars, sources.task_vars.clone());
    layers.add(Level::IncludeVars, sources.include_vars.clone());
    layers.add(Level::SetFactAndRegistered, sources.set_facts.clone());
    layers.add(Level::IncludeParams, sources.include_params.clone());
    layers.add(Level::ExtraVars, sources.extra_vars.clone());
    let mut merged = layers.merged();
    for (name, value) in sources.magic {
        merged.insert(name.clone(), value.clone());
    }
    merged
}
