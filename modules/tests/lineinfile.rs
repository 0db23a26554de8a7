//! lineinfile against the real local host: every case of `lineinfile-cases/cases.yaml` (whose expectations
//! come from running ansible-core's own lineinfile on the same input, see `generate.py`), in check mode,
//! for real, and once more to show what a re-run does.

mod common;

use common::Harness;
use modules::{ModuleContext, ModuleResult};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fs;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    /// The file before: its content, `null` for no file, `directory` for a directory (a plain string
    /// never says that: those are quoted in the file).
    input: Option<String>,
    /// Where the file is, relative to a scratch folder; `ALIAS:key` gives the path under that key.
    #[serde(default = "default_path")]
    path: String,
    args: Map<String, Value>,
    expect: Expect,
}

fn default_path() -> String {
    "file".into()
}

#[derive(Debug, Deserialize)]
struct Expect {
    failed: bool,
    changed: bool,
    msg: String,
    rc: Option<i64>,
    found: Option<i64>,
    #[serde(default)]
    warnings: Vec<String>,
    /// The file after the first run; `null` when there is no file.
    content: Option<String>,
    /// Whether Ansible changes the file again on a second run (a few inputs are not idempotent in
    /// Ansible itself, and ply does what Ansible does).
    rerun_changed: Option<bool>,
    /// For a missing file in a missing folder: whether the folder is there after the run.
    folder_made: Option<bool>,
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lineinfile-cases/cases.yaml");
    serde_yaml::from_str(&fs::read_to_string(path).expect("cases.yaml")).expect("cases parse")
}

/// Sets a case up in `dir`; returns the file's path and the task's arguments.
fn setup(case: &Case, dir: &Path) -> (String, Map<String, Value>) {
    let (key, rel) = match case.path.strip_prefix("ALIAS:") {
        Some(key) => (key, "file"),
        None => ("path", case.path.as_str()),
    };
    let path = dir.join(rel);
    match case.input.as_deref() {
        None => {}
        Some("directory") => fs::create_dir_all(&path).unwrap(),
        Some(content) => fs::write(&path, content).unwrap(),
    }
    let path = path.display().to_string();
    let mut args = case.args.clone();
    args.insert(key.into(), json!(path));
    (path, args)
}

async fn run(args: &Map<String, Value>, check_mode: bool) -> ModuleResult {
    let h = Harness::new();
    let base = h.ctx();
    let ctx = ModuleContext {
        check_mode,
        diff_mode: true,
        ..base
    };
    modules::execute("lineinfile", args, &ctx).await
}

fn read(path: &str) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8(b).expect("utf-8"))
}

