//! What `ansible-inventory --list`, `--host` and `--graph` print, including Python's `json.dumps(...,
//! sort_keys=True, indent=4)` text so the output can be compared byte for byte.

use super::data::{Data, ALL};
use serde_json::{Map, Value};

/// Magic variables `ansible-inventory` strips from host variables (`C.INTERNAL_STATIC_VARS`).
pub const INTERNAL_STATIC_VARS: [&str; 32] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "omit",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_names",
    "ungrouped",
];

pub fn remove_internal(mut vars: Map<String, Value>) -> Map<String, Value> {
    vars.retain(|k, _| !INTERNAL_STATIC_VARS.contains(&k.as_str()));
    vars
}

/// The `--list` document. `host_vars` gives each host's merged variables.
pub fn list(data: &Data, host_vars: impl Fn(usize) -> Map<String, Value>) -> Value {
    let mut out = Map::new();
    let mut seen = Vec::new();
    format_group(data, ALL, &mut seen, &mut out);
    let mut hostvars = Map::new();
    for h in data.group_hosts(ALL) {
        let vars = remove_internal(host_vars(h));
        if !vars.is_empty() {
            hostvars.insert(data.hosts[h].name.clone(), Value::Object(vars));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    out.insert("_meta".into(), Value::Object(meta));
    sort_keys(Value::Object(out))
}

fn format_group(data: &Data, group: usize, seen: &mut Vec<usize>, out: &mut Map<String, Value>) {
    let g = &data.groups[group];
    let mut entry = Map::new();
    if group != ALL {
        let hosts: Vec<Value> = g
            .hosts
            .iter()
            .map(|&h| Value::String(data.hosts[h].name.clone()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
    }
    let mut children = Vec::new();
    let mut nested = Map::new();
    for &child in &g.children {
        children.push(Value::String(data.groups[child].name.clone()));
        if !seen.contains(&child) {
            format_group(data, child, seen, &mut nested);
            seen.push(child);
        }
    }
    if !children.is_empty() {
        entry.insert("children".into(), Value::Array(children));
    }
    // Python builds the group's entry first and updates it with the children's afterwards.
    if !entry.is_empty() {
        out.insert(g.name.clone(), Value::Object(entry));
    }
    for (k, v) in nested {
        out.insert(k, v);
    }
}

/// `--graph [GROUP]` without `--vars`.
pub fn graph(data: &Data, group: usize) -> String {
    let mut lines = Vec::new();
    graph_group(data, group, 0, &mut lines);
    lines.join("\n")
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_group(data: &Data, group: usize, depth: usize, lines: &mut Vec<String>) {
    let g = &data.groups[group];
    lines.push(graph_name(&format!("@{}:", g.name), depth));
    for &child in &g.children {
        graph_group(data, child, depth + 1, lines);
    }
    if group != ALL {
        for &h in &g.hosts {
            lines.push(graph_name(&data.hosts[h].name, depth + 1));
        }
    }
}

/// Recursively orders object keys, as `sort_keys=True` does.
pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Python's `json.dumps(value, indent=4, ensure_ascii=False)` text (keys in the value's order).
pub fn to_python_json(value: &Value) -> String {
    let options = crate::pyjson::JsonOptions {
        indent: Some(4),
        sort_keys: false,
        ensure_ascii: false,
        compact_separators: true,
    };
    crate::pyjson::dumps(value, &options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_json_text() {
        let value = json!({"a": [1, 2.5, 1e20], "b": {}, "c": [], "d": "é\n\"", "e": null});
        assert_eq!(
            to_python_json(&value),
            "{\n    \"a\": [\n        1,\n        2.5,\n        1e+20\n    ],\n    \"b\": {},\n    \"c\": [],\n    \
             \"d\": \"é\\n\\\"\",\n    \"e\": null\n}"
        );
    }
}
