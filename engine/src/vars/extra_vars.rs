//! `-e` / `--extra-vars`: `k=v` pairs, inline YAML/JSON, or `@file`, as ansible-playbook reads them.

use super::VarMap;
use crate::error::{Error, Result};
use crate::yaml;
use std::path::Path;

/// Parses one `-e` value.
pub fn parse_extra_vars(arg: &str) -> Result<VarMap> {
    let arg = arg.trim();
    if let Some(file) = arg.strip_prefix('@') {
        let path = Path::new(file);
        let docs = yaml::load_file(path)?;
        return mapping_of(docs, path, &format!("extra vars file '{file}'"));
    }
    if arg.starts_with('{') || arg.starts_with('[') {
        let docs = yaml::load_str(arg, Path::new("<extra vars>"))?;
        return mapping_of(docs, Path::new("<extra vars>"), "inline extra vars");
    }
    if (arg.starts_with('/') || arg.starts_with('.')) && !arg.contains('=') {
        return Err(Error::options(format!(
            "Please prepend extra_vars filename '{arg}' with '@'"
        ))
        .with_hint(format!("write -e @{arg}")));
    }
    // The message names the keys but never shows the text: extra vars often carry passwords.
    crate::playbook::parse_kv(arg, false).map_err(|_| {
        let keys: Vec<&str> = arg
            .split_whitespace()
            .filter_map(|word| word.split_once('=').map(|(key, _)| key))
            .filter(|key| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        Error::options(format!(
            "invalid extra vars{}: expected key=value pairs (the values are not shown)",
            if keys.is_empty() {
                String::new()
            } else {
                format!(" for {}", keys.join(", "))
            }
        ))
        .with_hint(
            "quote a value with spaces (-e 'key=\"a b\"'), or write -e '{\"key\": \"a b\"}' or -e @file.yml",
        )
    })
}

fn mapping_of(docs: Vec<yaml::Node>, path: &Path, what: &str) -> Result<VarMap> {
    let mut vars = VarMap::new();
    for doc in docs {
        match doc.to_json() {
            serde_json::Value::Object(map) => vars.extend(map),
            serde_json::Value::Null => {}
            _ => {
                return Err(Error::parse(
                    doc.loc.clone(),
                    format!(
                        "{what} must be a mapping of names to values, got {}",
                        doc.kind_name()
                    ),
                )
                .with_hint(format!("check {}", path.display())))
            }
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vars.yml");
        std::fs::write(&file, "port: 5433\nenabled: yes\n").unwrap();
        let cases = [
            (
                "a=1 b='two words'".to_string(),
                json!({"a": "1", "b": "two words"}),
            ),
            (
                "{\"a\": 1, \"b\": [1, 2]}".to_string(),
                json!({"a": 1, "b": [1, 2]}),
            ),
            ("{a: yes}".to_string(), json!({"a": true})),
            (
                format!("@{}", file.display()),
                json!({"port": 5433, "enabled": true}),
            ),
        ];
        for (arg, expected) in cases {
            assert_eq!(
                serde_json::Value::Object(parse_extra_vars(&arg).unwrap()),
                expected,
                "{arg}"
            );
        }
    }

    #[test]
    fn explains_bad_input() {
        let error = parse_extra_vars("./vars.yml").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Please prepend extra_vars filename './vars.yml' with '@'"
        );
        assert_eq!(error.exit_code(), 5);
        assert!(parse_extra_vars("[1, 2]")
            .unwrap_err()
            .to_string()
            .contains("must be a mapping"));
    }
}
