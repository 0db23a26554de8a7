//! Runs over SSH that only a real network peer can show: many hosts at once, more commands in flight than
//! the server's MaxSessions, a host that dies mid-play, and host key policies seen from the CLI.

use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::{ply_binary, Ply};
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn write_case(dir: &std::path::Path, inventory: &str, playbook: &str) {
    fs::write(dir.join("inventory.ini"), inventory).expect("inventory");
    fs::write(dir.join("site.yml"), playbook).expect("playbook");
}

fn host_line(sshd: &Sshd, name: &str) -> String {
    sshd.inventory_line(name)
}

#[test]
fn twenty_hosts_with_more_commands_in_flight_than_max_sessions() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // 20 inventory hosts, one sshd: 20 connections, each running a 12-item loop.
    write_case(
        dir.path(),
        &format!("[fleet]\n{}", sshd.aliases(20)),
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - command: echo {{ inventory_hostname }} {{ item }}\n      loop: \"{{ range(12) | list }}\"\n      register: out\n    - assert:\n        that: out.results | map(attribute='stdout') | select('match', inventory_hostname ~ ' ') | list | length == 12\n        quiet: true\n",
    );
    let outcome = Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini", "-f", "20"])
        .env("HOME", dir.path().to_str().expect("utf-8"))
        .current_dir(dir.path())
        .run()
        .success();
    for k in 1..=20 {
        let recap = outcome
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("host{k} ")))
            .expect("recap line");
        assert!(
            recap.contains("ok=2 ") && recap.contains("failed=0 "),
            "{recap}"
        );
    }
}

#[test]
fn a_host_that_dies_mid_play_is_unreachable_and_the_run_says_so() {
    let mut sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    write_case(
        dir.path(),
        &host_line(&sshd, "doomed"),
        "- hosts: doomed\n  gather_facts: false\n  tasks:\n    - name: Before\n      command: \"true\"\n    - name: Wait\n      pause:\n        seconds: 2\n    - name: After\n      command: \"true\"\n",
    );
    let mut child = Command::new(ply_binary())
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ply starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut output = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read") > 0 {
        output.push_str(&line);
        let waiting = line.starts_with("TASK [Wait]");
        line.clear();
        if waiting {
            sshd.kill();
            break;
        }
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("read rest");
    output.push_str(&rest);
    let status = child.wait().expect("ply exits");
    assert_eq!(status.code(), Some(4), "{output}");
    assert!(output.contains("fatal: [doomed]: UNREACHABLE!"), "{output}");
    assert!(output.contains("unreachable=1"), "{output}");
}

#[test]
fn host_key_policies_from_the_command_line() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    write_case(
        dir.path(),
        &host_line(&sshd, "target"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - ping:\n",
    );
    let home = dir.path().to_str().expect("utf-8");
    let run = |policy: &str| {
        Ply::new()
            .args([
                "run",
                "site.yml",
                "-i",
                "inventory.ini",
                "--host-key-checking",
                policy,
            ])
            .env("HOME", home)
            .current_dir(dir.path())
            .run()
    };
    // Strict refuses a host it has never seen, and says how to trust it.
    let refused = run("strict").code(4);
    assert!(refused.stdout.contains("UNREACHABLE"), "{}", refused.stdout);
    // accept-new learns the key into ~/.ssh/known_hosts; strict then accepts it.
    run("accept-new").success();
    let known =
        fs::read_to_string(dir.path().join(".ssh/known_hosts")).expect("learned known_hosts");
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{known}"
    );
    run("strict").success();
}

#[test]
fn remote_user_and_port_keywords_reach_a_host_whose_inventory_names_neither() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // The inventory gives only the address and the key: user and port come from the play's keywords.
    write_case(
        dir.path(),
        &format!(
            "bare ansible_host={} ansible_ssh_private_key_file={}\n",
            sshd.address(),
            sshd.key(KeyKind::Ed25519).display()
        ),
        &format!(
            "- hosts: bare\n  gather_facts: false\n  remote_user: {}\n  port: {}\n  tasks:\n    - command: id -un\n      register: who\n    - assert:\n        that: who.stdout == '{}'\n",
            sshd.user(),
            sshd.port(),
            sshd.user()
        ),
    );
    Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .env("HOME", dir.path().to_str().expect("utf-8"))
        .current_dir(dir.path())
        .run()
        .success();
}

#[test]
fn copies_big_and_small_reach_names_with_spaces_quotes_and_newlines() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .expect("chmod");
    // Over the streaming threshold (4 MiB), so the streamed path with its checksum check is taken.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), &big).expect("big");
    fs::write(dir.path().join("small.txt"), "small\n").expect("small");
    write_case(
        dir.path(),
        &host_line(&sshd, "target"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - copy:\n        src: \"{{ item }}\"\n        dest: \"{{ playbook_dir }}/it's a \\\"name\\\"\\nwith a newline {{ item }}\"\n      loop: [big.bin, small.txt]\n",
    );
    Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .env("HOME", dir.path().to_str().expect("utf-8"))
        .current_dir(dir.path())
        .run()
        .success();
    let name = |item: &str| {
        dir.path()
            .join(format!("it's a \"name\"\nwith a newline {item}"))
    };
    assert_eq!(fs::read(name("big.bin")).expect("big copied"), big);
    assert_eq!(
        fs::read_to_string(name("small.txt")).expect("small copied"),
        "small\n"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ply-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
