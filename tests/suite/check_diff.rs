//! `--check --diff` must predict exactly what a real run then does: the same changed tasks and the same
//! diffs, while changing nothing. Later tasks in a check run see what earlier ones would have written
//! (template, then lineinfile on the rendered file, then copy), over the local connection and over SSH.
//! The SSH case needs the throwaway sshd (root) and is built only with `--features system-tests`.

#[cfg(feature = "system-tests")]
use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::{Outcome, Ply};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  vars:
    port: 5433
    settings:
      max_connections: 100
      shared_buffers: 128MB
  tasks:
    - name: Render the configuration
      template:
        src: app.conf.j2
        dest: "{{ playbook_dir }}/out/app.conf"
        mode: "0640"

    - name: Edit the rendered file
      lineinfile:
        path: "{{ playbook_dir }}/out/app.conf"
        regexp: '^port\s*='
        line: "port = {{ port }}"

    - name: Add a line after the header
      lineinfile:
        path: "{{ playbook_dir }}/out/app.conf"
        insertafter: '^# managed'
        line: "listen_addresses = '*'"

    - name: Copy a file
      copy:
        content: "hello {{ port }}\n"
        dest: "{{ playbook_dir }}/out/motd"
"#;

const TEMPLATE: &str = "# managed by ply\nport = 5432\n{% for key, value in settings.items() %}\n{{ key }} = {{ value }}\n{% endfor %}\n";

fn setup(dir: &Path, inventory_line: &str) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).expect("chmod");
    fs::write(dir.join("site.yml"), PLAYBOOK).expect("playbook");
    fs::create_dir_all(dir.join("templates")).expect("templates dir");
    fs::write(dir.join("templates/app.conf.j2"), TEMPLATE).expect("template");
    fs::create_dir_all(dir.join("out")).expect("out dir");
    fs::set_permissions(dir.join("out"), fs::Permissions::from_mode(0o1777)).expect("chmod out");
    fs::write(dir.join("inventory.ini"), format!("{inventory_line}\n")).expect("inventory");
}

fn run(dir: &Path, extra: &[&str]) -> Outcome {
    Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .args(extra)
        .env("HOME", dir.to_str().expect("utf-8"))
        .current_dir(dir)
        .run()
        .success()
}

/// Content, mode and modification time of every file under `out/`.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32, SystemTime)> {
    fs::read_dir(dir.join("out"))
        .expect("out dir")
        .map(|e| {
            let path = e.expect("entry").path();
            let meta = fs::metadata(&path).expect("metadata");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (
                name,
                (
                    fs::read(&path).expect("read"),
                    meta.permissions().mode() & 0o7777,
                    meta.modified().expect("mtime"),
                ),
            )
        })
        .collect()
}

fn check_predicts_the_real_run(dir: &Path) {
    for round in ["fresh host", "host with other content"] {
        if round == "host with other content" {
            // The files exist with other content, so every module diffs against a real file.
            fs::write(
                dir.join("out/app.conf"),
                "# managed by ply\nport = 1\nlegacy = yes\n",
            )
            .expect("rewrite");
            fs::write(dir.join("out/motd"), "old\n").expect("rewrite");
        }
        let before = snapshot(dir);
        let check = run(dir, &["--check", "--diff"]);
        assert_eq!(
            snapshot(dir),
            before,
            "{round}: --check changed files:\n{}",
            check.stdout
        );
        let real = run(dir, &["--diff"]);
        assert_eq!(
            check.stdout, real.stdout,
            "{round}: the check run's plan differs from the real run"
        );
        assert!(
            real.stdout.contains("changed: [target]"),
            "{round}: {}",
            real.stdout
        );
        // (The play re-renders the template and edits it again on every run, so it never converges by
        // design; convergence is shown by the modules' own idempotence tests.)
    }
    let config = fs::read_to_string(dir.join("out/app.conf")).expect("config");
    assert_eq!(
        config,
        "# managed by ply\nlisten_addresses = '*'\nport = 5433\nmax_connections = 100\nshared_buffers = 128MB\n"
    );
}

#[test]
fn check_diff_predicts_the_real_run_locally() {
    let dir = tempfile::tempdir().expect("temp dir");
    setup(dir.path(), "target ansible_connection=local");
    check_predicts_the_real_run(dir.path());
}

