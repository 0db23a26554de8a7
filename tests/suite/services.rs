//! service and wait_for through the `ply` binary against a real daemon: lighttpd, managed by its SysV
//! init script on this machine (no systemd runs here; .ci/run installs the package). The daemon is
//! stopped, and its boot links put back as they were, when the test ends, even when it fails.
//!
//! Everything runs in one test: the steps share one daemon and must not interleave.

use ply_tests::Ply;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

const INIT_SCRIPT: &str = "/etc/init.d/lighttpd";
const PID_FILE: &str = "/run/lighttpd.pid";

fn running() -> bool {
    Command::new(INIT_SCRIPT)
        .arg("status")
        .output()
        .expect("init script runs")
        .status
        .success()
}

/// Which kinds of boot links (`S` start, `K` kill) lighttpd has in `/etc/rc?.d`.
fn links() -> (bool, bool) {
    let (mut start, mut kill) = (false, false);
    for level in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        let Ok(entries) = fs::read_dir(format!("/etc/rc{level}.d")) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == "S01lighttpd".len() && name.ends_with("lighttpd") {
                start |= name.starts_with('S');
                kill |= name.starts_with('K');
            }
        }
    }
    (start, kill)
}

fn pid() -> String {
    fs::read_to_string(PID_FILE)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Stops lighttpd and puts its boot links back as they were found.
struct Restore {
    was_enabled: bool,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new(INIT_SCRIPT).arg("stop").output();
        let verb = if self.was_enabled {
            "enable"
        } else {
            "disable"
        };
        if links().0 != self.was_enabled {
            let _ = Command::new("update-rc.d")
                .args(["lighttpd", "defaults"])
                .output();
            let _ = Command::new("update-rc.d")
                .args(["lighttpd", verb])
                .output();
        }
    }
}

/// Runs one task through `ply run --output json` and returns its status and result.
fn task(dir: &Path, task: &str, extra: &[&str]) -> (String, Value) {
    let playbook = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: under test\n{}\n",
        task.lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    fs::write(dir.join("site.yml"), playbook).expect("write playbook");
    let outcome = Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini", "--output", "json"])
        .args(extra)
        .current_dir(dir)
        .run();
    let event = outcome
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "host_result")
        .unwrap_or_else(|| panic!("no result for {task}: {outcome:?}"));
    (
        event["status"].as_str().unwrap_or_default().to_string(),
        event["result"].clone(),
    )
}

