//! Real playbooks run by the `ply` binary, in a scratch copy of each case, over each transport: the local
//! connection, and SSH to a throwaway sshd on loopback (the same cases, the same golden output).
//!
//! Each folder of `tests/runs/` is a case: `site.yml`, and for each variant `NAME` an optional
//! `args-NAME` (extra options, one per line), `exit-NAME` (expected exit code, default 0) and
//! `expected-NAME.txt` (the human output, golden). The default variant has no suffix. Set
//! `PLY_BLESS=1` to write missing or changed golden files, then review them.
//!
//! The golden runs need root (the become case runs tasks as another user through sudo; SSH needs the
//! throwaway sshd) and are built only with `--features system-tests`; the other checks run with plain
//! `cargo test`.

use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::{tests_dir, Outcome, Ply};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How the run's hosts are reached. Only the golden runs (`--features system-tests`) use SSH.
#[cfg_attr(not(feature = "system-tests"), allow(dead_code))]
enum Transport<'a> {
    Local,
    Ssh(&'a Sshd),
}

impl Transport<'_> {
    /// The shared inventory, with the hosts that run on this machine reached the transport's way.
    fn inventory(&self) -> String {
        let text = fs::read_to_string(tests_dir().join("runs/inventory.ini")).expect("inventory");
        match self {
            Transport::Local => text,
            Transport::Ssh(sshd) => {
                let over_ssh = format!(
                    "ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}",
                    sshd.address(),
                    sshd.port(),
                    sshd.user(),
                    sshd.key(KeyKind::Ed25519).display()
                );
                text.replace("ansible_connection=local", &over_ssh)
            }
        }
    }

    #[cfg(feature = "system-tests")]
    fn name(&self) -> &'static str {
        match self {
            Transport::Local => "local",
            Transport::Ssh(_) => "ssh",
        }
    }
}

/// A scratch copy of a case beside the inventory, so runs never write into the tree. The scratch root is
/// also the run's HOME, so host keys that accept-new learns land there, not in the real ~/.ssh.
struct Scratch {
    _root: tempfile::TempDir,
    case: PathBuf,
}

fn scratch(case: &str) -> Scratch {
    scratch_for(case, &Transport::Local)
}

fn scratch_for(case: &str, transport: &Transport<'_>) -> Scratch {
    let root = tempfile::tempdir().expect("temp dir");
    // Over SSH the tasks run as the test user on this same machine, so it must reach the scratch copy.
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o1777)).expect("chmod scratch");
    fs::write(root.path().join("inventory.ini"), transport.inventory()).expect("write inventory");
    let case_dir = root.path().join(case);
    copy_dir(&tests_dir().join("runs").join(case), &case_dir);
    fs::set_permissions(&case_dir, fs::Permissions::from_mode(0o1777)).expect("chmod case");
    Scratch {
        case: case_dir,
        _root: root,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy file");
        }
    }
}

fn run(scratch: &Scratch, extra: &[&str]) -> Outcome {
    let home = scratch.case.parent().expect("root").display().to_string();
    Ply::new()
        .args(["run", "site.yml", "-i", "../inventory.ini"])
        .args(extra)
        .env("HOME", &home)
        .current_dir(&scratch.case)
        .run()
}

