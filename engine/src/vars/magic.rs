//! The magic variables Ansible sets for every host and task. They are added after extra vars, so a user
//! cannot override them (as in Ansible's VariableManager).

use super::VarMap;
use crate::inventory::Inventory;
use serde_json::{json, Value};
use std::path::Path;

/// The names of Ansible's magic variables other than `ansible_*` (every `ansible_*` name is taken as known:
/// facts, connection settings and loop details use the prefix freely). Whatever [`magic_vars`] sets is
/// here, as are the ones Ansible defines elsewhere (`hostvars`, `vars`, `role_names`, the default loop
/// variable `item`), so a load-time check never calls them undefined.
pub const MAGIC_NAMES: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_file",
    "inventory_dir",
    "groups",
    "group_names",
    "hostvars",
    "vars",
    "play_hosts",
    "playbook_dir",
    "role_name",
    "role_names",
    "role_path",
    "omit",
    "item",
];

/// What the magic variables are computed from.
pub struct MagicContext<'a> {
    pub inventory: &'a Inventory,
    pub host: &'a str,
    pub play_name: &'a str,
    /// Hosts of the play that have not failed, in inventory order.
    pub play_hosts: &'a [String],
    /// Hosts of the current `serial` batch.
    pub play_batch: &'a [String],
    pub playbook_dir: &'a Path,
    pub inventory_sources: &'a [String],
    pub check_mode: bool,
    pub diff_mode: bool,
    pub forks: usize,
    pub verbosity: u8,
    pub run_tags: &'a [String],
    pub skip_tags: &'a [String],
    pub role: Option<&'a crate::playbook::Role>,
    pub omit: &'a str,
}

fn strings(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

/// The magic variables for one host (and role, when the task belongs to one).
pub fn magic_vars(context: &MagicContext<'_>) -> VarMap {
    let mut vars = VarMap::new();
    let host = context.host;
    let short = host.split('.').next().unwrap_or(host);
    vars.insert("inventory_hostname".into(), json!(host));
    vars.insert("inventory_hostname_short".into(), json!(short));
    vars.insert(
        "groups".into(),
        Value::Object(context.inventory.groups_map()),
    );
    vars.insert(
        "group_names".into(),
        strings(&context.inventory.group_names(host)),
    );
    vars.insert("ansible_play_hosts".into(), strings(context.play_hosts));
    vars.insert("ansible_play_hosts_all".into(), strings(context.play_hosts));
    vars.insert("ansible_play_batch".into(), strings(context.play_batch));
    vars.insert("play_hosts".into(), strings(context.play_batch));
    vars.insert("ansible_play_name".into(), json!(context.play_name));
    vars.insert("ansible_check_mode".into(), json!(context.check_mode));
    vars.insert("ansible_diff_mode".into(), json!(context.diff_mode));
    vars.insert("ansible_forks".into(), json!(context.forks));
    vars.insert("ansible_verbosity".into(), json!(context.verbosity));
    vars.insert("ansible_run_tags".into(), strings(context.run_tags));
    vars.insert("ansible_skip_tags".into(), strings(context.skip_tags));
    vars.insert(
        "ansible_version".into(),
        json!({"full": env!("CARGO_PKG_VERSION"), "string": env!("CARGO_PKG_VERSION")}),
    );
    vars.insert("playbook_dir".into(), json!(absolute(context.playbook_dir)));
    vars.insert(
        "ansible_inventory_sources".into(),
        strings(context.inventory_sources),
    );
    if let Some(first) = context.inventory_sources.first() {
        let source = Path::new(first);
        if source.exists() {
            vars.insert("inventory_file".into(), json!(absolute(source)));
            let dir = source.parent().map(absolute).unwrap_or_default();
            vars.insert("inventory_dir".into(), json!(dir));
        }
    }
    vars.insert("omit".into(), json!(context.omit));
    if let Some(role) = context.role {
        vars.insert("role_name".into(), json!(role.name));
        vars.insert("role_path".into(), json!(absolute(&role.path)));
    }
    vars
}

fn absolute(path: &Path) -> String {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The variables a play's `hosts:` is templated with, besides its play vars: extra vars and the
/// host-independent magic variables (`groups`), as Ansible templates `hosts` before any host is known.
/// `hosts: "{{ 'primary' if 'primary' in groups else 'master' }}"` picks a pattern without warnings.
pub fn play_pattern_vars(inventory: &Inventory, play_vars: &VarMap, extra_vars: &VarMap) -> VarMap {
    let mut vars = play_vars.clone();
    vars.extend(extra_vars.clone());
    vars.insert("groups".into(), Value::Object(inventory.groups_map()));
    vars
}

/// `hostvars`: every host's inventory variables (facts and set_facts join them once hosts run).
pub fn hostvars(inventory: &Inventory) -> Value {
    Value::Object(
        inventory
            .hosts()
            .map(|h| (h.to_string(), Value::Object(inventory.host_vars(h))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_variables_describe_host_play_and_run() {
        let dir = tempfile::tempdir().unwrap();
        let inventory_path = dir.path().join("hosts.ini");
        std::fs::write(
            &inventory_path,
            "[db]\npg1.example.com port_var=1\npg2\n[web]\nweb1\n",
        )
        .unwrap();
        let sources = vec![inventory_path.display().to_string()];
        let inventory = Inventory::load(&sources).unwrap();
        let hosts = vec!["pg1.example.com".to_string(), "pg2".to_string()];
        let vars = magic_vars(&MagicContext {
            inventory: &inventory,
            host: "pg1.example.com",
            play_name: "Databases",
            play_hosts: &hosts,
            play_batch: &hosts[..1],
            playbook_dir: dir.path(),
            inventory_sources: &sources,
            check_mode: true,
            diff_mode: false,
            forks: 5,
            verbosity: 0,
            run_tags: &["all".to_string()],
            skip_tags: &[],
            role: None,
            omit: "__omit__",
        });
        let expected = [
            ("inventory_hostname", json!("pg1.example.com")),
            ("inventory_hostname_short", json!("pg1")),
            ("group_names", json!(["db"])),
            ("ansible_play_hosts", json!(["pg1.example.com", "pg2"])),
            ("play_hosts", json!(["pg1.example.com"])),
            ("ansible_check_mode", json!(true)),
            ("ansible_diff_mode", json!(false)),
            ("ansible_run_tags", json!(["all"])),
            ("omit", json!("__omit__")),
        ];
        for (name, value) in expected {
            assert_eq!(vars[name], value, "{name}");
        }
        assert_eq!(vars["groups"]["web"], json!(["web1"]));
        assert_eq!(
            vars["groups"]["all"],
            json!(["pg1.example.com", "pg2", "web1"])
        );
        let canonical_dir = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            vars["playbook_dir"],
            json!(canonical_dir.display().to_string())
        );
        assert_eq!(
            vars["inventory_dir"],
            json!(canonical_dir.display().to_string())
        );
        assert_eq!(
            hostvars(&inventory)["pg1.example.com"]["port_var"],
            json!(1)
        );
        for name in vars.keys() {
            assert!(
                name.starts_with("ansible_") || MAGIC_NAMES.contains(&name.as_str()),
                "{name} is missing from MAGIC_NAMES"
            );
        }
    }
}
