//! The throwaway sshd harness (tests/src/sshd.rs), checked with the system `ssh` client: every key type and
//! password login with strict host key checking, both sudo flavours, kill/restart and host key rotation.

use ply_tests::sshd::{sudo_pw_password, KeyKind, Sshd, SUDO_PW_USER, USER};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(mut command: Command) -> Output {
    command.output().expect("ssh runs (openssh-client)")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn assert_ok(output: &Output, sshd: &Sshd) {
    assert!(
        output.status.success(),
        "ssh failed ({}):\nstdout: {}\nstderr: {}\nsshd log:\n{}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr),
        sshd.log()
    );
}

#[test]
fn every_key_type_logs_in_with_strict_host_key_checking() {
    let sshd = Sshd::start();
    for kind in KeyKind::ALL {
        for user in [USER, SUDO_PW_USER] {
            let mut ssh = sshd.ssh_command(user, Some(kind));
            ssh.arg("id -un");
            let output = run(ssh);
            assert_ok(&output, &sshd);
            assert_eq!(stdout(&output), format!("{user}\n"), "{kind:?}");
        }
    }
}

#[test]
fn password_login() {
    let sshd = Sshd::start();
    for user in [USER, SUDO_PW_USER] {
        let mut ssh = sshd.ssh_command(user, None);
        ssh.arg("true");
        assert_ok(&run(ssh), &sshd);
    }
}

/// The passwords are random, the same for every process of this boot, and readable by root alone.
#[test]
fn passwords_are_random_and_kept_root_only() {
    use ply_tests::sshd::{user_password, PASSWORD_FILE};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (user, sudo_pw) = (user_password(), sudo_pw_password());
    for password in [user, sudo_pw] {
        assert_eq!(password.len(), 24, "{password:?}");
        assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    assert_ne!(user, sudo_pw);
    let file = std::path::Path::new(PASSWORD_FILE);
    let meta = std::fs::metadata(file).expect("the password file exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 0);
    let dir = std::fs::metadata(file.parent().expect("parent")).expect("its directory");
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::read_to_string(file).expect("read"),
        format!("{USER}:{user}\n{SUDO_PW_USER}:{sudo_pw}\n")
    );
}

#[test]
fn wrong_password_and_unknown_key_are_refused() {
    let sshd = Sshd::builder().password_authentication(false).start();
    let mut ssh = sshd.ssh_command(USER, None);
    ssh.arg("true");
    assert!(!run(ssh).status.success(), "password auth is off");

    let stranger = sshd.dir().join("stranger");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let mut ssh = Command::new("ssh");
    ssh.args(["-F", "/dev/null", "-p", &sshd.port().to_string()])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            sshd.known_hosts_file().display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(&stranger)
        .arg(format!("{USER}@127.0.0.1"))
        .arg("true")
        .stdin(Stdio::null());
    let output = run(ssh);
    assert!(!output.status.success(), "an unauthorized key got in");
}

#[test]
fn sudo_without_and_with_password() {
    let sshd = Sshd::start();

    let mut ssh = sshd.ssh_command(USER, Some(KeyKind::Ed25519));
    ssh.arg("sudo -n id -u");
    let output = run(ssh);
    assert_ok(&output, &sshd);
    assert_eq!(stdout(&output), "0\n");

    let mut ssh = sshd.ssh_command(SUDO_PW_USER, Some(KeyKind::Ed25519));
    ssh.arg("sudo -n true");
    assert!(
        !run(ssh).status.success(),
        "{SUDO_PW_USER} must need a password for sudo"
    );

    let mut ssh = sshd.ssh_command(SUDO_PW_USER, Some(KeyKind::Ed25519));
    ssh.arg(format!(
        "echo '{}' | sudo -S -p '' id -u && sudo -n true 2>/dev/null || echo asks-again",
        sudo_pw_password()
    ));
    let output = run(ssh);
    assert_ok(&output, &sshd);
    // sudo never caches plysshpw's password, so every become must send it.
    assert_eq!(stdout(&output), "0\nasks-again\n");

    let mut ssh = sshd.ssh_command(SUDO_PW_USER, Some(KeyKind::Ed25519));
    ssh.arg("echo wrong | sudo -S -p '' true");
    assert!(!run(ssh).status.success(), "a wrong sudo password worked");
}

#[test]
fn known_hosts_lines_name_the_port_and_every_host_key() {
    let sshd = Sshd::start();
    let text = sshd.known_hosts();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let prefix = format!("[127.0.0.1]:{} ", sshd.port());
    for (line, algorithm) in lines
        .iter()
        .zip(["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"])
    {
        assert!(
            line.starts_with(&format!("{prefix}{algorithm} AAAA")),
            "{line}"
        );
    }
    assert_eq!(
        sshd.known_hosts_line("ssh-ed25519"),
        lines[0],
        "one-line form"
    );
    let keys = sshd.host_public_keys();
    assert_eq!(keys.len(), 3);

    // ssh-keyscan sees exactly these keys.
    let output = Command::new("ssh-keyscan")
        .args(["-p", &sshd.port().to_string(), "127.0.0.1"])
        .stderr(Stdio::null())
        .output()
        .expect("ssh-keyscan");
    let scanned = stdout(&output);
    for key in &keys {
        assert!(scanned.contains(&key.base64), "{scanned}");
    }
}

#[test]
fn each_host_key_type_alone_verifies() {
    let sshd = Sshd::start();
    for key in sshd.host_public_keys() {
        let file = sshd.dir().join(format!("known_hosts_{}", key.algorithm));
        std::fs::write(&file, sshd.known_hosts_line(&key.algorithm) + "\n").expect("write");
        let mut ssh = sshd.ssh_command_with_known_hosts(USER, Some(KeyKind::Ed25519), &file);
        // An ssh-rsa key signs with SHA-2 (the SHA-1 "ssh-rsa" signature is disabled in OpenSSH 8.8+).
        let algorithms = match key.algorithm.as_str() {
            "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256",
            other => other,
        };
        ssh.args(["-o", &format!("HostKeyAlgorithms={algorithms}"), "true"]);
        assert_ok(&run(ssh), &sshd);
    }
}

#[test]
fn rotated_host_keys_are_rejected_by_strict_checking() {
    let mut sshd = Sshd::start();
    let old = sshd.known_hosts();
    let old_keys = sshd.host_public_keys();
    sshd.rotate_host_keys();
    assert_ne!(sshd.host_public_keys(), old_keys);
    let file = sshd.dir().join("old_known_hosts");
    std::fs::write(&file, old).expect("write");
    let mut ssh = sshd.ssh_command_with_known_hosts(USER, Some(KeyKind::Ed25519), &file);
    ssh.arg("true");
    let output = run(ssh);
    assert!(!output.status.success(), "a changed host key was accepted");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn kill_drops_sessions_and_restart_comes_back_on_the_same_port() {
    let mut sshd = Sshd::start();
    let port = sshd.port();
    let mut ssh = sshd.ssh_command(USER, Some(KeyKind::Ed25519));
    ssh.arg("echo started; sleep 60")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut session = ssh.spawn().expect("ssh");
    // Wait until the session runs, so the kill hits an established connection.
    let mut first = [0u8; 8];
    std::io::Read::read_exact(session.stdout.as_mut().expect("stdout"), &mut first)
        .expect("session output");
    assert_eq!(&first, b"started\n");

    let killed = Instant::now();
    sshd.kill();
    assert!(!sshd.is_running());
    let status = session.wait().expect("ssh exits");
    assert!(!status.success(), "the session survived the kill");
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "the session lingered"
    );
    assert!(
        TcpStream::connect(sshd.socket_addr()).is_err(),
        "a killed daemon still accepts"
    );

    sshd.restart();
    assert!(sshd.is_running());
    assert_eq!(sshd.port(), port);
    let mut ssh = sshd.ssh_command(USER, Some(KeyKind::Ed25519));
    ssh.arg("true");
    assert_ok(&run(ssh), &sshd);
}

#[test]
fn max_sessions_is_configurable_and_logs_are_kept() {
    let sshd = Sshd::builder()
        .max_sessions(1)
        .config_line("ClientAliveInterval 5")
        .start();
    let config = std::fs::read_to_string(sshd.dir().join("sshd_config")).expect("config");
    assert!(config.contains("MaxSessions 1\n"), "{config}");
    assert!(config.starts_with("ClientAliveInterval 5\n"), "{config}");
    assert!(sshd.log().contains("Server listening on 127.0.0.1"));
}

#[test]
fn aliases_make_many_inventory_hosts_for_one_daemon() {
    let sshd = Sshd::start();
    let text = sshd.aliases(20);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20);
    let key = sshd.key(KeyKind::Ed25519);
    assert_eq!(
        lines[0],
        format!(
            "host1 ansible_host=127.0.0.1 ansible_port={} ansible_user=plyssh ansible_ssh_private_key_file={}",
            sshd.port(),
            key.display()
        )
    );
    assert!(lines[19].starts_with("host20 "));
}

#[test]
fn twenty_parallel_connections_all_get_in() {
    let sshd = Sshd::start();
    let children: Vec<_> = (0..20)
        .map(|_| {
            let mut ssh = sshd.ssh_command(USER, Some(KeyKind::Ed25519));
            ssh.arg("true").stdout(Stdio::null()).stderr(Stdio::piped());
            ssh.spawn().expect("ssh")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("ssh");
        assert_ok(&output, &sshd);
    }
}

#[test]
fn two_daemons_run_side_by_side() {
    let a = Sshd::start();
    let b = Sshd::start();
    assert_ne!(a.port(), b.port());
    for sshd in [&a, &b] {
        let mut ssh = sshd.ssh_command(USER, Some(KeyKind::Rsa));
        ssh.arg("true");
        assert_ok(&run(ssh), sshd);
    }
}