/// Output with what varies run to run replaced: the scratch folder, clock times and durations. The
/// timing summary keeps its task names, sorted, since equal-looking times sort differently each run.
#[cfg(feature = "system-tests")]
fn normalized(text: &str, scratch: &Scratch) -> String {
    let root = scratch.case.parent().expect("root").display().to_string();
    let canonical = fs::canonicalize(scratch.case.parent().expect("root"))
        .expect("canonical")
        .display()
        .to_string();
    let text = text
        .replace(&canonical, "<scratch>")
        .replace(&root, "<scratch>");
    let times = regex::Regex::new(r#""(start|end)": "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+""#)
        .expect("regex");
    let text = times.replace_all(&text, "\"$1\": \"<time>\"");
    let delta = regex::Regex::new(r#""delta": "\d+:\d\d:\d\d\.\d+""#).expect("regex");
    let text = delta
        .replace_all(&text, "\"delta\": \"<delta>\"")
        .into_owned();
    let timing_line = regex::Regex::new(r"^(.*?) -+ \d+\.\d+s$").expect("regex");
    let mut lines: Vec<String> = Vec::new();
    let mut timings: Vec<String> = Vec::new();
    for line in text.lines() {
        match timing_line.captures(line) {
            Some(captures) => timings.push(format!("{} --- <seconds>", &captures[1])),
            None => {
                if !timings.is_empty() {
                    timings.sort();
                    lines.append(&mut timings);
                }
                lines.push(line.to_string());
            }
        }
    }
    timings.sort();
    lines.append(&mut timings);
    let mut joined = lines.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

#[cfg(feature = "system-tests")]
#[test]
fn golden_runs_local() {
    golden_runs(&Transport::Local);
}

#[cfg(feature = "system-tests")]
#[test]
fn golden_runs_over_ssh() {
    let sshd = Sshd::start();
    golden_runs(&Transport::Ssh(&sshd));
}

#[cfg(feature = "system-tests")]
fn golden_runs(transport: &Transport<'_>) {
    let runs = tests_dir().join("runs");
    let mut cases: Vec<String> = fs::read_dir(&runs)
        .expect("runs folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("site.yml").is_file())
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    cases.sort();
    let bless = std::env::var_os("PLY_BLESS").is_some();
    let mut mismatches = Vec::new();
    for case in &cases {
        let dir = runs.join(case);
        let mut variants = vec![String::new()];
        for entry in fs::read_dir(&dir).expect("case dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if let Some(variant) = name.strip_prefix("args-") {
                variants.push(format!("-{variant}"));
            }
        }
        for variant in variants {
            let args: Vec<String> = fs::read_to_string(dir.join(format!("args{variant}")))
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            let expected_exit: i32 = fs::read_to_string(dir.join(format!("exit{variant}")))
                .map_or(0, |s| s.trim().parse().expect("exit code"));
            let scratch = scratch_for(case, transport);
            let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let outcome = run(&scratch, &arg_refs);
            let output = normalized(&outcome.stdout, &scratch);
            let golden = dir.join(format!("expected{variant}.txt"));
            let expected = fs::read_to_string(&golden).ok();
            if outcome.code != Some(expected_exit) {
                mismatches.push(format!(
                    "{case}{variant}: exit {:?}, expected {expected_exit}\n{}\n{}",
                    outcome.code, output, outcome.stderr
                ));
            }
            if expected.as_deref() != Some(output.as_str()) {
                if bless {
                    fs::write(&golden, &output).expect("write golden");
                } else {
                    mismatches.push(format!("{case}{variant} ({}): output differs from {}\n--- got:\n{output}\n--- expected:\n{}", transport.name(), golden.display(), expected.unwrap_or_default()));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn json_events_describe_the_run() {
    let scratch = scratch("basics");
    let outcome = run(&scratch, &["--output", "json"]).success();
    let events: Vec<serde_json::Value> = outcome
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("event kind"))
        .collect();
    assert_eq!(kinds.first(), Some(&"playbook_start"));
    assert_eq!(kinds.last(), Some(&"recap"));
    assert!(
        kinds.contains(&"play_start")
            && kinds.contains(&"task_start")
            && kinds.contains(&"host_result")
    );
    let command = events
        .iter()
        .find(|e| {
            e["event"] == "host_result"
                && e["result"]["cmd"] == serde_json::json!(["echo", "one", "two"])
        })
        .expect("the command's result");
    assert_eq!(command["status"], "changed");
    assert!(command["duration"].as_f64().expect("duration") >= 0.0);
    let recap = events.last().expect("recap");
    assert_eq!(recap["stats"][0][0], "web1");
    assert_eq!(recap["stats"][0][1]["ignored"], 1);
}

#[test]
fn no_log_hides_secrets_everywhere() {
    for (format, verbosity) in [
        ("human", "-v"),
        ("human", "-vvvv"),
        ("json", "-v"),
        ("json", "-vvvv"),
    ] {
        let scratch = scratch("no_log");
        let outcome = run(&scratch, &["--output", format, verbosity, "--diff"]).success();
        assert!(
            !outcome.stdout.contains("hunter2"),
            "{format} output leaks the secret:\n{}",
            outcome.stdout
        );
        assert!(
            !outcome.stderr.contains("hunter2"),
            "{format} stderr leaks the secret:\n{}",
            outcome.stderr
        );
        assert!(
            outcome.stdout.contains("censored"),
            "{format} output says what was hidden"
        );
    }
}

#[test]
fn check_mode_changes_nothing() {
    let scratch = scratch("check_mode");
    run(&scratch, &["--check"]).success();
    assert!(
        !scratch.case.join("touched").exists(),
        "check mode must not run the command"
    );
    run(&scratch, &[]).success();
    assert!(scratch.case.join("touched").exists(), "a real run does");
}

#[test]
fn a_second_run_of_a_converged_playbook_changes_nothing() {
    let scratch = scratch("converged");
    let first = run(&scratch, &[]).success();
    assert!(
        first.stdout.contains("changed: [web1]")
            && first.stdout.contains("RUNNING HANDLER [marker created]"),
        "{}",
        first.stdout
    );
    let second = run(&scratch, &[]).success();
    for host in ["web1", "web2"] {
        let recap = second
            .stdout
            .lines()
            .find(|l| l.starts_with(host) && l.contains(" : ok="))
            .expect("recap line");
        assert!(
            recap.contains("changed=0 "),
            "second run changed something:\n{}",
            second.stdout
        );
    }
    assert!(
        !second.stdout.contains("RUNNING HANDLER"),
        "no handler runs when nothing changed:\n{}",
        second.stdout
    );
}

#[test]
fn exit_codes_follow_ansible_playbook() {
    let failed = run(&scratch("failures"), &["--limit", "web"]);
    assert_eq!(
        failed.code,
        Some(2),
        "a failed host gives 2:\n{}",
        failed.stdout
    );
    let unreachable = run(&scratch("failures"), &[]);
    assert_eq!(
        unreachable.code,
        Some(4),
        "an unreachable host gives 4, which wins over 2:\n{}",
        unreachable.stdout
    );
}