#[test]
fn lighttpd_through_its_init_script() {
    assert!(
        Path::new(INIT_SCRIPT).exists(),
        "{INIT_SCRIPT} is missing: install the lighttpd package (.ci/run does)"
    );
    let _restore = Restore {
        was_enabled: links().0,
    };
    Command::new(INIT_SCRIPT)
        .arg("stop")
        .output()
        .expect("stop lighttpd");
    assert!(!running());
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("inventory.ini"),
        "localhost ansible_connection=local\n",
    )
    .expect("inventory");
    let d = dir.path();

    // started acts once, then is idempotent.
    let (status, r) = task(d, "service: name=lighttpd state=started", &[]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(r["name"], "lighttpd");
    assert_eq!(r["state"], "started");
    assert!(running());
    let (status, r) = task(d, "service: name=lighttpd state=started", &[]);
    assert_eq!(status, "ok", "{r}");
    let (status, r) = task(
        d,
        "service: name=lighttpd state=started use=sysvinit pattern=/usr/sbin/lighttpd",
        &[],
    );
    assert_eq!(status, "ok", "{r}");

    // The daemon answers on its port, as seen from the target.
    let (status, r) = task(d, "wait_for: port=80 timeout=20", &[]);
    assert_eq!(status, "ok", "{r}");
    assert_eq!(r["port"], 80);

    // restarted always acts, and gives a new process.
    let before = pid();
    let (status, r) = task(d, "service: name=lighttpd state=restarted", &[]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(r["state"], "started");
    assert!(running());
    assert_ne!(pid(), before, "restart gave the same process");

    // reloaded always acts on a running service.
    let (status, r) = task(d, "service: name=lighttpd state=reloaded", &[]);
    assert_eq!(status, "changed", "{r}");
    assert!(running());

    // Check mode predicts and changes nothing.
    let running_pid = pid();
    let (status, r) = task(d, "service: name=lighttpd state=stopped", &["--check"]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(r["msg"], "service state changed");
    assert!(running());
    assert_eq!(pid(), running_pid);

    // stopped acts once, then is idempotent, and the port closes.
    let (status, r) = task(d, "service: name=lighttpd state=stopped", &[]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(r["state"], "stopped");
    assert!(!running());
    let (status, r) = task(d, "service: name=lighttpd state=stopped", &[]);
    assert_eq!(status, "ok", "{r}");
    let (status, r) = task(d, "wait_for: port=80 state=stopped timeout=20", &[]);
    assert_eq!(status, "ok", "{r}");

    // reloaded on a stopped service starts it.
    let (status, r) = task(d, "service: name=lighttpd state=reloaded", &[]);
    assert_eq!(status, "changed", "{r}");
    assert!(running());
    let (status, _) = task(d, "service: name=lighttpd state=stopped", &[]);
    assert_eq!(status, "changed");

    // Boot links through update-rc.d.
    let (status, r) = task(d, "service: name=lighttpd enabled=false", &[]);
    assert_eq!(
        status,
        if _restore.was_enabled {
            "changed"
        } else {
            "ok"
        },
        "{r}"
    );
    assert_eq!(r["enabled"], false);
    assert_eq!(links(), (false, true), "disabled: K links only");
    let (status, r) = task(d, "service: name=lighttpd enabled=false", &[]);
    assert_eq!(status, "ok", "{r}");
    let (status, r) = task(d, "service: name=lighttpd enabled=true", &["--check"]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(links(), (false, true), "check mode left the links alone");
    let (status, r) = task(d, "service: name=lighttpd enabled=true", &[]);
    assert_eq!(status, "changed", "{r}");
    assert_eq!(r["enabled"], true);
    assert!(links().0, "enabled: S links");
    let (status, r) = task(d, "service: name=lighttpd enabled=true", &[]);
    assert_eq!(status, "ok", "{r}");
    assert!(!running(), "enabling does not start");

    // Unknown and hostile names fail with Ansible's message and run nothing.
    let marker = d.join("pwned");
    let hostile = format!("lighttpd $(touch {})", marker.display());
    let (status, r) = task(
        d,
        &format!("service:\n  name: \"{hostile}\"\n  state: started"),
        &[],
    );
    assert_eq!(status, "failed", "{r}");
    assert_eq!(
        r["msg"],
        format!("Could not find the requested service {hostile}: host")
    );
    assert!(!marker.exists(), "the name ran as a command");
    let (status, r) = task(d, "service: name=lighttpd-typo state=started", &[]);
    assert_eq!(status, "failed", "{r}");
    assert_eq!(
        r["msg"],
        "Could not find the requested service lighttpd-typo: host"
    );
}

/// systemd's `daemon_reload` and `daemon_reexec` never run in check mode, and, as in Ansible's
/// systemd_service, they are no change in either mode: the check run reports ok with an empty status.
/// No systemd runs on this machine, so the real `systemctl` refuses both verbs: the real run fails on
/// them, and the check run, which must not call them, does not. (On a machine booted with systemd this
/// test does nothing: a real daemon-reload of the test machine is not a test's to make.)
#[test]
fn systemd_daemon_reload_is_not_run_in_check_mode() {
    if Path::new("/run/systemd/system").exists() {
        eprintln!("skipped: systemd runs this machine, and its daemon-reload is not for a test");
        return;
    }
    let refused = Command::new("systemctl")
        .arg("daemon-reload")
        .output()
        .expect("systemctl runs (Debian: the systemd package)");
    assert!(
        !refused.status.success(),
        "systemctl daemon-reload works here without systemd as PID 1?"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("inventory.ini"),
        "localhost ansible_connection=local\n",
    )
    .expect("inventory");
    let d = dir.path();
    for (module, verb) in [
        ("systemd: daemon_reload=true", "daemon-reload"),
        (
            "ansible.builtin.systemd_service:\n  daemon-reload: yes",
            "daemon-reload",
        ),
        ("systemd: daemon_reexec=true", "daemon-reexec"),
    ] {
        let (status, r) = task(d, module, &["--check"]);
        assert_eq!(status, "ok", "{module} --check: {r}");
        assert_eq!(r["changed"], false, "{module} --check: {r}");
        assert_eq!(r["name"], Value::Null, "{module} --check: {r}");
        assert_eq!(r["status"], serde_json::json!({}), "{module} --check: {r}");
        let (status, r) = task(d, module, &[]);
        assert_eq!(status, "failed", "{module}: {r}");
        assert!(
            r["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("failure 1 during {verb}: "))),
            "{module}: {r}"
        );
    }
}
