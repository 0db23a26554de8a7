//! The keywords plays, blocks, role inclusions and tasks share, and that children inherit.

use super::fields;
use crate::error::Result;
use crate::vars::VarMap;
use crate::yaml::Node;
use serde_json::Value;

/// Inheritable keywords. Values that may be templated stay as raw [`Value`]s and are decided at run time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keywords {
    pub tags: Vec<String>,
    pub vars: VarMap,
    pub become_: Option<Value>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub become_flags: Option<String>,
    pub become_exe: Option<String>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub environment: Option<Value>,
    pub no_log: Option<Value>,
    pub run_once: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub connection: Option<String>,
    pub remote_user: Option<String>,
    pub port: Option<Value>,
    pub timeout: Option<Value>,
    pub throttle: Option<Value>,
    pub module_defaults: Option<Value>,
    pub collections: Vec<String>,
    pub debugger: Option<String>,
}

impl Keywords {
    /// Reads one common keyword into `self`. Returns false when `key` is not a common keyword.
    pub fn read(&mut self, key: &str, value: &Node) -> Result<bool> {
        match key {
            "tags" => self.tags = fields::string_list(key, value, true)?,
            "vars" => self.vars = fields::var_map(key, value)?,
            "become" => self.become_ = Some(fields::boolish(key, value)?),
            "become_user" => self.become_user = Some(fields::string(key, value)?),
            "become_method" => self.become_method = Some(fields::string(key, value)?),
            "become_flags" => self.become_flags = Some(fields::string(key, value)?),
            "become_exe" => self.become_exe = Some(fields::string(key, value)?),
            "check_mode" => self.check_mode = Some(fields::boolish(key, value)?),
            "diff" => self.diff = Some(fields::boolish(key, value)?),
            "no_log" => self.no_log = Some(fields::boolish(key, value)?),
            "run_once" => self.run_once = Some(fields::boolish(key, value)?),
            "any_errors_fatal" => self.any_errors_fatal = Some(fields::boolish(key, value)?),
            "ignore_unreachable" => self.ignore_unreachable = Some(fields::boolish(key, value)?),
            "environment" => self.environment = Some(value.to_json()),
            "connection" => self.connection = Some(fields::string(key, value)?),
            "remote_user" => self.remote_user = Some(fields::string(key, value)?),
            "port" => self.port = Some(fields::int_or_template(key, value)?),
            "timeout" => self.timeout = Some(fields::int_or_template(key, value)?),
            "throttle" => self.throttle = Some(fields::int_or_template(key, value)?),
            "module_defaults" => self.module_defaults = Some(module_defaults(value)?),
            "collections" => self.collections = fields::string_list(key, value, false)?,
            "debugger" => {
                let when = fields::string(key, value)?;
                if when != "never" {
                    return Err(super::unsupported::refuse("debugger", value.loc.clone()));
                }
                self.debugger = Some(when);
            }
            "name" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `module_defaults`: a mapping (or a list of mappings) from module names to default arguments. Every
/// name must be a module ply has, so a misspelt one is not silently never applied; Ansible's
/// `group/...` action groups name collections' module sets, which ply does not ship.
fn module_defaults(node: &Node) -> Result<Value> {
    use crate::error::Error;
    use crate::yaml::NodeValue;
    let maps: Vec<&Node> = match &node.value {
        NodeValue::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    for map in &maps {
        let NodeValue::Map(entries) = &map.value else {
            return Err(Error::parse(
                map.loc.clone(),
                format!(
                    "module_defaults must be a mapping of module names to arguments, got {}",
                    map.kind_name()
                ),
            ));
        };
        for (key_node, args) in entries {
            let name = key_node.key_text();
            if name.starts_with("group/") {
                return Err(Error::parse(
                    key_node.loc.clone(),
                    format!("module_defaults: the action group '{name}' is not supported by ply"),
                )
                .with_hint("name each module instead, e.g. `ansible.builtin.file:`"));
            }
            if modules::find(&name).is_none() {
                let error = Error::parse(
                    key_node.loc.clone(),
                    format!("module_defaults: '{name}' is not a module ply has"),
                );
                let known: Vec<String> = modules::names().collect();
                return Err(
                    match crate::suggest::hint(&name, known.iter().map(String::as_str)) {
                        Some(hint) => error.with_hint(hint),
                        None => error,
                    },
                );
            }
            if !matches!(args.value, NodeValue::Map(_)) {
                return Err(Error::parse(
                    args.loc.clone(),
                    format!("module_defaults: the defaults of '{name}' must be a mapping"),
                ));
            }
        }
    }
    Ok(node.to_json())
}