/// Tasks that create folders, files, backups and validation temp files in a real run.
const CREATING: &str = r##"- hosts: target
  gather_facts: false
  tasks:
    - name: A line in a file whose folders are missing
      lineinfile:
        path: "{{ playbook_dir }}/out/new/deeper/app.conf"
        line: "port = 5433"
        create: true

    - name: Another line in the file that only the check run's overlay holds
      lineinfile:
        path: "{{ playbook_dir }}/out/new/deeper/app.conf"
        line: "# managed"
        insertbefore: BOF
        backup: true

    - name: A line in an existing file, with a backup and validation
      lineinfile:
        path: "{{ playbook_dir }}/out/existing.conf"
        line: "added = yes"
        backup: true
        validate: "test -s %s"

    - name: A copy into a missing folder, with a backup and validation
      copy:
        src: motd
        dest: "{{ playbook_dir }}/out/copied/"
        backup: true
        validate: "test -s %s"

    - name: A copy over an existing file, with a backup
      copy:
        content: "new\n"
        dest: "{{ playbook_dir }}/out/existing.txt"
        backup: true
        validate: "test -s %s"

    - name: A folder tree
      file:
        path: "{{ playbook_dir }}/out/made/sub"
        state: directory
        mode: "0750"

    - name: A touched file
      file:
        path: "{{ playbook_dir }}/out/touched"
        state: touch

    - name: An attribute change
      file:
        path: "{{ playbook_dir }}/out/existing.txt"
        mode: "0600"

    - name: A link
      file:
        src: existing.txt
        path: "{{ playbook_dir }}/out/link"
        state: link

    - name: A file removed
      file:
        path: "{{ playbook_dir }}/out/doomed"
        state: absent

    - name: A command that would create a file
      command: touch "{{ playbook_dir }}/out/commanded"
      args:
        creates: "{{ playbook_dir }}/out/commanded"
"##;

/// Every path below `dir` with its kind, mode, content (files) or target (links) and modification time.
fn tree(dir: &Path) -> BTreeMap<String, (String, u32, Vec<u8>, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let (kind, content) = if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                ("link", target.to_string_lossy().into_owned().into_bytes())
            } else if meta.is_dir() {
                pending.push(path.clone());
                ("dir", Vec::new())
            } else {
                ("file", fs::read(&path).expect("read"))
            };
            let name = path
                .strip_prefix(dir)
                .expect("below dir")
                .display()
                .to_string();
            found.insert(
                name,
                (
                    kind.to_string(),
                    meta.permissions().mode() & 0o7777,
                    content,
                    meta.modified().expect("mtime"),
                ),
            );
        }
    }
    found
}

/// `--check` creates nothing on the target: no folder (lineinfile `create`, copy into `dest/`, file
/// `directory`), no file, no backup, no validation temp file, no attribute change, no link, no removal.
/// The real run then makes what the check run reported.
#[test]
fn check_creates_nothing_locally() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    fs::write(root.join("site.yml"), CREATING).expect("playbook");
    fs::create_dir_all(root.join("files")).expect("files dir");
    fs::write(root.join("files/motd"), "hello\n").expect("motd");
    fs::create_dir_all(root.join("out")).expect("out dir");
    fs::write(root.join("out/existing.conf"), "kept = yes\n").expect("existing.conf");
    fs::write(root.join("out/existing.txt"), "old\n").expect("existing.txt");
    fs::write(root.join("out/doomed"), "bye\n").expect("doomed");
    fs::write(
        root.join("inventory.ini"),
        "target ansible_connection=local\n",
    )
    .expect("inventory");

    let before = tree(root);
    let check = run(root, &["--check", "--diff"]);
    assert_eq!(
        tree(root),
        before,
        "--check changed the target:\n{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("changed=11"),
        "every task would change:\n{}",
        check.stdout
    );

    // (A mode for the new file would show in the real run's diff only: Ansible's check mode returns
    // before it looks at a missing file's attributes.)
    let real = run(root, &["--diff"]);
    assert_eq!(
        check.stdout, real.stdout,
        "the check run's plan differs from the real run"
    );
    let out = root.join("out");
    assert_eq!(
        fs::read_to_string(out.join("new/deeper/app.conf")).expect("created"),
        "# managed\nport = 5433\n"
    );
    assert!(out.join("copied/motd").is_file());
    assert!(out.join("made/sub").is_dir());
    assert!(out.join("touched").is_file());
    assert!(out.join("commanded").is_file());
    assert!(!out.join("doomed").exists());
    let backups = fs::read_dir(&out)
        .expect("out")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with('~'))
        })
        .count();
    assert_eq!(backups, 2, "the real run made its backups");
}

#[cfg(feature = "system-tests")]
#[test]
fn check_diff_predicts_the_real_run_over_ssh() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let line = format!(
        "target ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}",
        sshd.address(),
        sshd.port(),
        sshd.user(),
        sshd.key(KeyKind::Ed25519).display()
    );
    setup(dir.path(), &line);
    check_predicts_the_real_run(dir.path());
}
