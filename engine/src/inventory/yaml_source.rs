//! YAML (and JSON) inventories, read like ansible-core's `yaml` inventory plugin:
//! `all: {hosts: {h: {var: v}}, vars: {...}, children: {g: {...}}}`, values keeping their YAML types.

use super::address::parse_address;
use super::data::Data;
use super::host_range;
use crate::diagnostic::shorten;
use crate::error::{Error, Result};
use crate::yaml::{Node, NodeValue};

/// Parses an already loaded document into `data`. The caller has checked it is a non-empty mapping.
pub fn parse(doc: &Node, data: &mut Data) -> Result<()> {
    if doc.get("plugin").is_some() {
        return Err(Error::parse(
            doc.loc.clone(),
            "Plugin configuration YAML file, not YAML inventory",
        )
        .with_hint(
            "ply reads INI, YAML and JSON inventories; inventory plugins are not supported",
        ));
    }
    for (key, value) in doc.as_map().unwrap_or_default() {
        parse_group(&key.key_text(), key, value, data)?;
    }
    Ok(())
}

/// Whether a loaded document has the shape of a YAML inventory (used to tell YAML from INI for files
/// without an extension).
pub fn looks_like_inventory(docs: &[Node]) -> bool {
    matches!(docs, [doc] if doc.as_map().is_some_and(|m| !m.is_empty()))
}

fn parse_group(name: &str, key: &Node, node: &Node, data: &mut Data) -> Result<Option<usize>> {
    if !matches!(node.value, NodeValue::Map(_) | NodeValue::Null) {
        data.warn(format!(
            "Skipping '{name}' as this is not a valid group definition"
        ));
        return Ok(None);
    }
    if name.is_empty() {
        return Err(Error::parse(
            key.loc.clone(),
            "Invalid empty/false group name provided: ",
        ));
    }
    let group = data.add_group(name);
    let Some(entries) = node.as_map() else {
        return Ok(Some(group));
    };

    for section in ["vars", "children", "hosts"] {
        if let Some(value) = node.get(section) {
            if !matches!(
                value.value,
                NodeValue::Map(_) | NodeValue::Null | NodeValue::String(_)
            ) {
                return Err(Error::parse(
                    value.loc.clone(),
                    format!(
                        "Invalid \"{section}\" entry for \"{name}\" group, requires a dictionary, found \"{}\" instead.",
                        python_type(value)
                    ),
                )
                .with_hint(format!("write `{section}:` as a mapping of names to values")));
            }
        }
    }

    for (key_node, value) in entries {
        let key = key_node.key_text();
        // A bare string stands for a one-entry mapping: `hosts: web1` is `hosts: {web1: }`.
        let single;
        let entries: &[(Node, Node)] = match &value.value {
            NodeValue::Map(entries) => entries,
            NodeValue::String(text) if matches!(key.as_str(), "vars" | "children" | "hosts") => {
                single = [(
                    Node::new(NodeValue::String(text.clone()), value.loc.clone()),
                    Node::new(NodeValue::Null, value.loc.clone()),
                )];
                &single
            }
            NodeValue::Null => continue,
            _ => {
                data.warn(format!(
                    "Skipping key ({key}) in group ({name}) as it is not a mapping, it is a {}",
                    python_type(value)
                ));
                continue;
            }
        };
        match key.as_str() {
            "vars" => {
                for (var, v) in entries {
                    data.set_group_var(group, &var.key_text(), v.to_json())
                        .map_err(|message| Error::parse(v.loc.clone(), message))?;
                }
            }
            "children" => {
                for (child_key, child_node) in entries {
                    let child_name = child_key.key_text();
                    if let Some(child) = parse_group(&child_name, child_key, child_node, data)? {
                        data.add_child_group(group, child)
                            .map_err(|e| Error::parse(child_key.loc.clone(), e.to_string()))?;
                    }
                }
            }
            "hosts" => {
                for (host_key, host_node) in entries {
                    let pattern = host_key.key_text();
                    let (names, port) = expand(&pattern)
                        .and_then(|(names, port)| data.check_room(&names).map(|()| (names, port)))
                        .map_err(|e| Error::parse(host_key.loc.clone(), e))?;
                    let vars = match &host_node.value {
                        NodeValue::Null => Vec::new(),
                        NodeValue::Map(vars) => vars.iter().map(|(k, v)| (k.key_text(), v.to_json())).collect(),
                        _ => {
                            return Err(Error::parse(
                                host_node.loc.clone(),
                                format!(
                                    "Invalid data from file, expected dictionary and got:\n\n{}",
                                    shorten(&crate::yaml::scalar_text(&host_node.to_json()))
                                ),
                            )
                            .with_hint({
                                let pattern = shorten(&pattern);
                                format!("a host entry is `{pattern}:` or `{pattern}: {{var: value}}`")
                            }));
                        }
                    };
                    for host_name in names {
                        let host = data.add_host(&host_name, Some(group), port);
                        for (k, v) in &vars {
                            data.set_host_var(host, k, v.clone());
                        }
                    }
                }
            }
            _ => data.warn(format!(
                "Skipping unexpected key ({key}) in group ({name}), only \"vars\", \"children\" and \"hosts\" are valid"
            )),
        }
    }
    Ok(Some(group))
}

