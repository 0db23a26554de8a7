//! Data-driven inventory tests: every directory under `tests/inventory-data/` holds an inventory source
//! (`hosts`, `hosts.*` or an `inventory/` directory) with its `group_vars/`/`host_vars/`, next to what
//! `ansible-inventory` prints for it (`<case>.list.json`, `<case>.graph.txt`) and pattern cases
//! (`patterns.json`: `[{"pattern", "limit"?, "hosts", "warnings"?}]`).
//!
//! `PLY_BLESS=1` rewrites the expected files from the current output (review the diff before committing).

use engine::inventory::{to_python_json, Inventory};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventory-data")
}

fn source_of(case: &Path) -> PathBuf {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name == "inventory" || name == "hosts" || name.starts_with("hosts.")
        })
        .unwrap_or_else(|| panic!("{} has no hosts/inventory source", case.display()))
}

fn check_text(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("PLY_BLESS").is_some() {
        std::fs::write(expected_path, format!("{actual}\n")).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    if expected.trim_end() != actual.trim_end() {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}\n",
            expected_path.display()
        ));
    }
}

#[test]
fn inventory_cases() {
    let mut failures = Vec::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3);
    for case in cases.into_iter().filter(|c| c.is_dir()) {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let source = source_of(&case);
        let inventory = Inventory::load(&[source.display().to_string()])
            .unwrap_or_else(|e| panic!("{name}: {} at {:?}", e, e.location()));

        check_text(
            &case.join(format!("{name}.list.json")),
            &to_python_json(&inventory.list_json()),
            &mut failures,
        );
        check_text(
            &case.join(format!("{name}.graph.txt")),
            &inventory.graph(None).unwrap(),
            &mut failures,
        );

        let patterns_file = case.join("patterns.json");
        if patterns_file.exists() {
            let cases: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&patterns_file).unwrap()).unwrap();
            for item in cases {
                let pattern = item["pattern"].as_str().unwrap();
                let limit = item.get("limit").and_then(Value::as_str);
                let got = inventory
                    .hosts_matching_limited(pattern, limit, &case)
                    .unwrap();
                let expected_hosts: Vec<String> =
                    serde_json::from_value(item["hosts"].clone()).unwrap();
                let expected_warnings: Vec<String> = item
                    .get("warnings")
                    .map(|w| serde_json::from_value(w.clone()).unwrap())
                    .unwrap_or_default();
                if got.hosts != expected_hosts || got.warnings != expected_warnings {
                    failures.push(format!(
                        "{name}: pattern {pattern:?} limit {limit:?}: expected {expected_hosts:?} {expected_warnings:?}, \
                         got {:?} {:?}",
                        got.hosts, got.warnings
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn magic_group_vars() {
    let inventory =
        Inventory::load(&[data_dir().join("yaml_app/hosts.yml").display().to_string()]).unwrap();
    assert_eq!(inventory.group_names("app2"), ["app", "cache", "east"]);
    assert_eq!(inventory.group_names("bastion"), ["ungrouped"]);
    assert_eq!(inventory.group_names("localhost"), Vec::<String>::new());
    let groups = Value::Object(inventory.groups_map());
    assert_eq!(
        groups,
        serde_json::json!({
            "all": ["bastion", "app1", "app2", "redis1"],
            "ungrouped": ["bastion"],
            "app": ["app1", "app2"],
            "cache": ["app2", "redis1"],
            "east": ["app1", "app2"],
        })
    );
    assert_eq!(
        inventory.hosts().collect::<Vec<_>>(),
        ["bastion", "app1", "app2", "redis1"]
    );
}

#[test]
fn implicit_localhost() {
    let inventory =
        Inventory::load(&[data_dir().join("yaml_app/hosts.yml").display().to_string()]).unwrap();
    assert!(inventory.is_implicit_localhost("localhost"));
    let vars = inventory.host_vars("localhost");
    assert_eq!(vars["ansible_connection"], "local");
    assert_eq!(vars["ntp"], "pool.ntp.org");
    assert!(!inventory
        .hosts_matching("all")
        .unwrap()
        .hosts
        .contains(&"localhost".to_string()));
    assert_eq!(
        inventory.hosts_matching("127.0.0.1").unwrap().hosts,
        ["127.0.0.1"]
    );
}

#[test]
fn host_list_and_host_json() {
    let inventory = Inventory::load(&["web1,web2:2222, 10.0.0.9,".to_string()]).unwrap();
    assert_eq!(
        inventory.hosts().collect::<Vec<_>>(),
        ["web1", "web2", "10.0.0.9"]
    );
    assert_eq!(
        inventory.host_json("web2").unwrap(),
        serde_json::json!({"ansible_port": 2222})
    );
    assert_eq!(inventory.group_names("web1"), ["ungrouped"]);
    assert_eq!(
        inventory.host_json("nope").unwrap_err().to_string(),
        "You must pass a single valid host to --host parameter"
    );
    assert_eq!(
        inventory.graph(Some("nope")).unwrap_err().to_string(),
        "Pattern must be valid group name when using --graph"
    );
}

#[test]
fn missing_source_is_a_warning() {
    let inventory = Inventory::load(&["/nonexistent/ply/hosts".to_string()]).unwrap();
    assert_eq!(
        inventory.warnings(),
        [
            "Unable to parse /nonexistent/ply/hosts as an inventory source",
            "No inventory was parsed, only implicit localhost is available",
            "provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'"
        ]
    );
    // Ansible says nothing about its default source being absent.
    let default = Inventory::load(&["/etc/ansible/hosts".to_string()]).unwrap();
    if !std::path::Path::new("/etc/ansible/hosts").exists() {
        assert!(!default.warnings()[0].starts_with("Unable to parse"));
    }
    assert_eq!(
        inventory.hosts_matching("localhost").unwrap().hosts,
        ["localhost"]
    );
}

#[test]
fn ini_errors_point_at_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("hosts.ini");
    std::fs::write(&path, "[web]\nweb1\nweb2 port\n").unwrap();
    let err = Inventory::load(&[path.display().to_string()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Expected key=value host variable assignment, got: port"
    );
    let loc = err.location().unwrap();
    assert_eq!((loc.path(), loc.line, loc.column), (path.as_path(), 3, 6));
}
