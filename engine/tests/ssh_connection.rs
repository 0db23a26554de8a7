//! `SshConnection` against a throwaway OpenSSH server (`ply_tests::sshd::Sshd`): authentication, host key
//! policies, commands, become, files, concurrency, a dying host and a jump host.
//!
//! The server needs root (it creates test users and runs sshd), so this target is built only with
//! `--features system-tests` (tests/run turns it on; Cargo.toml's `required-features`). What needs no
//! server, a refused port and a silent one, is in ssh_unreachable.rs and runs with plain `cargo test`.

use engine::connection::ssh::known_hosts::HostKeyPolicy;
use engine::connection::{
    Become, BecomeMethod, CommandRequest, Connection, ConnectionError, FileAttributes, FileKind,
    Secret, SshConnection, SshTarget,
};
use ply_tests::sshd::{KeyKind, Sshd, SUDO_PW_USER};
use sha1::{Digest, Sha1};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

/// The throwaway sshd. `.ci/run` installs OpenSSH and runs as root, so a missing daemon is a failure, not a
/// reason to skip: a skipped SSH suite would prove nothing.
fn server() -> Sshd {
    if let Err(why) = ply_tests::sshd::available() {
        panic!("no test sshd here ({why}): install openssh-server and run the tests as root, as .ci/run does");
    }
    Sshd::start()
}

/// A target for the test daemon with one key, strict host key checking against its known_hosts.
fn target(sshd: &Sshd, key: KeyKind) -> SshTarget {
    let mut t = SshTarget::new("testhost", sshd.address(), sshd.port(), sshd.user());
    t.identity_files = vec![sshd.key(key)];
    t.use_agent = false;
    t.host_key_policy = HostKeyPolicy::Strict;
    t.known_hosts_files = vec![sshd.known_hosts_file()];
    t
}

async fn connect(t: SshTarget) -> SshConnection {
    SshConnection::connect(t).await.expect("connects")
}

fn unreachable_message(result: Result<SshConnection, ConnectionError>) -> String {
    match result {
        Err(ConnectionError::Unreachable(message)) => message,
        Err(other) => panic!("expected Unreachable, got {other:?}"),
        Ok(_) => panic!("expected Unreachable, but it connected"),
    }
}

