//! copy, template, file and stat through the `ply` binary, over the local connection and over SSH to the
//! throwaway sshd (tasks run as `plyssh` there): a check run predicts and changes nothing, the real run
//! changes, a second run and a second check run change nothing, and hostile names arrive literally.

use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::{Outcome, Ply};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  vars:
    out: "{{ playbook_dir }}/out"
    hostile: "$(touch PWNED) it's `touch PWNED2` *-n\nx"
  tasks:
    - name: folder
      file:
        path: "{{ out }}/deep/er"
        state: directory
        mode: "0755"

    - name: content
      copy:
        content: "hello\n"
        dest: "{{ out }}/content.txt"
        mode: 0640
        backup: true

    - name: tree
      copy:
        src: tree/
        dest: "{{ out }}/tree"
        directory_mode: "0750"

    - name: template
      template:
        src: motd.j2
        dest: "{{ out }}/deep/er/motd"
        mode: "u=rw,g=r,o=r"
        validate: "grep -q target %s"

    - name: owned
      copy:
        content: "mine\n"
        dest: "{{ out }}/owned"
        owner: plyssh
        group: plyssh

    - name: link
      file:
        path: "{{ out }}/link"
        src: content.txt
        state: link

    - name: hostile name
      copy:
        content: "{{ hostile }}"
        dest: "{{ out }}/{{ hostile }}"
        mode: "go-rwx"

    - name: hostile stat
      stat:
        path: "{{ out }}/{{ hostile }}"
      register: hs

    - name: stat the template
      stat:
        path: "{{ out }}/deep/er/motd"
      register: st

    - name: what stat saw
      assert:
        that:
          - st.stat.exists
          - st.stat.mode == '0644'
          - st.stat.checksum == '56c05dcfae467a2747fe1ad858787f79465b8715'
          - hs.stat.mode == '0600'
          - hs.stat.isreg
"#;

fn scratch(inventory: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    // Over SSH the tasks run as plyssh on this machine, so it must reach and write the scratch folder.
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let case = root.path().join("case");
    fs::create_dir_all(case.join("files/tree/sub")).expect("mkdir");
    fs::create_dir_all(case.join("templates")).expect("mkdir");
    fs::write(case.join("files/tree/a.txt"), "a\n").expect("write");
    fs::write(case.join("files/tree/sub/b.txt"), "b\n").expect("write");
    fs::write(
        case.join("templates/motd.j2"),
        "welcome to {{ inventory_hostname }}\n",
    )
    .expect("write");
    fs::write(case.join("site.yml"), PLAYBOOK).expect("write");
    fs::write(case.join("inventory.ini"), inventory).expect("write");
    for dir in [&case, &case.join("files"), &case.join("templates")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).expect("chmod");
    }
    (root, case)
}

fn run(case: &Path, extra: &[&str]) -> Outcome {
    let home = case.parent().expect("root").display().to_string();
    Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .args(extra)
        .env("HOME", &home)
        .current_dir(case)
        .run()
}

fn recap_changed(outcome: &Outcome) -> u32 {
    let line = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("target") && l.contains(" : ok="))
        .unwrap_or_else(|| panic!("recap line in:\n{}", outcome.stdout));
    let at = line.find("changed=").expect("changed=") + "changed=".len();
    line[at..]
        .split_whitespace()
        .next()
        .expect("count")
        .parse()
        .expect("number")
}

/// Every path below `dir` with its checksum-relevant facts: content, mode, owner, mtime.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, u32, u32, i64, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).expect("read dir") {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("meta");
            let content = if meta.is_file() {
                fs::read(&path).expect("read")
            } else {
                Vec::new()
            };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push((
                path,
                content,
                meta.mode(),
                meta.uid(),
                meta.mtime(),
                meta.mtime_nsec(),
            ));
        }
    }
    out.sort();
    out
}

fn scenario(inventory: &str) {
    let (_root, case) = scratch(inventory);
    let out = case.join("out");

    let check = run(&case, &["--check", "--diff"]);
    assert_eq!(
        check.code,
        Some(0),
        "check run:\n{}\n{}",
        check.stdout,
        check.stderr
    );
    assert!(!out.exists(), "check mode created {}", out.display());
    assert!(
        check.stdout.contains("+hello"),
        "the diff shows the content:\n{}",
        check.stdout
    );
    let before_real = snapshot(&case);

    let first = run(&case, &[]);
    assert_eq!(
        first.code,
        Some(0),
        "first run:\n{}\n{}",
        first.stdout,
        first.stderr
    );
    assert_eq!(
        recap_changed(&check),
        recap_changed(&first),
        "check predicted the real run:\n{}\n{}",
        check.stdout,
        first.stdout
    );
    assert_ne!(before_real, snapshot(&case));
    assert_eq!(
        fs::read_to_string(out.join("deep/er/motd")).expect("motd"),
        "welcome to target\n"
    );
    assert_eq!(
        fs::metadata(out.join("content.txt"))
            .expect("content")
            .mode()
            & 0o7777,
        0o640
    );
    assert_eq!(
        fs::metadata(out.join("tree/sub")).expect("sub").mode() & 0o7777,
        0o750
    );
    assert_eq!(
        fs::read_to_string(out.join("tree/sub/b.txt")).expect("b"),
        "b\n"
    );
    assert_eq!(
        fs::read_link(out.join("link")).expect("link"),
        Path::new("content.txt")
    );
    let owned = fs::metadata(out.join("owned")).expect("owned");
    let plyssh_uid = std::process::Command::new("id")
        .args(["-u", "plyssh"])
        .output()
        .expect("id");
    assert_eq!(
        owned.uid().to_string(),
        String::from_utf8_lossy(&plyssh_uid.stdout).trim()
    );
    let hostile = "$(touch PWNED) it's `touch PWNED2` *-n\nx";
    assert_eq!(
        fs::read_to_string(out.join(hostile)).expect("hostile"),
        hostile
    );
    assert!(!case.join("PWNED").exists() && !case.join("PWNED2").exists());
    assert!(!out.join("PWNED").exists());

    let settled = snapshot(&case);
    let second = run(&case, &[]);
    assert_eq!(second.code, Some(0), "second run:\n{}", second.stdout);
    assert_eq!(recap_changed(&second), 0, "second run:\n{}", second.stdout);
    let recheck = run(&case, &["--check"]);
    assert_eq!(recheck.code, Some(0), "{}", recheck.stdout);
    assert_eq!(recap_changed(&recheck), 0, "{}", recheck.stdout);
    assert_eq!(settled, snapshot(&case), "converged runs touch nothing");
}

#[test]
fn files_modules_local() {
    scenario("target ansible_connection=local\n");
}

#[test]
fn files_modules_over_ssh() {
    let sshd = Sshd::start();
    scenario(&format!(
        "target ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
        sshd.address(),
        sshd.port(),
        sshd.user(),
        sshd.key(KeyKind::Ed25519).display()
    ));
}
