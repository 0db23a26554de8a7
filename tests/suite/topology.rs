//! Who is primary, decided from the nodes (the replication role's tasks/topology.yml), for node states
//! that are hard or slow to make on real servers: split brain, a fenced node started by hand, a
//! primary behind a standby, mixed and unsupported majors, image copies. Data-driven: each
//! `tests/topology/cases/*.yml` holds the nodes' states (the facts state.yml reads) beside what the
//! topology must be, or the refusal it must print. Hermetic: tests/topology/drive.yml sets the facts
//! and runs the role's tasks on the controller (no host is reached).

use ply_tests::{tests_dir, workspace_root, Ply};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// The topology drive.yml printed (`TOPOLOGY {json}` in a debug message).
fn printed_topology(stdout: &str) -> Option<Value> {
    let line = stdout
        .lines()
        .find(|l| l.contains("\"msg\": \"TOPOLOGY "))?;
    let quoted = line.trim().strip_prefix("\"msg\": ")?;
    let message: String = serde_json::from_str(quoted).ok()?;
    serde_json::from_str(message.strip_prefix("TOPOLOGY ")?).ok()
}

fn hosts(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(path: &Path) -> Result<(), String> {
    let case: Value = serde_yaml::from_str(&fs::read_to_string(path).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let expect = &case["expect"];
    let dir = tests_dir().join("topology");
    let outcome = Ply::new()
        .args(["run", "drive.yml", "-i", "inventory.ini", "-e"])
        .arg(format!("case_file={}", path.display()))
        .env(
            "ANSIBLE_ROLES_PATH",
            &workspace_root()
                .join("playbooks/roles")
                .display()
                .to_string(),
        )
        .current_dir(&dir)
        .run();
    let context = || {
        format!(
            "{}\n{}\n{}",
            outcome.invocation, outcome.stdout, outcome.stderr
        )
    };
    if let Some(refused) = expect.get("refused") {
        if outcome.code != Some(2) {
            return Err(format!("expected a refusal (exit 2): {}", context()));
        }
        for text in hosts(refused) {
            if !outcome.stdout.contains(&text) {
                return Err(format!("the refusal lacks {text:?}: {}", context()));
            }
        }
        return Ok(());
    }
    if outcome.code != Some(0) {
        return Err(format!("exit {:?}: {}", outcome.code, context()));
    }
    let topology = printed_topology(&outcome.stdout)
        .ok_or_else(|| format!("no topology printed: {}", context()))?;
    for key in ["primary", "writable", "foreign", "fenced", "unreached"] {
        let Some(want) = expect.get(key) else {
            continue;
        };
        let got = &topology[key];
        let same = match want {
            Value::String(_) => got == want,
            _ => hosts(got) == hosts(want),
        };
        if !same {
            return Err(format!(
                "{key}: {got} where the case expects {want}: {}",
                context()
            ));
        }
    }
    for text in hosts(expect.get("problems").unwrap_or(&Value::Null)) {
        if !hosts(&topology["problems"])
            .iter()
            .any(|p| p.contains(&text))
        {
            return Err(format!("no problem mentions {text:?}: {}", context()));
        }
    }
    Ok(())
}

#[test]
fn every_case() {
    let mut cases: Vec<_> = fs::read_dir(tests_dir().join("topology/cases"))
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "the cases are missing");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run_case(case)
                .err()
                .map(|e| format!("== {}\n{e}", case.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
