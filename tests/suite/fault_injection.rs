//! Faults injected into real runs over SSH to a throwaway sshd on loopback: sessions killed mid-loop and
//! mid-copy. What must hold: the host is UNREACHABLE (recap and exit code 4), never FAILED or ok.

use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::Ply;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn host_line(sshd: &Sshd, name: &str) -> String {
    sshd.inventory_line(name)
}

/// A scratch folder the run (and the sshd's test user) can write in; HOME for the run, so host keys
/// accept-new learns stay in it.
fn case(sshd: &Sshd, playbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    fs::write(dir.path().join("inventory.ini"), host_line(sshd, "target")).expect("inventory");
    fs::write(dir.path().join("site.yml"), playbook).expect("playbook");
    dir
}

fn ply_in(dir: &Path) -> Ply {
    Ply::new()
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .env("HOME", dir.to_str().expect("utf-8"))
        .current_dir(dir)
}

fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_session_killed_mid_loop_makes_the_host_unreachable() {
    let mut sshd = Sshd::start();
    let dir = case(
        &sshd,
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - name: Slow items\n      shell: echo {{ item }} >> progress; sleep 0.2\n      args:\n        chdir: \"{{ playbook_dir }}\"\n      loop: \"{{ range(40) | list }}\"\n      ignore_errors: true\n    - name: Never reached\n      command: \"true\"\n",
    );
    let running = ply_in(dir.path()).spawn();
    let progress = dir.path().join("progress");
    wait_until(Duration::from_secs(30), || {
        fs::read_to_string(&progress).is_ok_and(|p| p.lines().count() >= 3)
    });
    sshd.kill();
    let outcome = running.wait(Duration::from_secs(60)).code(4);
    assert!(
        outcome.stdout.contains("fatal: [target]: UNREACHABLE!"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("unreachable=1") && outcome.stdout.contains("failed=0"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("Never reached"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_session_killed_mid_copy_makes_the_host_unreachable() {
    let mut sshd = Sshd::start();
    let dir = case(
        &sshd,
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - name: Big copy\n      copy:\n        src: big.bin\n        dest: \"{{ playbook_dir }}/dest/big.bin\"\n",
    );
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).expect("dest dir");
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o1777)).expect("chmod dest");
    // Big enough that the copy is still under way when the session dies.
    let big = fs::File::create(dir.path().join("big.bin")).expect("big file");
    big.set_len(1 << 30).expect("size big file");
    let running = ply_in(dir.path()).spawn();
    // The copy is under way once its temporary file appears beside the destination.
    wait_until(Duration::from_secs(60), || {
        fs::read_dir(&dest).is_ok_and(|mut entries| entries.next().is_some())
    });
    sshd.kill();
    let outcome = running.wait(Duration::from_secs(60)).code(4);
    assert!(
        outcome.stdout.contains("fatal: [target]: UNREACHABLE!"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("unreachable=1"),
        "{}",
        outcome.stdout
    );
    assert!(!dest.join("big.bin").exists(), "a half copy was committed");
}

fn processes_matching(pattern: &str) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A playbook whose second task runs a long, recognisable command on the host (after `started` appears).
fn long_command_case(sshd: &Sshd, marker: &str) -> tempfile::TempDir {
    case(
        sshd,
        &format!(
            "- hosts: target\n  gather_facts: false\n  tasks:\n    - name: Long\n      shell: touch {{{{ playbook_dir }}}}/started; sleep {marker}; touch {{{{ playbook_dir }}}}/finished\n    - name: Never started\n      command: touch {{{{ playbook_dir }}}}/next\n"
        ),
    )
}

#[test]
fn sigint_stops_the_remote_command_prints_the_recap_and_exits_99() {
    for signal in ["INT", "TERM"] {
        let sshd = Sshd::start();
        // A sleep no other process runs, so that pgrep finds only this one.
        let marker = format!(
            "31.{}",
            std::process::id() % 1000 + if signal == "INT" { 0 } else { 1 }
        );
        let dir = long_command_case(&sshd, &marker);
        let running = ply_in(dir.path()).spawn();
        wait_until(Duration::from_secs(30), || {
            dir.path().join("started").exists()
        });
        wait_until(Duration::from_secs(5), || {
            processes_matching(&format!("sleep {marker}")) > 0
        });
        let signalled = Instant::now();
        running.signal(signal);
        let outcome = running.wait(Duration::from_secs(20)).code(99);
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "SIG{signal} took {:?}",
            signalled.elapsed()
        );
        assert!(
            outcome
                .stdout
                .contains(&format!("User interrupted execution (SIG{signal})"))
                && outcome.stdout.contains("PLAY RECAP"),
            "SIG{signal}\n{}",
            outcome.stdout
        );
        assert!(
            !dir.path().join("next").exists(),
            "SIG{signal}: a task started after the signal"
        );
        // The command was stopped on the host, not left to run on.
        wait_until(Duration::from_secs(5), || {
            processes_matching(&format!("sleep {marker}")) == 0
        });
        assert!(
            !dir.path().join("finished").exists(),
            "SIG{signal}: the command ran on"
        );
    }
}

#[test]
fn a_second_sigint_ends_the_run_at_once() {
    let sshd = Sshd::start();
    let marker = format!("32.{}", std::process::id() % 1000);
    let dir = long_command_case(&sshd, &marker);
    let running = ply_in(dir.path()).spawn();
    wait_until(Duration::from_secs(30), || {
        dir.path().join("started").exists()
    });
    let signalled = Instant::now();
    running.signal("INT");
    running.signal("INT");
    running.wait(Duration::from_secs(10)).code(99);
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "took {:?}",
        signalled.elapsed()
    );
}

#[test]
fn an_interrupted_copy_leaves_no_temp_file_and_a_killed_one_is_cleared_by_the_next_write() {
    let mut sshd = Sshd::start();
    let dir = case(
        &sshd,
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - name: Big copy\n      copy:\n        src: \"{{ source | default('big.bin') }}\"\n        dest: \"{{ playbook_dir }}/dest/big.bin\"\n",
    );
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).expect("dest dir");
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o1777)).expect("chmod dest");
    fs::File::create(dir.path().join("big.bin"))
        .expect("big file")
        .set_len(1 << 30)
        .expect("size big file");
    fs::write(dir.path().join("small.bin"), "small\n").expect("small file");
    let temps = || {
        fs::read_dir(&dest)
            .expect("dest")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ply-tmp-"))
            .count()
    };
    // SIGINT mid-copy: the write script's trap removes its temp file.
    let running = ply_in(dir.path()).spawn();
    wait_until(Duration::from_secs(60), || temps() > 0);
    running.signal("INT");
    running.wait(Duration::from_secs(30)).code(99);
    wait_until(Duration::from_secs(15), || temps() == 0);
    // Killed outright (sshd and its sessions SIGKILLed): nothing on the host could clean up...
    let running = ply_in(dir.path()).spawn();
    wait_until(Duration::from_secs(60), || temps() > 0);
    sshd.kill();
    running.wait(Duration::from_secs(60)).code(4);
    assert!(
        temps() > 0,
        "the kill left no temp file, so this test shows nothing"
    );
    // ...so the next write of the same destination recognises the leftover and removes it.
    sshd.restart();
    ply_in(dir.path())
        .args(["-e", "source=small.bin"])
        .run()
        .success();
    assert_eq!(temps(), 0, "the leftover temp file is still there");
    assert_eq!(
        fs::read_to_string(dest.join("big.bin")).expect("copied"),
        "small\n"
    );
}

