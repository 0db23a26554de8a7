//! rsync and synchronize through the `ply` binary against the throwaway sshd: push from the controller,
//! host-to-host between two inventory hosts (both the loopback sshd, each with its own folder), and pull
//! back to the controller. Each step: a check run lists the changes and copies nothing, the real run
//! copies (with excludes and delete), and a second run is ok, not changed.
//!
//! The remote side runs as plyssh, so the scratch folders are 1777 and the key of the host-to-host leg is
//! a copy owned by plyssh (ssh refuses a private key others can read).

use ply_tests::sshd::{KeyKind, Sshd, ADDRESS, USER};
use ply_tests::{Outcome, Ply};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const PUSH: &str = r#"- hosts: alpha
  gather_facts: false
  tasks:
    - name: push
      rsync:
        src: src/
        dest: "{{ root }}/alpha/data"
        exclude: ["*.log"]
        delete: true
        known_hosts: "{{ kh }}"
"#;

const HOST_TO_HOST: &str = r#"- hosts: alpha
  gather_facts: false
  tasks:
    - name: host to host
      rsync:
        src: "{{ root }}/alpha/data/"
        dest: "{{ root }}/beta/data"
        dest_host: "{{ hostvars['beta']['ansible_host'] }}"
        dest_port: "{{ hostvars['beta']['ansible_port'] }}"
        ssh_user: plyssh
        private_key: "{{ leg_key }}"
        known_hosts: "{{ leg_known_hosts | default(kh) }}"
        ssh_accept_new: "{{ accept_new | default(false) }}"
        delete: true
"#;

const PULL: &str = r#"- hosts: beta
  gather_facts: false
  tasks:
    - name: pull
      ansible.posix.synchronize:
        mode: pull
        src: "{{ root }}/beta/data/"
        dest: pulled/
"#;

struct Case {
    _root: tempfile::TempDir,
    root: PathBuf,
    case: PathBuf,
    _sshd: Sshd,
}

fn open_dir(path: &Path) {
    fs::create_dir_all(path).expect("mkdir");
    fs::set_permissions(path, fs::Permissions::from_mode(0o1777)).expect("chmod");
}

fn setup() -> Case {
    let sshd = Sshd::start();
    let root_dir = tempfile::tempdir().expect("temp dir");
    let root = root_dir.path().to_path_buf();
    open_dir(&root);
    let case = root.join("case");
    for dir in ["case", "alpha", "beta"] {
        open_dir(&root.join(dir));
    }
    fs::create_dir_all(case.join("src/sub")).expect("mkdir");
    fs::write(case.join("src/a.txt"), "a\n").expect("write");
    fs::write(case.join("src/sub/b.txt"), "b\n").expect("write");
    fs::write(case.join("src/noise.log"), "excluded\n").expect("write");
    fs::write(case.join("push.yml"), PUSH).expect("write");
    fs::write(case.join("h2h.yml"), HOST_TO_HOST).expect("write");
    fs::write(case.join("pull.yml"), PULL).expect("write");

    // The host-to-host leg runs on "alpha" as plyssh: its key and known_hosts must be plyssh's.
    let leg_key = root.join("leg_key");
    fs::copy(sshd.key(KeyKind::Ed25519), &leg_key).expect("copy key");
    let status = Command::new("chown")
        .arg(format!("{USER}:"))
        .arg(&leg_key)
        .status()
        .expect("chown runs");
    assert!(status.success());
    fs::set_permissions(&leg_key, fs::Permissions::from_mode(0o600)).expect("chmod");
    let kh = root.join("known_hosts");
    fs::write(&kh, sshd.known_hosts()).expect("write known_hosts");

    let key = sshd.key(KeyKind::Ed25519);
    let port = sshd.port();
    let inventory = format!(
        "alpha ansible_host={ADDRESS} ansible_port={port} ansible_user={USER} ansible_ssh_private_key_file={key}\n\
         beta ansible_host={ADDRESS} ansible_port={port} ansible_user={USER} ansible_ssh_private_key_file={key}\n\
         \n[all:vars]\nroot={root}\nkh={kh}\nleg_key={leg}\n",
        key = key.display(),
        root = root.display(),
        kh = kh.display(),
        leg = leg_key.display(),
    );
    fs::write(case.join("inventory.ini"), inventory).expect("write");
    Case {
        _root: root_dir,
        root,
        case,
        _sshd: sshd,
    }
}

fn run(case: &Case, playbook: &str, extra: &[&str]) -> Outcome {
    Ply::new()
        .args(["run", playbook, "-i", "inventory.ini"])
        .args(extra)
        .env("HOME", &case.root.display().to_string())
        .current_dir(&case.case)
        .run()
}

