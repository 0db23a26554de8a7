//! Typed reads of keyword values from YAML nodes, each failing with the key's location and a hint.

use crate::error::{Error, Result};
use crate::template::is_templated;
use crate::vars::VarMap;
use crate::yaml::{Node, NodeValue};
use serde_json::Value;

/// A boolean keyword: YAML 1.1 booleans, Ansible's boolean strings, or a template decided at run time.
pub fn boolish(key: &str, node: &Node) -> Result<Value> {
    match &node.value {
        NodeValue::Bool(b) => Ok(Value::Bool(*b)),
        NodeValue::Int(i @ (0 | 1)) => Ok(Value::Bool(*i == 1)),
        NodeValue::String(s) if is_templated(s) => Ok(Value::String(s.clone())),
        NodeValue::String(s) => parse_bool_str(s)
            .map(Value::Bool)
            .ok_or_else(|| not_boolean(key, node)),
        _ => Err(not_boolean(key, node)),
    }
}

fn not_boolean(key: &str, node: &Node) -> Error {
    let shown = match &node.value {
        NodeValue::String(s) => s.clone(),
        _ => node.to_json().to_string(),
    };
    Error::parse(
        node.loc.clone(),
        format!("'{shown}' is not a valid boolean for '{key}'"),
    )
    .with_hint("use true or false (yes/no and on/off also work)")
}

/// Ansible's `boolean()` on strings (module_utils/parsing/convert_bool.py).
pub fn parse_bool_str(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
        "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}

/// A string keyword; numbers are accepted and turned into text, like Ansible does for names.
pub fn string(key: &str, node: &Node) -> Result<String> {
    match &node.value {
        NodeValue::String(s) => Ok(s.clone()),
        NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) => {
            Ok(crate::yaml::scalar_text(&node.to_json()))
        }
        _ => Err(Error::parse(
            node.loc.clone(),
            format!("'{key}' must be a string, got {}", node.kind_name()),
        )),
    }
}

/// A string or a list of strings (tags, notify, listen). A comma-separated string is split like Ansible
/// does for tags when `split_commas` is set.
pub fn string_list(key: &str, node: &Node, split_commas: bool) -> Result<Vec<String>> {
    let one = |n: &Node| -> Result<Vec<String>> {
        match &n.value {
            NodeValue::String(s) if split_commas => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect()),
            NodeValue::Seq(_) | NodeValue::Map(_) | NodeValue::Null => Err(Error::parse(
                n.loc.clone(),
                format!(
                    "'{key}' must be a string or a list of strings, got {}",
                    n.kind_name()
                ),
            )),
            _ => Ok(vec![string(key, n)?]),
        }
    };
    match &node.value {
        NodeValue::Null => Ok(Vec::new()),
        NodeValue::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(one(item)?);
            }
            Ok(out)
        }
        _ => one(node),
    }
}

/// Conditions (`when`, `changed_when`, `failed_when`): a string, a boolean, or a list of them (all must hold).
pub fn conditions(key: &str, node: &Node) -> Result<Vec<Condition>> {
    let one = |n: &Node| -> Result<Condition> {
        match &n.value {
            NodeValue::String(s) => Ok(Condition {
                expr: s.clone(),
                loc: n.loc.clone(),
            }),
            NodeValue::Bool(b) => Ok(Condition {
                expr: if *b { "True" } else { "False" }.into(),
                loc: n.loc.clone(),
            }),
            NodeValue::Int(_) | NodeValue::Float(_) => Ok(Condition {
                expr: n.to_json().to_string(),
                loc: n.loc.clone(),
            }),
            _ => Err(Error::parse(
                n.loc.clone(),
                format!(
                    "'{key}' must be a condition (a string or a list of strings), got {}",
                    n.kind_name()
                ),
            )),
        }
    };
    match &node.value {
        NodeValue::Null => Ok(Vec::new()),
        NodeValue::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

/// A `vars:` block: a mapping, or Ansible's legacy list of mappings.
pub fn var_map(key: &str, node: &Node) -> Result<VarMap> {
    match &node.value {
        NodeValue::Null => Ok(VarMap::new()),
        NodeValue::Map(_) => match node.to_json() {
            Value::Object(map) => Ok(map),
            _ => unreachable!("a YAML mapping converts to a JSON object"),
        },
        NodeValue::Seq(items) => {
            let mut merged = VarMap::new();
            for item in items {
                merged.extend(var_map(key, item)?);
            }
            Ok(merged)
        }
        _ => Err(Error::parse(
            node.loc.clone(),
            format!(
                "'{key}' must be a mapping of variable names to values, got {}",
                node.kind_name()
            ),
        )
        .with_hint(format!(
            "write `{key}:` followed by indented `name: value` lines"
        ))),
    }
}

/// A non-negative integer keyword that may also be a template (`retries: "{{ n }}"`).
pub fn int_or_template(key: &str, node: &Node) -> Result<Value> {
    match &node.value {
        NodeValue::Int(i) if *i >= 0 => Ok(Value::from(*i)),
        NodeValue::String(s) if is_templated(s) => Ok(Value::String(s.clone())),
        NodeValue::String(s) if s.trim().parse::<u64>().is_ok() => {
            Ok(Value::from(s.trim().parse::<u64>().unwrap_or(0)))
        }
        _ => Err(Error::parse(
            node.loc.clone(),
            format!("'{key}' must be a whole number, got {}", describe(node)),
        )),
    }
}

/// A node shown in a message: strings quoted, others by kind.
pub fn describe(node: &Node) -> String {
    match &node.value {
        NodeValue::String(s) => format!("'{s}'"),
        NodeValue::Int(i) => i.to_string(),
        _ => node.kind_name().to_string(),
    }
}

/// A mapping, or an error saying what the object should have been.
pub fn mapping<'a>(what: &str, node: &'a Node) -> Result<&'a [(Node, Node)]> {
    node.as_map().ok_or_else(|| {
        Error::parse(
            node.loc.clone(),
            format!("{what} must be a mapping, got {}", node.kind_name()),
        )
    })
}

/// A list; null reads as empty.
pub fn sequence<'a>(key: &str, node: &'a Node) -> Result<&'a [Node]> {
    match &node.value {
        NodeValue::Null => Ok(&[]),
        NodeValue::Seq(items) => Ok(items),
        _ => Err(Error::parse(
            node.loc.clone(),
            format!("'{key}' must be a list, got {}", node.kind_name()),
        )
        .with_hint(format!(
            "write each entry of '{key}' on its own line starting with '- '"
        ))),
    }
}

/// A condition or templated expression with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub expr: String,
    pub loc: crate::location::Location,
}