#[test]
fn a_frozen_session_is_unreachable_within_the_keepalive_budget() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    fs::write(
        dir.path().join("inventory.ini"),
        format!(
            "{} ansible_ssh_common_args='-o ServerAliveInterval=1 -o ServerAliveCountMax=2'\n",
            host_line(&sshd, "target").trim_end()
        ),
    )
    .expect("inventory");
    fs::write(
        dir.path().join("site.yml"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - name: Before\n      shell: touch {{ playbook_dir }}/before; sleep 60\n",
    )
    .expect("playbook");
    let running = ply_in(dir.path()).spawn();
    wait_until(Duration::from_secs(30), || {
        dir.path().join("before").exists()
    });
    sshd.freeze();
    let frozen = Instant::now();
    let outcome = running.wait(Duration::from_secs(30)).code(4);
    let detected = frozen.elapsed();
    sshd.thaw();
    // 1 s × 2 keepalives, plus the interval's own slack.
    assert!(detected < Duration::from_secs(6), "took {detected:?}");
    eprintln!(
        "frozen session detected after {:.1} s",
        detected.as_secs_f64()
    );
    assert!(
        outcome.stdout.contains("fatal: [target]: UNREACHABLE!")
            && outcome.stdout.contains("keepalive"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn proxy_command_carries_the_connection() {
    let target = Sshd::start();
    let jump = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // The target's address cannot be resolved: only the ProxyCommand (ssh -W through the second sshd)
    // knows where it really is, so a run that ignored it could not succeed.
    let proxy = format!(
        "ssh -q -W {}:{} -p {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes {}@{}",
        target.address(),
        target.port(),
        jump.port(),
        jump.key(KeyKind::Ed25519).display(),
        jump.user(),
        jump.address()
    );
    fs::write(
        dir.path().join("inventory.ini"),
        format!(
            "target ansible_host=target.invalid ansible_port={} ansible_user={} ansible_ssh_private_key_file={} ansible_ssh_common_args='-o \"ProxyCommand={proxy}\"'\n",
            target.port(),
            target.user(),
            target.key(KeyKind::Ed25519).display()
        ),
    )
    .expect("inventory");
    fs::write(
        dir.path().join("site.yml"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - command: hostname\n",
    )
    .expect("playbook");
    let outcome = ply_in(dir.path())
        .args(["--host-key-checking", "off"])
        .run()
        .success();
    assert!(
        outcome.stdout.contains("changed: [target]"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn host_key_notices_are_loud_when_a_changed_key_is_let_through() {
    let mut sshd = Sshd::start();
    let dir = case(
        &sshd,
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - ping:\n",
    );
    let run = |policy: &str| {
        ply_in(dir.path())
            .args(["--host-key-checking", policy])
            .run()
    };
    // accept-new learns the key, and says so as OpenSSH does.
    let learned = run("accept-new").success();
    assert!(
        learned.stdout.contains("Permanently added")
            || learned.stderr.contains("Permanently added"),
        "{}\n{}",
        learned.stdout,
        learned.stderr
    );
    sshd.rotate_host_keys();
    // Strict refuses the changed key; with checking off the run goes on, but not quietly.
    run("accept-new").code(4);
    let warned = run("off").success();
    let all = format!("{}{}", warned.stdout, warned.stderr);
    assert!(
        all.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{all}"
    );
}

#[test]
fn an_ssh_option_ply_does_not_implement_is_named_not_dropped() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("inventory.ini"),
        format!(
            "{} ansible_ssh_common_args='-o ForwardAgent=yes'\n",
            host_line(&sshd, "target").trim_end()
        ),
    )
    .expect("inventory");
    fs::write(
        dir.path().join("site.yml"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n    - ping:\n",
    )
    .expect("playbook");
    let outcome = ply_in(dir.path()).run().code(4);
    assert!(
        outcome
            .stdout
            .contains("-o ForwardAgent is not supported by ply"),
        "{}",
        outcome.stdout
    );
}
