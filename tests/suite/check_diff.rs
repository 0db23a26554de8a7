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
