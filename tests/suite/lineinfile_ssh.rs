//! The lineinfile table (`modules/tests/lineinfile-cases/cases.yaml`, expectations from ansible-core's own
//! module) run by the `ply` binary: over SSH to the loopback sshd, where the tasks run as the test user, and
//! over the local connection. Each transport runs the whole table three times: in check mode (which must
//! predict every result and change no file), for real, and again (which changes only what Ansible's
//! re-run changes). The SSH transport needs the throwaway sshd (root) and is built only with
//! `--features system-tests`; the local one runs with plain `cargo test`.

#[cfg(feature = "system-tests")]
use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::{workspace_root, Ply};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn cases() -> Vec<Value> {
    let path = workspace_root().join("modules/tests/lineinfile-cases/cases.yaml");
    let text = fs::read_to_string(path).expect("cases.yaml");
    let cases: Value = serde_yaml::from_str(&text).expect("cases parse");
    cases.as_array().expect("a list").clone()
}

/// One case in its own scratch folder, writable by the SSH test user (tasks over SSH run as that user).
struct Placed {
    path: String,
    before: Option<Vec<u8>>,
}

fn place(root: &Path, i: usize, case: &Value) -> (Placed, Value) {
    let dir = root.join(i.to_string());
    fs::create_dir(&dir).expect("case dir");
    // Not sticky: the test user replaces files this process made, by renaming over them.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    let rel = case["path"].as_str().unwrap_or("file");
    let (key, rel) = match rel.strip_prefix("ALIAS:") {
        Some(key) => (key, "file"),
        None => ("path", rel),
    };
    let file: PathBuf = dir.join(rel);
    match &case["input"] {
        Value::Null => {}
        Value::String(s) if s == "directory" => fs::create_dir(&file).expect("dir"),
        Value::String(s) => {
            fs::write(&file, s).expect("input");
            fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).expect("chmod");
        }
        other => panic!("bad input {other}"),
    }
    let path = file.display().to_string();
    let mut args = case["args"].as_object().expect("args").clone();
    args.insert(key.into(), json!(path));
    let task = json!({"name": format!("case {i}"), "lineinfile": args, "ignore_errors": true});
    let before = fs::read(&file).ok();
    (Placed { path, before }, task)
}

/// The `host_result` events of a `--output json` run, in task order.
fn results(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "host_result")
        .collect()
}

fn compare(case: &Value, placed: &Placed, event: &Value, how: &str) -> Option<String> {
    let e = &case["expect"];
    let r = &event["result"];
    let name = case["name"].as_str().unwrap_or_default();
    let msg = e["msg"]
        .as_str()
        .unwrap_or_default()
        .replace("{path}", &placed.path);
    let failed = event["status"] == "failed";
    let changed = r["changed"].as_bool().unwrap_or(false);
    let mut problems = Vec::new();
    if failed != e["failed"].as_bool().unwrap_or(false) {
        problems.push(format!("status {}", event["status"]));
    }
    if changed != e["changed"].as_bool().unwrap_or(false) {
        problems.push(format!("changed {changed}"));
    }
    if r["msg"].as_str().unwrap_or_default() != msg {
        problems.push(format!("msg {} != {msg:?}", r["msg"]));
    }
    for key in ["rc", "found"] {
        if r.get(key) != e.get(key) {
            problems.push(format!("{key} {:?} != {:?}", r.get(key), e.get(key)));
        }
    }
    let warnings = r.get("warnings").cloned().unwrap_or(json!([]));
    if warnings != *e.get("warnings").unwrap_or(&json!([])) {
        problems.push(format!("warnings {warnings}"));
    }
    (!problems.is_empty()).then(|| format!("{name} ({how}): {}", problems.join("; ")))
}

fn run_table(inventory_host: &str) {
    let cases = cases();
    let root = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let mut placed = Vec::new();
    let mut tasks = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (p, task) = place(root.path(), i, case);
        placed.push(p);
        tasks.push(task);
    }
    let play = json!([{"hosts": "target", "gather_facts": false, "tasks": tasks}]);
    fs::write(root.path().join("site.yml"), play.to_string()).expect("playbook");
    fs::write(
        root.path().join("inventory.ini"),
        format!("{inventory_host}\n"),
    )
    .expect("inventory");
    let home = root.path().display().to_string();
    let ply = |extra: &[&str]| {
        Ply::new()
            .args([
                "run",
                "site.yml",
                "-i",
                "inventory.ini",
                "--output",
                "json",
                "--diff",
            ])
            .args(extra)
            .env("HOME", &home)
            .current_dir(root.path())
            .run()
    };
    let mut failures = Vec::new();

    // Check mode: the same results, and no file touched.
    let check = ply(&["--check"]);
    let events = results(&check.stdout);
    assert_eq!(events.len(), cases.len(), "{}", check.stderr);
    for ((case, p), event) in cases.iter().zip(&placed).zip(&events) {
        failures.extend(compare(case, p, event, "check mode"));
        if fs::read(&p.path).ok() != p.before {
            failures.push(format!("{}: check mode changed the file", case["name"]));
        }
    }

    let real = ply(&[]);
    let events = results(&real.stdout);
    assert_eq!(events.len(), cases.len(), "{}", real.stderr);
    for ((case, p), event) in cases.iter().zip(&placed).zip(&events) {
        failures.extend(compare(case, p, event, "run"));
        if case["input"] == "directory" {
            continue;
        }
        let after = fs::read(&p.path)
            .ok()
            .map(|b| String::from_utf8(b).expect("utf-8"));
        if after.as_deref() != case["expect"]["content"].as_str() {
            failures.push(format!("{}: content {after:?}", case["name"]));
        }
    }

    let again = ply(&[]);
    let events = results(&again.stdout);
    assert_eq!(events.len(), cases.len(), "{}", again.stderr);
    for (case, event) in cases.iter().zip(&events) {
        if let Some(rerun) = case["expect"]["rerun_changed"].as_bool() {
            if event["result"]["changed"].as_bool() != Some(rerun) || event["status"] == "failed" {
                failures.push(format!("{}: re-run {}", case["name"], event["result"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[cfg(feature = "system-tests")]
#[test]
fn lineinfile_table_over_ssh() {
    let sshd = Sshd::start();
    run_table(&format!(
        "target ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}",
        sshd.address(),
        sshd.port(),
        sshd.user(),
        sshd.key(KeyKind::Ed25519).display()
    ));
}

#[test]
fn lineinfile_table_over_the_local_connection() {
    run_table("target ansible_connection=local");
}