fn recap(outcome: &Outcome, host: &str) -> (u32, u32) {
    let line = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with(host) && l.contains(" : ok="))
        .unwrap_or_else(|| panic!("recap line in:\n{}", outcome.stdout));
    let count = |key: &str| -> u32 {
        let at = line.find(key).expect(key) + key.len();
        line[at..]
            .split_whitespace()
            .next()
            .expect("count")
            .parse()
            .expect("number")
    };
    (count("changed="), count("failed="))
}

/// Every file below `dir` with its content, sorted.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = fs::read_dir(&at) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).expect("below").display().to_string();
                out.push((name, fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

fn expect_ok(outcome: &Outcome, what: &str) {
    assert_eq!(
        outcome.code,
        Some(0),
        "{what}:\n{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
}

/// check run (lists, copies nothing), real run (changed), second run (ok) for one playbook.
fn three_runs(case: &Case, playbook: &str, host: &str, target: &Path, listed: &str) {
    let before = tree(target);
    let check = run(case, playbook, &["--check", "--diff"]);
    expect_ok(&check, "check run");
    assert_eq!(recap(&check, host), (1, 0), "{}", check.stdout);
    assert!(
        check.stdout.contains(listed),
        "check mode lists {listed}:\n{}",
        check.stdout
    );
    assert_eq!(before, tree(target), "check mode copied something");

    let first = run(case, playbook, &[]);
    expect_ok(&first, "first run");
    assert_eq!(recap(&first, host), (1, 0), "{}", first.stdout);

    let second = run(case, playbook, &[]);
    expect_ok(&second, "second run");
    assert_eq!(
        recap(&second, host),
        (0, 0),
        "second run changed:\n{}",
        second.stdout
    );
}

fn expected_tree() -> Vec<(String, String)> {
    vec![
        ("a.txt".to_string(), "a\n".to_string()),
        ("sub/b.txt".to_string(), "b\n".to_string()),
    ]
}

#[test]
fn push_host_to_host_and_pull() {
    let case = setup();
    let alpha = case.root.join("alpha/data");
    let beta = case.root.join("beta/data");
    let pulled = case.case.join("pulled");

    three_runs(&case, "push.yml", "alpha", &alpha, "a.txt");
    assert_eq!(
        tree(&alpha),
        expected_tree(),
        "excludes keep noise.log home"
    );

    three_runs(&case, "h2h.yml", "alpha", &beta, "sub/b.txt");
    assert_eq!(tree(&beta), expected_tree());

    three_runs(&case, "pull.yml", "beta", &pulled, "a.txt");
    assert_eq!(tree(&pulled), expected_tree());

    // delete: a file only on the host goes; an excluded one stays (rsync keeps excluded files).
    fs::write(alpha.join("stale.txt"), "old\n").expect("write");
    fs::write(alpha.join("kept.log"), "mine\n").expect("write");
    let check = run(&case, "push.yml", &["--check", "--diff"]);
    expect_ok(&check, "check run with a stale file");
    assert!(check.stdout.contains("deleting"), "{}", check.stdout);
    assert!(alpha.join("stale.txt").exists(), "check mode deleted");
    let again = run(&case, "push.yml", &[]);
    expect_ok(&again, "delete run");
    assert_eq!(recap(&again, "alpha"), (1, 0), "{}", again.stdout);
    assert!(!alpha.join("stale.txt").exists());
    assert!(alpha.join("kept.log").exists());
}

#[test]
fn host_keys_are_strict_unless_accept_new() {
    let case = setup();
    let empty = case.root.join("empty_known_hosts");
    fs::write(&empty, "").expect("write");
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o666)).expect("chmod");
    fs::create_dir_all(case.root.join("alpha/data")).expect("mkdir");
    fs::write(case.root.join("alpha/data/x.txt"), "x\n").expect("write");
    open_dir(&case.root.join("alpha/data"));
    let leg = format!("leg_known_hosts={}", empty.display());

    let strict = run(&case, "h2h.yml", &["-e", &leg]);
    assert_ne!(strict.code, Some(0), "an unknown host key must fail");
    assert!(
        strict
            .stdout
            .contains("exit code 255 (The ssh connection failed)")
            && strict.stdout.contains("Host key verification failed"),
        "{}",
        strict.stdout
    );
    assert!(!case.root.join("beta/data/x.txt").exists());

    // --check with accept-new: the dry run reaches the host, and neither copies nor records its key.
    let checked = run(
        &case,
        "h2h.yml",
        &["-e", &leg, "-e", "accept_new=true", "--check"],
    );
    expect_ok(&checked, "accept-new check run");
    assert!(
        checked.stdout.contains("changed: [alpha]"),
        "{}",
        checked.stdout
    );
    assert!(!case.root.join("beta/data/x.txt").exists());
    assert_eq!(
        fs::read_to_string(&empty).expect("known_hosts"),
        "",
        "--check recorded a host key"
    );

    let accepted = run(&case, "h2h.yml", &["-e", &leg, "-e", "accept_new=true"]);
    expect_ok(&accepted, "accept-new run");
    assert_eq!(
        fs::read_to_string(case.root.join("beta/data/x.txt")).expect("copied"),
        "x\n"
    );
    // Debian's ssh_config hashes known_hosts names, so only the presence of a key line is checked.
    assert!(
        fs::read_to_string(&empty)
            .expect("known_hosts")
            .contains("ssh-"),
        "accept-new recorded the key"
    );
}

#[test]
fn rsync_errors_carry_the_exit_code_meaning() {
    let case = setup();
    fs::write(
        case.case.join("missing.yml"),
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - rsync:
        src: /nonexistent/ply-rsync-source/
        dest: "{{ root }}/alpha/never"
        known_hosts: "{{ kh }}"
"#,
    )
    .expect("write");
    let outcome = run(&case, "missing.yml", &[]);
    assert_ne!(outcome.code, Some(0));
    assert!(
        outcome
            .stdout
            .contains("exit code 23 (Partial transfer due to error)"),
        "{}",
        outcome.stdout
    );
}

const DELEGATED: &str = r#"- hosts: beta
  gather_facts: false
  tasks:
    - name: delegated
      synchronize:
        src: "{{ root }}/alpha/data/"
        dest: "{{ root }}/beta/delegated"
        private_key: "{{ leg_key }}"
        rsync_opts: ["--log-file={{ root }}/delegate.log"]
      delegate_to: alpha
"#;

/// synchronize's delegate_to form of host-to-host: rsync runs on the delegate (alpha) and pushes to the
/// task's host (beta), logging in as the delegate's ansible_user.
#[test]
fn delegated_synchronize_pushes_from_the_delegate() {
    let case = setup();
    let alpha = case.root.join("alpha/data");
    open_dir(&alpha);
    fs::create_dir_all(alpha.join("sub")).expect("mkdir");
    fs::write(alpha.join("a.txt"), "a\n").expect("write");
    fs::write(alpha.join("sub/b.txt"), "b\n").expect("write");
    fs::write(case.case.join("delegated.yml"), DELEGATED).expect("write");
    let target = case.root.join("beta/delegated");
    three_runs(&case, "delegated.yml", "beta", &target, "a.txt");
    assert_eq!(tree(&target), expected_tree());
    // The log file belongs to whoever ran rsync: plyssh on the delegate, not root on the controller.
    let log = fs::metadata(case.root.join("delegate.log")).expect("rsync log");
    assert_ne!(
        log.uid(),
        0,
        "rsync ran on the controller, not on the delegate"
    );
}

/// The replication recipe's local copy: synchronize delegated to the task's own host runs rsync there,
/// with both paths on that host.
const DELEGATED_TO_ITSELF: &str = r#"- hosts: alpha
  gather_facts: false
  tasks:
    - name: copy on the host itself
      synchronize:
        src: "{{ root }}/alpha/data/"
        dest: "{{ root }}/alpha/copy"
      delegate_to: "{{ inventory_hostname }}"
"#;

#[test]
fn synchronize_delegated_to_its_own_host_copies_on_that_host() {
    let case = setup();
    let data = case.root.join("alpha/data");
    fs::create_dir_all(&data).expect("mkdir");
    fs::write(data.join("wal.txt"), "segment\n").expect("write");
    open_dir(&data);
    fs::write(case.case.join("self.yml"), DELEGATED_TO_ITSELF).expect("write");
    let copy = case.root.join("alpha/copy");
    three_runs(&case, "self.yml", "alpha", &copy, "wal.txt");
    assert_eq!(
        tree(&copy),
        vec![("wal.txt".to_string(), "segment\n".to_string())]
    );
    // The copy was made by rsync on the host (as plyssh over SSH), not by the controller (root).
    let owner = fs::metadata(copy.join("wal.txt")).expect("copied").uid();
    let plyssh = Command::new("id").args(["-u", USER]).output().expect("id");
    assert_eq!(
        owner.to_string(),
        String::from_utf8_lossy(&plyssh.stdout).trim()
    );
}