async fn sh(conn: &SshConnection, script: &str) -> (i32, String, String) {
    let out = conn
        .run(&CommandRequest::shell(script))
        .await
        .expect("runs");
    (
        out.rc,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sudo(user: &str, password: Option<&str>) -> Become {
    Become {
        user: user.to_string(),
        method: BecomeMethod::Sudo,
        password: password.map(Secret::new),
        flags: None,
        exe: None,
    }
}

#[tokio::test]
async fn every_key_type_logs_in() {
    let sshd = server();
    for kind in [KeyKind::Ed25519, KeyKind::Ecdsa, KeyKind::Rsa] {
        let conn = connect(target(&sshd, kind)).await;
        let (rc, out, _) = sh(&conn, "id -un").await;
        assert_eq!((rc, out.trim()), (0, "plyssh"), "{kind:?}");
    }
}

#[tokio::test]
async fn encrypted_key_needs_its_passphrase() {
    let sshd = server();
    let mut t = target(&sshd, KeyKind::Ed25519Encrypted);
    let message = unreachable_message(SshConnection::connect(t.clone()).await);
    assert!(message.contains("encrypted and no passphrase"), "{message}");
    t.key_passphrase = Some(Secret::new("wrong"));
    let message = unreachable_message(SshConnection::connect(t.clone()).await);
    assert!(message.contains("cannot be decrypted"), "{message}");
    t.key_passphrase = Some(Secret::new(KeyKind::Ed25519Encrypted.passphrase().unwrap()));
    let conn = connect(t).await;
    assert_eq!(sh(&conn, "echo ok").await.1, "ok\n");
}

#[tokio::test]
async fn password_logs_in_after_keys_fail() {
    let sshd = server();
    let mut t = target(&sshd, KeyKind::Ed25519);
    t.identity_files = vec![sshd.dir().join("no-such-key")];
    t.password = Some(Secret::new(sshd.password(sshd.user())));
    let conn = connect(t.clone()).await;
    assert_eq!(sh(&conn, "id -un").await.1.trim(), "plyssh");

    t.password = Some(Secret::new("not the password"));
    let message = unreachable_message(SshConnection::connect(t).await);
    assert!(message.contains("permission denied"), "{message}");
    assert!(message.contains("password"), "{message}");
    assert!(!message.contains("not the password"), "{message}");
}

#[tokio::test]
async fn wrong_key_is_unreachable_with_what_was_tried() {
    let sshd = server();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("stranger");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let mut t = target(&sshd, KeyKind::Ed25519);
    t.identity_files = vec![key.clone()];
    let message = unreachable_message(SshConnection::connect(t).await);
    assert!(
        message.contains("cannot log in to testhost as plyssh"),
        "{message}"
    );
    assert!(message.contains(&key.display().to_string()), "{message}");
    assert!(message.contains("publickey"), "{message}");
}

#[tokio::test]
async fn host_key_policies() {
    let mut sshd = server();
    let dir = tempfile::tempdir().unwrap();

    // Strict with the host unknown: refused.
    let empty = dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let mut t = target(&sshd, KeyKind::Ed25519);
    t.known_hosts_files = vec![empty.clone()];
    let message = unreachable_message(SshConnection::connect(t.clone()).await);
    assert!(message.to_lowercase().contains("host key"), "{message}");

    // accept-new learns the key, after which strict matches.
    let learned = dir.path().join("learned_known_hosts");
    t.known_hosts_files = vec![learned.clone()];
    t.host_key_policy = HostKeyPolicy::AcceptNew;
    connect(t.clone()).await;
    let text = std::fs::read_to_string(&learned).unwrap();
    assert!(text.contains(&sshd.known_hosts_host()), "{text}");
    t.host_key_policy = HostKeyPolicy::Strict;
    connect(t.clone()).await;

    // off accepts an unknown key (silently, as Ansible with host_key_checking=False) and leaves the
    // user's files alone.
    let mut off = t.clone();
    off.known_hosts_files = vec![empty.clone()];
    off.host_key_policy = HostKeyPolicy::Off;
    connect(off).await;
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");

    // Revoked: refused even though the same key is also listed as known.
    let revoked = dir.path().join("revoked_known_hosts");
    let keys = sshd.host_public_keys();
    let mut text = sshd.known_hosts();
    for key in &keys {
        text.push_str(&format!("@revoked * {} {}\n", key.algorithm, key.base64));
    }
    std::fs::write(&revoked, text).unwrap();
    let mut r = t.clone();
    r.known_hosts_files = vec![revoked];
    r.host_key_policy = HostKeyPolicy::Off;
    let message = unreachable_message(SshConnection::connect(r).await);
    assert!(message.to_lowercase().contains("revoked"), "{message}");

    // Changed: the old keys stay in known_hosts, the server has new ones.
    let old = dir.path().join("old_known_hosts");
    std::fs::write(&old, sshd.known_hosts()).unwrap();
    sshd.rotate_host_keys();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let mut c = target(&sshd, KeyKind::Ed25519);
        c.known_hosts_files = vec![old.clone()];
        c.host_key_policy = policy;
        let message = unreachable_message(SshConnection::connect(c).await);
        let lower = message.to_lowercase();
        assert!(lower.contains("changed"), "{message}");
        assert!(message.contains(&old.display().to_string()), "{message}");
        assert!(message.contains("ssh-keygen -R"), "{message}");
    }

    // off accepts a changed key, with OpenSSH's loud warning for the run to show.
    let mut off = target(&sshd, KeyKind::Ed25519);
    off.known_hosts_files = vec![old.clone()];
    off.host_key_policy = HostKeyPolicy::Off;
    let notices = off.notices.clone();
    connect(off).await;
    let text = notices.lock().unwrap().join("\n");
    assert!(
        text.contains("testhost") && text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{text}"
    );
}

#[tokio::test]
async fn commands_get_stdin_env_cwd_and_exit_codes() {
    let sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;

    let mut req = CommandRequest::argv(["cat"]);
    req.stdin = Some(b"from stdin\n".to_vec());
    let out = conn.run(&req).await.unwrap();
    assert_eq!(out.stdout, b"from stdin\n");

    let mut req = CommandRequest::argv(["sh", "-c", "printf '%s|%s' \"$A\" \"$PWD\""]);
    req.env = vec![("A".into(), "it's $HOME".into())];
    req.cwd = Some("/tmp".into());
    let out = conn.run(&req).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $HOME|/tmp");

    let mut req = CommandRequest::argv(["true"]);
    req.cwd = Some("/no/such/dir".into());
    match conn.run(&req).await {
        Err(ConnectionError::File { path, .. }) => assert_eq!(path, "/no/such/dir"),
        other => panic!("{other:?}"),
    }

    let argv = ["printf", "%s\n", "a b", "'q'", "$x", ""];
    let out = conn.run(&CommandRequest::argv(argv)).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a b\n'q'\n$x\n\n");

    assert_eq!(
        sh(&conn, "echo out; echo err >&2; exit 3").await,
        (3, "out\n".into(), "err\n".into())
    );
    assert_eq!(sh(&conn, "kill -TERM $$").await.0, 143);
    let out = conn
        .run(&CommandRequest::argv(["no-such-program-ply"]))
        .await
        .unwrap();
    assert_eq!(out.rc, 127);

    let mut slow = CommandRequest::argv(["sleep", "20.123"]);
    slow.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    match conn.run(&slow).await {
        Err(ConnectionError::Timeout(d)) => assert_eq!(d, Duration::from_millis(300)),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // The connection survives a timed-out command, and the command was stopped.
    assert_eq!(sh(&conn, "echo still").await.1, "still\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rc, out, _) = sh(&conn, "pgrep -f 'sleep 20[.]123'").await;
    assert_eq!(rc, 1, "still running: {out}");
}

#[tokio::test]
async fn large_stdout_arrives_whole() {
    let sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let out = conn
        .run(&CommandRequest::shell(
            "head -c 10485760 /dev/urandom | tee /dev/stderr | sha1sum",
        ))
        .await
        .unwrap();
    assert_eq!(out.rc, 0);
    assert_eq!(out.stderr.len(), 10 * 1024 * 1024);
    let local = hex(&Sha1::digest(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next(),
        Some(local.as_str())
    );

    let out = conn
        .run(&CommandRequest::shell("head -c 10485760 /dev/zero"))
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 10 * 1024 * 1024);
}

#[tokio::test]
async fn become_with_and_without_password() {
    let sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let mut req = CommandRequest::argv(["id", "-un"]);
    req.become_ = Some(sudo("root", None));
    let out = conn.run(&req).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "root");

    // Become keeps stdin, env and cwd for the command.
    let mut req = CommandRequest::shell("printf '%s|%s|' \"$V\" \"$PWD\"; cat");
    req.become_ = Some(sudo("root", None));
    req.env = vec![("V".into(), "x y".into())];
    req.cwd = Some("/root".into());
    req.stdin = Some(b"in".to_vec());
    let out = conn.run(&req).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "x y|/root|in");

    let password = sshd.password(SUDO_PW_USER);
    let mut t = target(&sshd, KeyKind::Ed25519);
    t.user = SUDO_PW_USER.to_string();
    let conn = connect(t).await;
    let mut req = CommandRequest::argv(["id", "-u"]);
    req.stdin = None;
    req.become_ = Some(sudo("root", Some(password)));
    let out = conn.run(&req).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(password));

    req.become_ = Some(sudo("root", Some("wrong password")));
    match conn.run(&req).await {
        Err(ConnectionError::Become(message)) => {
            assert!(!message.contains("wrong password"), "{message}");
            assert!(
                message.contains("incorrect password") || message.contains("Sorry"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    req.become_ = Some(sudo("root", None));
    match conn.run(&req).await {
        Err(ConnectionError::Become(message)) => assert!(message.contains("password"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn files_round_trip_with_attributes_and_become() {
    let sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let dir = sh(&conn, "mktemp -d").await.1.trim().to_string();
    let path = format!("{dir}/f.txt");

    assert_eq!(conn.read_file(&path, None).await.unwrap(), None);
    assert_eq!(conn.checksum_sha1(&path, None).await.unwrap(), None);
    let attrs = FileAttributes {
        mode: Some(0o640),
        ..Default::default()
    };
    conn.write_file(&path, b"hello\n", &attrs, None)
        .await
        .unwrap();
    assert_eq!(
        conn.read_file(&path, None).await.unwrap().unwrap(),
        b"hello\n"
    );
    let st = conn.stat(&path, true, None).await.unwrap().unwrap();
    assert_eq!((st.kind, st.mode, st.size), (FileKind::File, 0o640, 6));
    assert_eq!(
        conn.checksum_sha1(&path, None).await.unwrap().unwrap(),
        hex(&Sha1::digest(b"hello\n"))
    );
    // The mode is kept when not given.
    conn.write_file(&path, b"again\n", &FileAttributes::default(), None)
        .await
        .unwrap();
    assert_eq!(
        conn.stat(&path, true, None).await.unwrap().unwrap().mode,
        0o640
    );
    assert!(conn.checksum_sha1(&dir, None).await.is_err());

    let root_file = format!("{dir}-root");
    let b = sudo("root", None);
    let attrs = FileAttributes {
        mode: Some(0o600),
        owner: Some("root".into()),
        group: Some("root".into()),
    };
    let mut source: &[u8] = b"secret\n";
    conn.write_file_stream(&root_file, &mut source, &attrs, Some(&b))
        .await
        .unwrap();
    let st = conn
        .stat(&root_file, true, Some(&b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.owner.as_str(), st.mode), ("root", 0o600));
    assert!(conn.read_file(&root_file, None).await.is_err());
    assert_eq!(
        conn.read_file(&root_file, Some(&b)).await.unwrap().unwrap(),
        b"secret\n"
    );

    let missing = conn
        .write_file("/no/such/dir/x", b"x", &FileAttributes::default(), None)
        .await;
    assert!(
        matches!(missing, Err(ConnectionError::File { .. })),
        "{missing:?}"
    );

    let mut req = CommandRequest::argv(["rm", "-rf", &dir, &root_file]);
    req.become_ = Some(b);
    conn.run(&req).await.unwrap();
}

#[tokio::test]
async fn more_commands_than_max_sessions_at_once() {
    let sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let runs = (0..30).map(|i| {
        let conn = &conn;
        async move {
            let out = conn
                .run(&CommandRequest::shell(format!("sleep 0.2; echo {i}")))
                .await
                .unwrap();
            assert_eq!(out.rc, 0);
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), i.to_string());
        }
    });
    futures::future::join_all(runs).await;
    // Nothing leaked: the connection still opens channels.
    assert_eq!(sh(&conn, "echo ok").await.1, "ok\n");
}

#[tokio::test]
async fn a_host_dying_mid_command_is_unreachable() {
    let mut sshd = server();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let sleeper = CommandRequest::shell("sleep 30");
    let running = conn.run(&sleeper);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sshd.kill();
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(running, killer)
    })
    .await
    .expect("the dead connection is noticed at once");
    match result {
        Err(ConnectionError::Unreachable(message)) => {
            assert!(message.contains("connection to testhost lost"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(conn.is_closed());
    match conn.run(&CommandRequest::argv(["true"])).await {
        Err(ConnectionError::Unreachable(message)) => {
            assert!(message.contains("lost"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn proxy_jump_through_the_same_server() {
    let sshd = server();
    let mut t = target(&sshd, KeyKind::Ed25519);
    t.proxy_jump = Some(format!(
        "{}@{}:{}",
        sshd.user(),
        sshd.address(),
        sshd.port()
    ));
    let conn = connect(t.clone()).await;
    let (rc, out, _) = sh(&conn, "echo $SSH_CONNECTION").await;
    assert_eq!(rc, 0);
    // Through the tunnel the session's client is sshd itself (127.0.0.1), on a different port than ours.
    assert!(out.starts_with("127.0.0.1 "), "{out}");

    // Two hops.
    t.proxy_jump = Some(format!("{0}:{1},{0}:{1}", sshd.address(), sshd.port()));
    let conn = connect(t).await;
    assert_eq!(sh(&conn, "echo two").await.1, "two\n");
}

#[tokio::test]
async fn exec_latency_on_an_open_connection() {
    let sshd = server();
    let started = Instant::now();
    let conn = connect(target(&sshd, KeyKind::Ed25519)).await;
    let connect_time = started.elapsed();
    let mut times = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let out = conn.run(&CommandRequest::argv(["true"])).await.unwrap();
        assert_eq!(out.rc, 0);
        times.push(started.elapsed());
    }
    times.sort();
    eprintln!(
        "connect+auth {:?}; exec `true`: median {:?}, p10 {:?}, p90 {:?}",
        connect_time, times[50], times[10], times[90]
    );
    // Nagle would make this ~45 ms; the bound is loose for a loaded CI machine.
    assert!(times[50] < Duration::from_millis(40), "{:?}", times[50]);
}

/// Deterministic bytes, generated as they are read, so the test itself never holds the file.
struct Generated {
    left: u64,
    state: u64,
    hasher: Sha1,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(1 << 20) as usize;
        let mut chunk = vec![0u8; n];
        for b in chunk.chunks_mut(8) {
            // xorshift64: cheap, and incompressible enough to defeat any accidental compression.
            let mut x = self.state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.state = x;
            let bytes = x.to_le_bytes();
            b.copy_from_slice(&bytes[..b.len()]);
        }
        self.hasher.update(&chunk);
        buf.put_slice(&chunk);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

const STREAM_CHILD: &str = "PLY_SSH_STREAM_CHILD";

/// The 200 MiB transfer. Peak RSS is per process, so the test runs itself again in a child process (this
/// binary, filtered to this test, marked by an environment variable) where the transfer is the only work;
/// the parent checks the child's verdict.
#[tokio::test]
async fn streamed_200mib_write_keeps_memory_bounded() {
    let Ok(spec) = std::env::var(STREAM_CHILD) else {
        let sshd = server();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "streamed_200mib_write_keeps_memory_bounded",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                STREAM_CHILD,
                format!("{}|{}", sshd.port(), sshd.key(KeyKind::Ed25519).display()),
            )
            .env("PLY_SSH_KNOWN_HOSTS", sshd.known_hosts_file())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        eprintln!("{text}");
        assert!(out.status.success(), "{text}");
        assert!(text.contains("streamed 200 MiB"), "{text}");
        return;
    };
    let (port, key) = spec.split_once('|').unwrap();
    let mut t = SshTarget::new("testhost", "127.0.0.1", port.parse().unwrap(), "plyssh");
    t.identity_files = vec![PathBuf::from(key)];
    t.use_agent = false;
    t.host_key_policy = HostKeyPolicy::Strict;
    t.known_hosts_files = vec![PathBuf::from(std::env::var("PLY_SSH_KNOWN_HOSTS").unwrap())];
    let conn = connect(t).await;
    let dir = sh(&conn, "mktemp -d").await.1.trim().to_string();
    let path = format!("{dir}/big");
    const SIZE: u64 = 200 * 1024 * 1024;
    let mut source = Generated {
        left: SIZE,
        state: 0x9E37_79B9_7F4A_7C15,
        hasher: Sha1::new(),
    };
    let before = vm_hwm_kib();
    let started = Instant::now();
    conn.write_file_stream(&path, &mut source, &FileAttributes::default(), None)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let after = vm_hwm_kib();
    let local = hex(&source.hasher.clone().finalize());
    let remote = conn.checksum_sha1(&path, None).await.unwrap().unwrap();
    let st = conn.stat(&path, true, None).await.unwrap().unwrap();
    sh(&conn, &format!("rm -rf {dir}")).await;
    eprintln!(
        "streamed 200 MiB in {:.2?} ({:.0} MiB/s); peak RSS {} KiB -> {} KiB (+{} KiB)",
        elapsed,
        200.0 / elapsed.as_secs_f64(),
        before,
        after,
        after - before
    );
    assert_eq!(st.size, SIZE);
    assert_eq!(remote, local);
    assert!(
        after - before < 64 * 1024,
        "peak RSS grew by {} KiB",
        after - before
    );
}

const AGENT_CHILD: &str = "PLY_SSH_AGENT_CHILD";

/// An ssh-agent holding the RSA key (so the agent path also picks an rsa-sha2 hash). SSH_AUTH_SOCK is
/// process-wide, so the test runs itself again in a child process that alone sees it; the parent starts the
/// agent and checks the child's verdict.
#[tokio::test]
async fn agent_keys_come_first() {
    let Ok(port) = std::env::var(AGENT_CHILD) else {
        let sshd = server();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let mut agent = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent runs (openssh-client, installed by .ci/run)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let added = std::process::Command::new("ssh-add")
            .arg(sshd.key(KeyKind::Rsa))
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(added.status.success(), "{added:?}");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "agent_keys_come_first", "--nocapture"])
            .env(AGENT_CHILD, sshd.port().to_string())
            .env("PLY_SSH_KNOWN_HOSTS", sshd.known_hosts_file())
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        let _ = agent.kill();
        let _ = agent.wait();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("logged in through the agent"), "{text}");
        return;
    };
    let mut t = SshTarget::new("testhost", "127.0.0.1", port.parse().unwrap(), "plyssh");
    // No usable key file: only the agent can log in.
    t.identity_files = vec![PathBuf::from("/nonexistent/key")];
    t.host_key_policy = HostKeyPolicy::Strict;
    t.known_hosts_files = vec![PathBuf::from(std::env::var("PLY_SSH_KNOWN_HOSTS").unwrap())];
    let conn = connect(t.clone()).await;
    assert_eq!(sh(&conn, "id -un").await.1, "plyssh\n");
    eprintln!("logged in through the agent");
    t.use_agent = false;
    let message = unreachable_message(SshConnection::connect(t).await);
    assert!(
        message.contains("/nonexistent/key does not exist"),
        "{message}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