/// The generic host pattern expansion (the INI plugin adds its own checks on top).
fn expand(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (host, port) = parse_address(pattern, true).unwrap_or_else(|| (pattern.to_string(), None));
    let names = if host_range::has_range(&host) {
        host_range::expand(&host)?
    } else {
        vec![host]
    };
    Ok((names, port))
}

fn python_type(node: &Node) -> &'static str {
    match node.value {
        NodeValue::Null => "<class 'NoneType'>",
        NodeValue::Bool(_) => "<class 'bool'>",
        NodeValue::Int(_) => "<class 'int'>",
        NodeValue::Float(_) => "<class 'float'>",
        NodeValue::String(_) => "<class 'str'>",
        NodeValue::Seq(_) => "<class 'list'>",
        NodeValue::Map(_) => "<class 'dict'>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn load(text: &str) -> Result<Data> {
        let docs = crate::yaml::load_str(text, Path::new("inv.yml"))?;
        let mut data = Data::new();
        parse(&docs[0], &mut data)?;
        data.reconcile();
        Ok(data)
    }

    #[test]
    fn groups_hosts_vars_keep_yaml_types() {
        let data = load(
            "all:\n  hosts:\n    solo:\n  vars:\n    flag: yes\n  children:\n    web:\n      hosts:\n        \
             web[1:2]:2222:\n          mode: 0644\n      vars:\n        list: [1, two]\n    db:\n      hosts: db1\n",
        )
        .unwrap();
        let web1 = data.host_id("web1").unwrap();
        assert_eq!(data.hosts[web1].vars["ansible_port"], json!(2222));
        assert_eq!(data.hosts[web1].vars["mode"], json!(420));
        assert_eq!(data.groups[0].vars["flag"], json!(true));
        let web = data.group_id("web").unwrap();
        assert_eq!(data.groups[web].vars["list"], json!([1, "two"]));
        assert!(data.host_id("db1").is_some());
        assert_eq!(data.groups[1].hosts, vec![data.host_id("solo").unwrap()]);
    }

    #[test]
    fn warnings_and_errors() {
        let data =
            load("all:\n  children:\n    web:\n      hostz: {a: 1}\n      other: 5\n").unwrap();
        assert_eq!(
            data.warnings,
            [
                "Skipping unexpected key (hostz) in group (web), only \"vars\", \"children\" and \"hosts\" are valid",
                "Skipping key (other) in group (web) as it is not a mapping, it is a <class 'int'>",
            ]
        );
        let err = load("all:\n  hosts:\n    - a\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid \"hosts\" entry for \"all\" group, requires a dictionary, found \"<class 'list'>\" instead."
        );
        assert_eq!(err.location().unwrap().line, 3);
        let err = load("all:\n  hosts:\n    a: 5\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid data from file, expected dictionary and got:\n\n5"
        );
        let err = load("plugin: aws_ec2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Plugin configuration YAML file, not YAML inventory"
        );
    }
}
