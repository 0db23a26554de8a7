//! `group_vars/` and `host_vars/` directories (Ansible's `host_group_vars` vars plugin): for an entity `x`,
//! the file or directory `x` itself, otherwise the first of `x.yml`, `x.yaml`, `x.json`; a directory
//! contributes every such file inside it, recursively, in lexical order, skipping hidden and backup files.

use crate::error::{Error, Result};
use crate::yaml;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// The variables one directory gives to each group and host that has any.
#[derive(Debug, Clone, Default)]
pub struct VarsDir {
    pub root: PathBuf,
    pub groups: HashMap<String, Map<String, Value>>,
    pub hosts: HashMap<String, Map<String, Value>>,
}

impl VarsDir {
    pub fn load<'a>(
        root: &Path,
        groups: impl IntoIterator<Item = &'a str>,
        hosts: impl IntoIterator<Item = &'a str>,
        warnings: &mut Vec<String>,
    ) -> Result<VarsDir> {
        Ok(VarsDir {
            root: root.to_path_buf(),
            groups: load_entities(&root.join("group_vars"), "group_vars", groups, warnings)?,
            hosts: load_entities(&root.join("host_vars"), "host_vars", hosts, warnings)?,
        })
    }
}

fn load_entities<'a>(
    dir: &Path,
    subdir: &str,
    names: impl IntoIterator<Item = &'a str>,
    warnings: &mut Vec<String>,
) -> Result<HashMap<String, Map<String, Value>>> {
    let mut out = HashMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    if !dir.is_dir() {
        warnings.push(format!(
            "Found {subdir} that is not a directory, skipping: {}",
            dir.display()
        ));
        return Ok(out);
    }
    for name in names {
        // Names that are absolute paths ('chroot' style hosts) would escape the directory.
        if name.starts_with('/') {
            continue;
        }
        let mut vars = Map::new();
        for file in find_files(dir, name) {
            for (k, v) in load_vars_file(&file)? {
                vars.insert(k, v);
            }
        }
        if !vars.is_empty() {
            out.insert(name.to_string(), vars);
        }
    }
    Ok(out)
}

fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let exact = dir.join(name);
    if exact.is_dir() {
        return dir_files(&exact);
    }
    if exact.is_file() {
        return vec![exact];
    }
    EXTENSIONS
        .iter()
        .map(|ext| dir.join(format!("{name}{ext}")))
        .find(|p| p.is_file())
        .into_iter()
        .collect()
}

fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return Vec::new(),
    };
    names.sort();
    let mut found = Vec::new();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = Path::new(&name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        if path.is_dir() && ext.is_none() {
            found.extend(dir_files(&path));
        } else if path.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            found.push(path);
        }
    }
    found
}

/// A vars file: YAML (or JSON) holding one mapping; an empty file contributes nothing.
pub fn load_vars_file(path: &Path) -> Result<Map<String, Value>> {
    let docs = yaml::load_file(path)?;
    let doc = match docs.as_slice() {
        [] => return Ok(Map::new()),
        [doc] => doc,
        [_, second, ..] => {
            return Err(Error::parse(
                second.loc.clone(),
                "expected a single document in the stream",
            )
            .with_hint("variable files hold one YAML document; remove the extra `---`"))
        }
    };
    if doc.is_null() {
        return Ok(Map::new());
    }
    match doc.to_json() {
        Value::Object(map) => Ok(map),
        _ => Err(Error::parse(
            doc.loc.clone(),
            format!(
                "{} must contain a mapping of variable names to values, got {}",
                path.display(),
                doc.kind_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_extensions_and_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let gv = tmp.path().join("group_vars");
        std::fs::create_dir_all(gv.join("web/sub")).unwrap();
        std::fs::write(gv.join("all"), "a: 1\nb: 1\n").unwrap();
        std::fs::write(gv.join("db.yml"), "d: yml\n").unwrap();
        std::fs::write(gv.join("db.json"), "{\"d\": \"json\"}").unwrap();
        std::fs::write(gv.join("web/10.yml"), "w: first\nx: 1\n").unwrap();
        std::fs::write(gv.join("web/20.yaml"), "w: second\n").unwrap();
        std::fs::write(gv.join("web/sub/30.json"), "{\"s\": true}").unwrap();
        std::fs::write(gv.join("web/.hidden.yml"), "w: hidden\n").unwrap();
        std::fs::write(gv.join("web/old.yml~"), "w: backup\n").unwrap();
        std::fs::write(gv.join("web/notes.txt"), "w: txt\n").unwrap();
        std::fs::write(gv.join("empty.yml"), "").unwrap();
        let mut warnings = Vec::new();
        let dir = VarsDir::load(
            tmp.path(),
            ["all", "db", "web", "empty", "none"],
            [],
            &mut warnings,
        )
        .unwrap();
        assert_eq!(
            Value::Object(dir.groups["all"].clone()),
            json!({"a": 1, "b": 1})
        );
        assert_eq!(Value::Object(dir.groups["db"].clone()), json!({"d": "yml"}));
        assert_eq!(
            Value::Object(dir.groups["web"].clone()),
            json!({"w": "second", "x": 1, "s": true})
        );
        assert!(!dir.groups.contains_key("empty") && !dir.groups.contains_key("none"));
    }

    #[test]
    fn a_list_is_not_a_vars_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("host_vars")).unwrap();
        std::fs::write(tmp.path().join("host_vars/h1.yml"), "# vars\n- a\n- b\n").unwrap();
        let err = VarsDir::load(tmp.path(), [], ["h1"], &mut Vec::new()).unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
        assert!(err
            .to_string()
            .ends_with("must contain a mapping of variable names to values, got a list"));
    }
}