/// The result matches what Ansible reported, `{path}` standing for the file.
fn check_result(case: &Case, path: &str, r: &ModuleResult, how: &str) -> Result<(), String> {
    let e = &case.expect;
    let msg = e.msg.replace("{path}", path);
    let mut problems = Vec::new();
    if r.failed != e.failed {
        problems.push(format!("failed {} != {}", r.failed, e.failed));
    }
    if r.changed != e.changed {
        problems.push(format!("changed {} != {}", r.changed, e.changed));
    }
    if r.msg.as_deref().unwrap_or_default() != msg {
        problems.push(format!("msg {:?} != {msg:?}", r.msg));
    }
    if r.values.get("rc").and_then(Value::as_i64) != e.rc {
        problems.push(format!("rc {:?} != {:?}", r.values.get("rc"), e.rc));
    }
    if r.values.get("found").and_then(Value::as_i64) != e.found {
        problems.push(format!(
            "found {:?} != {:?}",
            r.values.get("found"),
            e.found
        ));
    }
    if r.warnings != e.warnings {
        problems.push(format!("warnings {:?} != {:?}", r.warnings, e.warnings));
    }
    if !e.failed && e.msg != "file not present" && r.values.get("backup") != Some(&json!("")) {
        problems.push(format!("backup {:?}", r.values.get("backup")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} ({how}): {}", case.name, problems.join("; ")))
    }
}

async fn run_case(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let (path, args) = setup(case, dir.path());
    let before = read(&path);
    let fail = |what: String| Err(format!("{}: {what}", case.name));

    // Check mode predicts the result and touches nothing (not even the parent folders of a new file).
    let predicted = run(&args, true).await;
    check_result(case, &path, &predicted, "check mode")?;
    if read(&path) != before {
        return fail("check mode changed the file".into());
    }
    if before.is_none()
        && case.path.contains('/')
        && Path::new(&path).parent().is_some_and(Path::exists)
    {
        return fail("check mode created the parent folders".into());
    }

    let done = run(&args, false).await;
    check_result(case, &path, &done, "run")?;
    let after = read(&path);
    if case.input.as_deref() != Some("directory") && after != case.expect.content {
        return fail(format!("content {after:?} != {:?}", case.expect.content));
    }
    if let Some(made) = case.expect.folder_made {
        if Path::new(&path).parent().is_some_and(Path::exists) != made {
            return fail(format!("folder made: expected {made}"));
        }
    }
    // The diff of both runs shows the file before and after.
    for (r, how) in [(&predicted, "check mode"), (&done, "run")] {
        if case.expect.failed || case.expect.msg == "file not present" {
            continue;
        }
        let Some(d) = r.diff.first() else {
            return fail(format!("no diff in {how}"));
        };
        let header = format!("{path} (content)");
        if d.before_header != header || d.after_header != header {
            return fail(format!("diff headers {d:?}"));
        }
        if d.before != before.as_deref().unwrap_or_default()
            || d.after != after.as_deref().unwrap_or_default()
        {
            return fail(format!("{how} diff {d:?}"));
        }
    }

    if let Some(rerun_changed) = case.expect.rerun_changed {
        let again = run(&args, false).await;
        if again.changed != rerun_changed || again.failed {
            return fail(format!(
                "re-run changed={} failed={}",
                again.changed, again.failed
            ));
        }
        if !rerun_changed && read(&path) != after {
            return fail("an unchanged re-run rewrote the file".into());
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_case_behaves_as_ansible() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(case).await {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Messages checked against ansible-core 2.17 by hand (`ansible localhost -m lineinfile -a ...`).
#[tokio::test]
async fn attributes_join_the_message() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, "a\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let path = file.display().to_string();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;

    let args = |v: Value| v.as_object().unwrap().clone();
    let r = run(
        &args(json!({"path": path, "line": "a", "mode": "0600"})),
        true,
    )
    .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert!(r.changed);
    assert_eq!(mode(&file), 0o644, "check mode changed the mode");
    assert_eq!(r.diff[1].before_header, format!("{path} (file attributes)"));
    let r = run(
        &args(json!({"path": path, "line": "a", "mode": "0600"})),
        false,
    )
    .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert_eq!(mode(&file), 0o600);
    let r = run(
        &args(json!({"path": path, "line": "a", "mode": "0600"})),
        false,
    )
    .await;
    assert!(!r.changed, "{r:?}");

    let r = run(
        &args(json!({"path": path, "line": "b", "mode": "0640"})),
        false,
    )
    .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("line added and ownership, perms or SE linux context changed")
    );
    assert_eq!(
        (mode(&file), read(&path).unwrap().as_str()),
        (0o640, "a\nb\n")
    );

    let new = dir.path().join("new");
    let new_path = new.display().to_string();
    let r = run(
        &args(json!({"path": new_path, "line": "b", "mode": "0600", "create": true})),
        false,
    )
    .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("line added and ownership, perms or SE linux context changed")
    );
    assert_eq!(mode(&new), 0o600);
}

#[tokio::test]
async fn validate_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, "a\n").unwrap();
    let path = file.display().to_string();
    let args = |v: Value| v.as_object().unwrap().clone();

    let r = run(
        &args(json!({"path": path, "line": "c", "validate": "false %s"})),
        false,
    )
    .await;
    assert!(r.failed);
    assert_eq!(r.msg.as_deref(), Some("failed to validate: rc:1 error:"));
    assert_eq!(read(&path).as_deref(), Some("a\n"));
    let r = run(
        &args(json!({"path": path, "line": "c", "validate": "true"})),
        false,
    )
    .await;
    assert_eq!(r.msg.as_deref(), Some("validate must contain %s: true"));
    // The validator sees the new content.
    let r = run(
        &args(json!({"path": path, "line": "c", "validate": "grep -qx c %s"})),
        false,
    )
    .await;
    assert!(r.changed && !r.failed, "{r:?}");

    let r = run(
        &args(json!({"path": path, "line": "d", "backup": true})),
        false,
    )
    .await;
    let backup = r.values["backup"].as_str().unwrap().to_string();
    assert!(
        backup.starts_with(&format!("{path}.")) && backup.ends_with('~'),
        "{backup}"
    );
    assert_eq!(read(&backup).as_deref(), Some("a\nc\n"));
    assert_eq!(read(&path).as_deref(), Some("a\nc\nd\n"));
    // Nothing to change: no backup.
    let r = run(
        &args(json!({"path": path, "line": "d", "backup": true})),
        false,
    )
    .await;
    assert_eq!(r.values["backup"], json!(""));
}

#[tokio::test]
async fn unknown_arguments_list_what_ansible_supports() {
    let r = Harness::new()
        .run(
            "lineinfile",
            json!({"path": "/nonexistent", "line": "a", "foo": 1}),
        )
        .await;
    assert_eq!(
        r.msg.as_deref(),
        Some(
            "Unsupported parameters for (lineinfile) module: foo. Supported parameters include: attributes, \
             backrefs, backup, create, firstmatch, group, insertafter, insertbefore, line, mode, owner, path, \
             regexp, search_string, selevel, serole, setype, seuser, state, unsafe_writes, validate (attr, \
             dest, destfile, name, regex, value)."
        )
    );
}
