//! The local connection, the check-mode overlay and fact gathering, against this machine: real commands,
//! real files, real sudo.
//!
//! Plain `cargo test` runs what any user can: commands, timeouts, the user's own files, the overlay's
//! removals and directories, facts. The tests that need root are built only with
//! `--features system-tests` (tests/run turns it on): they run as root with `sudo` installed, become
//! `nobody` and a test user `plytest` created here when absent, own files as other users, and the
//! password test adds a sudoer `plysudo` with a random password and a sudoers drop-in that it removes
//! afterwards.

use engine::connection::{
    gather_facts, parse_facts, shell_ops, CheckOverlay, CommandRequest, Connection,
    ConnectionError, FileAttributes, FileKind, LocalConnection, Program, FACTS_SCRIPT,
};
#[cfg(feature = "system-tests")]
use engine::connection::{Become, BecomeMethod, Recorded, Secret};
use std::fs;
#[cfg(feature = "system-tests")]
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
#[cfg(feature = "system-tests")]
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn local() -> LocalConnection {
    LocalConnection::new("localhost")
}

fn sh(cmd: &str) -> String {
    let out = Command::new("/bin/sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[cfg(feature = "system-tests")]
fn sudo_become(user: &str) -> Become {
    assert!(
        Path::new("/usr/bin/sudo").exists(),
        "these tests need sudo installed (.ci/run installs it)"
    );
    Become {
        user: user.to_string(),
        method: BecomeMethod::Sudo,
        password: None,
        flags: None,
        exe: None,
    }
}

/// The unprivileged test user, created once per run when absent.
#[cfg(feature = "system-tests")]
fn test_user() -> &'static str {
    static USER: OnceLock<()> = OnceLock::new();
    USER.get_or_init(|| {
        if !Command::new("id")
            .arg("plytest")
            .output()
            .unwrap()
            .status
            .success()
        {
            let ok = Command::new("useradd")
                .args(["-m", "-s", "/bin/sh", "plytest"])
                .status()
                .unwrap()
                .success();
            assert!(ok, "useradd plytest failed (these tests run as root)");
        }
    });
    "plytest"
}

#[cfg(feature = "system-tests")]
fn uid(user: &str) -> u32 {
    sh(&format!("id -u {user}")).parse().unwrap()
}

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ply-tmp"))
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

// ---------------------------------------------------------------- commands

#[tokio::test]
async fn runs_argv_without_a_shell_and_scripts_with_one() {
    let c = local();
    let out = c
        .run(&CommandRequest::argv([
            "printf", "%s|", "a b", "$HOME", "*",
        ]))
        .await
        .unwrap();
    assert_eq!(out.rc, 0);
    assert_eq!(out.stdout, b"a b|$HOME|*|");

    let out = c
        .run(&CommandRequest::shell("echo out; echo err >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(
        (out.rc, &out.stdout[..], &out.stderr[..]),
        (3, &b"out\n"[..], &b"err\n"[..])
    );

    let bash = CommandRequest::new(Program::Shell {
        script: "echo ${BASH_VERSION:+bash}".into(),
        executable: Some("/bin/bash".into()),
    });
    assert_eq!(c.run(&bash).await.unwrap().stdout, b"bash\n");

    let missing = c
        .run(&CommandRequest::argv(["/no/such/program"]))
        .await
        .unwrap();
    assert_eq!(missing.rc, 127);
    let killed = c.run(&CommandRequest::shell("kill -9 $$")).await.unwrap();
    assert_eq!(killed.rc, 128 + 9);
}

#[tokio::test]
async fn passes_stdin_env_and_cwd() {
    let c = local();
    let dir = tempfile::tempdir().unwrap();
    let mut req = CommandRequest::shell("cat; printf '%s|%s|' \"$PLY_A\" \"$PLY_B\"; pwd");
    req.stdin = Some(b"input\n".to_vec());
    req.env = vec![
        ("PLY_A".into(), "x y".into()),
        ("PLY_B".into(), "it's $(here)".into()),
    ];
    req.cwd = Some(dir.path().to_string_lossy().into_owned());
    let out = c.run(&req).await.unwrap();
    let expected = format!(
        "input\nx y|it's $(here)|{}\n",
        fs::canonicalize(dir.path()).unwrap().display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let mut bad = CommandRequest::argv(["true"]);
    bad.cwd = Some("/no/such/dir".into());
    assert!(matches!(
        c.run(&bad).await,
        Err(ConnectionError::File { .. })
    ));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let c = local();
    let tag = format!("{}.{}", std::process::id(), 4242);
    let mut req = CommandRequest::shell(format!("sleep {tag} & sleep {tag}; echo never"));
    req.timeout = Some(Duration::from_millis(300));
    let start = Instant::now();
    let err = c.run(&req).await.unwrap_err();
    assert!(matches!(err, ConnectionError::Timeout(d) if d == Duration::from_millis(300)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sh(&format!("pgrep -f '[s]leep {tag}' || true")),
        "",
        "children survived"
    );

    let mut quick = CommandRequest::shell("echo fast");
    quick.timeout = Some(Duration::from_secs(5));
    assert_eq!(c.run(&quick).await.unwrap().stdout, b"fast\n");
}

#[tokio::test]
async fn big_output_both_ways_does_not_deadlock() {
    let c = local();
    let ten_mib = 10 * 1024 * 1024;
    let mut req = CommandRequest::shell(format!(
        "head -c {ten_mib} /dev/zero; head -c {ten_mib} /dev/zero >&2"
    ));
    req.timeout = Some(Duration::from_secs(60));
    let out = c.run(&req).await.unwrap();
    assert_eq!((out.stdout.len(), out.stderr.len()), (ten_mib, ten_mib));

    let input: Vec<u8> = (0..ten_mib).map(|i| (i % 251) as u8).collect();
    let mut echo = CommandRequest::argv(["cat"]);
    echo.stdin = Some(input.clone());
    echo.timeout = Some(Duration::from_secs(60));
    assert!(c.run(&echo).await.unwrap().stdout == input);

    // A command that ignores its stdin must not make ply fail on the closed pipe.
    let mut ignore = CommandRequest::argv(["true"]);
    ignore.stdin = Some(input);
    assert_eq!(c.run(&ignore).await.unwrap().rc, 0);
}

// ---------------------------------------------------------------- become

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn become_runs_as_the_target_user_with_env_cwd_and_stdin() {
    let c = local();
    let user = test_user();
    let mut req = CommandRequest::shell("id -un; pwd; echo \"$PLY_X\"; cat");
    req.become_ = Some(sudo_become(user));
    req.env = vec![("PLY_X".into(), "kept after sudo".into())];
    req.cwd = Some("/tmp".into());
    req.stdin = Some(b"stdin".to_vec());
    let out = c.run(&req).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{user}\n/tmp\nkept after sudo\nstdin")
    );
    // sudo's own chatter and ply's marker are not the command's stderr.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let mut fails = CommandRequest::shell("echo oops >&2; exit 4");
    fails.become_ = Some(sudo_become("nobody"));
    let out = c.run(&fails).await.unwrap();
    assert_eq!((out.rc, out.stderr), (4, b"oops\n".to_vec()));

    let mut unknown = CommandRequest::argv(["true"]);
    unknown.become_ = Some(sudo_become("no-such-user-ply"));
    match c.run(&unknown).await {
        Err(ConnectionError::Become(msg)) => assert!(msg.contains("no-such-user-ply"), "{msg}"),
        other => panic!("expected a become error, got {other:?}"),
    }
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn become_as_self_skips_sudo_and_su_works_for_root() {
    let c = local();
    let me = c.user().to_string();
    let mut req = CommandRequest::argv(["id", "-un"]);
    // A bogus flag would make sudo fail: it is not used at all when ply already is the user.
    req.become_ = Some(Become {
        flags: Some("--no-such-flag".into()),
        ..sudo_become(&me)
    });
    assert_eq!(
        c.run(&req).await.unwrap().stdout,
        format!("{me}\n").into_bytes()
    );

    let mut su = CommandRequest::shell("id -un; cat");
    su.stdin = Some(b"via su".to_vec());
    su.become_ = Some(Become {
        method: BecomeMethod::Su,
        ..sudo_become(test_user())
    });
    let out = c.run(&su).await.unwrap();
    assert_eq!(out.stdout, b"plytest\nvia su");
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn become_timeout_kills_the_command() {
    let c = local();
    let tag = format!("{}.{}", std::process::id(), 4343);
    let mut req = CommandRequest::shell(format!("sleep {tag} & sleep {tag}"));
    req.become_ = Some(sudo_become(test_user()));
    req.timeout = Some(Duration::from_millis(500));
    assert!(matches!(
        c.run(&req).await,
        Err(ConnectionError::Timeout(_))
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sh(&format!("pgrep -f '[s]leep {tag}' || true")),
        "",
        "command survived"
    );
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn an_unneeded_password_never_reaches_the_command() {
    // root needs no password for sudo, so sudo never asks: the stdin is the command's alone.
    let c = local();
    let mut req = CommandRequest::argv(["cat"]);
    req.stdin = Some(b"only this".to_vec());
    req.become_ = Some(Become {
        password: Some(Secret::new("not-for-cat")),
        ..sudo_become("nobody")
    });
    assert_eq!(c.run(&req).await.unwrap().stdout, b"only this");
}

/// Runs the password cases as a sudoer with a password: this test re-runs its own binary as `plysudo`
/// (sudo never asks root), with the password in the environment, never on a command line.
#[cfg(feature = "system-tests")]
#[test]
fn sudo_password_right_and_wrong() {
    if let Ok(password) = std::env::var("PLY_TEST_SUDO_PASSWORD") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(password_cases(password));
    }
    let _ = sudo_become("root");
    let password = format!("pw-{}", shell_ops::random_token(16));
    let guard = Sudoer::create(&password);
    let exe = std::env::current_exe().unwrap();
    let copy = guard.dir.path().join("connection_local");
    fs::copy(&exe, &copy).unwrap();
    fs::set_permissions(guard.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("su")
        .args(["-s", "/bin/sh", "-c"])
        .arg(format!(
            "cd /tmp && exec {} --exact sudo_password_right_and_wrong --nocapture",
            copy.display()
        ))
        .arg("plysudo")
        .env("PLY_TEST_SUDO_PASSWORD", &password)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "as plysudo:\n{text}");
    assert!(text.contains("1 passed"), "{text}");
    assert!(
        !text.contains(&password),
        "the password leaked into output:\n{text}"
    );
}

#[cfg(feature = "system-tests")]
async fn password_cases(password: String) {
    let c = local();
    assert_eq!(c.user(), "plysudo");
    let become_root = |pw: &str| Become {
        password: Some(Secret::new(pw)),
        ..sudo_become("root")
    };
    let mut req = CommandRequest::shell("id -un; cat");
    req.stdin = Some(b"after the password".to_vec());
    req.become_ = Some(become_root(&password));
    let out = c.run(&req).await.unwrap();
    assert_eq!(out.stdout, b"root\nafter the password");
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // File operations go through the same sudo, password and all.
    let path = format!("/root/ply-pw-test-{}", std::process::id());
    c.write_file(
        &path,
        b"secret file",
        &FileAttributes::default(),
        req.become_.as_ref(),
    )
    .await
    .unwrap();
    let read = c.read_file(&path, req.become_.as_ref()).await.unwrap();
    assert_eq!(read.as_deref(), Some(&b"secret file"[..]));
    let st = c
        .stat(&path, false, req.become_.as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.owner.as_str(), st.mode), ("root", 0o644));
    let mut rm = CommandRequest::argv(["rm", "-f", &path]);
    rm.become_ = req.become_.clone();
    c.run(&rm).await.unwrap();

    req.become_ = Some(become_root("wrong-password"));
    match c.run(&req).await {
        Err(ConnectionError::Become(msg)) => {
            assert!(msg.contains("Sorry") || msg.contains("incorrect"), "{msg}");
            assert!(!msg.contains("[ply-sudo-"), "prompt marker left in {msg}");
        }
        other => panic!("expected a become error, got {other:?}"),
    }

    req.become_ = Some(sudo_become("root"));
    match c.run(&req).await {
        Err(ConnectionError::Become(msg)) => assert!(msg.contains("password"), "{msg}"),
        other => panic!("expected a become error without a password, got {other:?}"),
    }
}

/// A sudoer with a password, removed (with its sudoers drop-in) on drop.
#[cfg(feature = "system-tests")]
struct Sudoer {
    dir: tempfile::TempDir,
}

#[cfg(feature = "system-tests")]
impl Sudoer {
    fn create(password: &str) -> Self {
        use std::io::Write;
        let _ = Command::new("userdel").args(["-r", "plysudo"]).output();
        assert!(Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "plysudo"])
            .status()
            .unwrap()
            .success());
        let mut chpasswd = Command::new("chpasswd")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(chpasswd.stdin.take().unwrap(), "plysudo:{password}").unwrap();
        assert!(chpasswd.wait().unwrap().success());
        // No cached credentials: every case must really authenticate.
        fs::write(
            "/etc/sudoers.d/ply-test",
            "Defaults:plysudo timestamp_timeout=0, !lecture\nplysudo ALL=(ALL:ALL) ALL\n",
        )
        .unwrap();
        fs::set_permissions("/etc/sudoers.d/ply-test", fs::Permissions::from_mode(0o440)).unwrap();
        Sudoer {
            dir: tempfile::Builder::new()
                .prefix("ply-sudo-test")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }
}

#[cfg(feature = "system-tests")]
impl Drop for Sudoer {
    fn drop(&mut self) {
        let _ = fs::remove_file("/etc/sudoers.d/ply-test");
        let _ = Command::new("userdel").args(["-r", "plysudo"]).output();
    }
}

// ---------------------------------------------------------------- files

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn write_creates_with_defaults_and_keeps_attributes_of_the_old_file() {
    let c = local();
    let user = test_user();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf");
    let p = path.to_str().unwrap();

    c.write_file(p, b"one\n", &FileAttributes::default(), None)
        .await
        .unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o644, 0));
    assert_eq!(fs::read(&path).unwrap(), b"one\n");

    // Ownership and mode of the file being replaced survive a write that does not set them.
    sh(&format!("chown {user}:{user} {p} && chmod 0640 {p}"));
    c.write_file(p, b"two\n", &FileAttributes::default(), None)
        .await
        .unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o640, uid(user)));
    assert_eq!(fs::read(&path).unwrap(), b"two\n");

    let attrs = FileAttributes {
        mode: Some(0o4750),
        owner: Some("root".into()),
        group: Some(user.into()),
    };
    c.write_file(p, b"three\n", &attrs, None).await.unwrap();
    let st = c.stat(p, true, None).await.unwrap().unwrap();
    assert_eq!(
        (st.mode, st.owner.as_str(), st.group.as_str(), st.size),
        (0o4750, "root", user, 6)
    );

    let bad = FileAttributes {
        owner: Some("no-such-user-ply".into()),
        ..Default::default()
    };
    assert!(c.write_file(p, b"x", &bad, None).await.is_err());
    assert_eq!(fs::read(&path).unwrap(), b"three\n");
    let missing_dir = dir.path().join("nope/file");
    assert!(matches!(
        c.write_file(
            missing_dir.to_str().unwrap(),
            b"x",
            &FileAttributes::default(),
            None
        )
        .await,
        Err(ConnectionError::File { .. })
    ));
    no_temp_files(dir.path());
}

#[tokio::test]
async fn write_goes_through_a_symlink_and_keeps_it() {
    let c = local();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real");
    let link = dir.path().join("link");
    fs::write(&target, "old").unwrap();
    std::os::unix::fs::symlink("real", &link).unwrap();
    c.write_file(
        link.to_str().unwrap(),
        b"new",
        &FileAttributes::default(),
        None,
    )
    .await
    .unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(&target).unwrap(), b"new");
    no_temp_files(dir.path());
}

#[tokio::test]
async fn readers_never_see_half_a_file() {
    let c = local();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let size = 4 * 1024 * 1024;
    let a = vec![b'a'; size];
    let b = vec![b'b'; size];
    fs::write(&path, &a).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let data = fs::read(&path).expect("the file always exists");
                assert_eq!(data.len(), size, "partial file seen");
                assert!(data.iter().all(|&x| x == data[0]), "mixed content seen");
                reads += 1;
            }
            reads
        })
    };
    for i in 0..20 {
        let content = if i % 2 == 0 { &b } else { &a };
        c.write_file(
            path.to_str().unwrap(),
            content,
            &FileAttributes::default(),
            None,
        )
        .await
        .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    no_temp_files(dir.path());
}

#[tokio::test]
async fn stat_and_read_see_files_dirs_links_and_nothing() {
    let c = local();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("f"), "12345").unwrap();
    fs::set_permissions(d.join("f"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("f", d.join("l")).unwrap();
    std::os::unix::fs::symlink("missing", d.join("dangling")).unwrap();
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();

    // Owned by whoever runs the tests: root under tests/run, any user under plain `cargo test`.
    let f = c.stat(&p("f"), false, None).await.unwrap().unwrap();
    assert_eq!(
        (f.kind, f.mode, f.size, f.owner, f.group),
        (FileKind::File, 0o600, 5, sh("id -un"), sh("id -gn"))
    );
    assert!(f.mtime > 1e9 && f.link_target.is_none());
    let dir_stat = c.stat(&p(""), false, None).await.unwrap().unwrap();
    assert_eq!(dir_stat.kind, FileKind::Directory);
    let l = c.stat(&p("l"), false, None).await.unwrap().unwrap();
    assert_eq!(
        (l.kind, l.link_target.as_deref()),
        (FileKind::Symlink, Some("f"))
    );
    let followed = c.stat(&p("l"), true, None).await.unwrap().unwrap();
    assert_eq!((followed.kind, followed.size), (FileKind::File, 5));
    assert!(c.stat(&p("missing"), false, None).await.unwrap().is_none());
    assert!(c
        .stat(&p("f/below-a-file"), false, None)
        .await
        .unwrap()
        .is_none());
    assert!(c.stat(&p("dangling"), true, None).await.unwrap().is_none());
    assert_eq!(
        c.stat(&p("dangling"), false, None)
            .await
            .unwrap()
            .unwrap()
            .kind,
        FileKind::Symlink
    );

    assert_eq!(c.read_file(&p("l"), None).await.unwrap().unwrap(), b"12345");
    assert!(c.read_file(&p("missing"), None).await.unwrap().is_none());
    assert!(c.read_file(&p("f/x"), None).await.unwrap().is_none());
    assert!(c.read_file(&p(""), None).await.is_err());

    // The shell implementation (what SSH uses) agrees with the native one, but for sub-second times.
    for (name, follow) in [
        ("f", false),
        ("", false),
        ("l", false),
        ("l", true),
        ("dangling", false),
        ("missing", false),
        ("dangling", true),
    ] {
        let native = c.stat(&p(name), follow, None).await.unwrap();
        let shell = shell_ops::stat(&c, &p(name), follow, None).await.unwrap();
        match (native, shell) {
            (Some(mut n), Some(s)) => {
                n.mtime = n.mtime.trunc();
                assert_eq!(n, s, "{name} follow={follow}");
            }
            (n, s) => assert_eq!(n.is_none(), s.is_none(), "{name} follow={follow}"),
        }
        assert_eq!(
            c.read_file(&p(name), None).await.ok(),
            shell_ops::read_file(&c, &p(name), None).await.ok(),
            "{name}"
        );
    }
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn shell_write_matches_the_native_write() {
    let c = local();
    let user = test_user();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("it's a file");
    let p = path.to_str().unwrap();
    shell_ops::write_file(&c, p, b"first", &FileAttributes::default(), None)
        .await
        .unwrap();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
    sh(&format!(
        "chown {user} {} && chmod 600 {}",
        shell_ops::shell_quote(p),
        shell_ops::shell_quote(p)
    ));
    shell_ops::write_file(&c, p, b"second", &FileAttributes::default(), None)
        .await
        .unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, uid(user)));
    let attrs = FileAttributes {
        mode: Some(0o640),
        owner: Some("root".into()),
        group: Some(user.into()),
    };
    shell_ops::write_file(&c, p, b"third", &attrs, None)
        .await
        .unwrap();
    let st = c.stat(p, false, None).await.unwrap().unwrap();
    assert_eq!(
        (st.mode, st.owner.as_str(), st.group.as_str()),
        (0o640, "root", user)
    );
    assert_eq!(fs::read(&path).unwrap(), b"third");
    no_temp_files(dir.path());
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn file_operations_with_become_act_as_the_target_user() {
    let c = local();
    let user = test_user();
    let b = sudo_become(user);
    let dir = tempfile::tempdir().unwrap();
    sh(&format!("chown {user} {}", dir.path().display()));
    let path = dir.path().join("mine");
    let p = path.to_str().unwrap();

    c.write_file(
        p,
        b"as plytest",
        &FileAttributes {
            mode: Some(0o600),
            ..Default::default()
        },
        Some(&b),
    )
    .await
    .unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (uid(user), 0o600));
    assert_eq!(
        c.read_file(p, Some(&b)).await.unwrap().unwrap(),
        b"as plytest"
    );
    let st = c.stat(p, false, Some(&b)).await.unwrap().unwrap();
    assert_eq!((st.owner.as_str(), st.mode, st.size), (user, 0o600, 10));

    // The target user's permissions apply: a root-only file is unreadable, not missing.
    let secret = dir.path().join("root-only");
    fs::write(&secret, "x").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        c.read_file(secret.to_str().unwrap(), Some(&b)).await,
        Err(ConnectionError::File { .. })
    ));
    assert!(c
        .read_file(&format!("{p}.missing"), Some(&b))
        .await
        .unwrap()
        .is_none());
    no_temp_files(dir.path());
}

// ---------------------------------------------------------------- check-mode overlay

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn overlay_records_writes_without_touching_the_host() {
    let user = test_user();
    let host: Arc<dyn Connection> = Arc::new(local());
    let overlay = CheckOverlay::new(host.clone());
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing");
    fs::write(&existing, "on disk").unwrap();
    sh(&format!(
        "chown {user} {0} && chmod 604 {0}",
        existing.display()
    ));
    let e = existing.to_str().unwrap();

    overlay
        .write_file(e, b"would be", &FileAttributes::default(), None)
        .await
        .unwrap();
    assert_eq!(fs::read(&existing).unwrap(), b"on disk");
    assert_eq!(
        overlay.read_file(e, None).await.unwrap().unwrap(),
        b"would be"
    );
    let st = overlay.stat(e, false, None).await.unwrap().unwrap();
    assert_eq!(
        (st.kind, st.size, st.mode, st.owner.as_str()),
        (FileKind::File, 8, 0o604, user)
    );

    // A second write (as a later task would) replaces the first; given attributes win.
    let attrs = FileAttributes {
        mode: Some(0o600),
        owner: None,
        group: Some("root".into()),
    };
    overlay.write_file(e, b"again", &attrs, None).await.unwrap();
    assert_eq!(overlay.read_file(e, None).await.unwrap().unwrap(), b"again");
    let st = overlay.stat(e, true, None).await.unwrap().unwrap();
    assert_eq!(
        (
            st.size,
            st.mode,
            st.owner.as_str(),
            st.group.as_str(),
            st.gid
        ),
        (5, 0o600, user, "root", 0)
    );

    // A new file: the connecting user's, 0644.
    let new = dir.path().join("new");
    let n = new.to_str().unwrap();
    overlay
        .write_file(n, b"x", &FileAttributes::default(), None)
        .await
        .unwrap();
    assert!(!new.exists());
    let st = overlay.stat(n, false, None).await.unwrap().unwrap();
    assert_eq!((st.mode, st.owner.as_str(), st.uid), (0o644, "root", 0));
    let owned = FileAttributes {
        owner: Some(user.into()),
        ..Default::default()
    };
    overlay
        .write_file(&format!("{n}2"), b"", &owned, None)
        .await
        .unwrap();
    let st = overlay
        .stat(&format!("{n}2"), false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (st.uid, st.owner.as_str(), st.group.as_str()),
        (uid(user), user, "root")
    );

    // The host underneath, and commands, are untouched by what was recorded.
    assert_eq!(host.read_file(e, None).await.unwrap().unwrap(), b"on disk");
    let out = overlay
        .run(&CommandRequest::argv(["cat", e]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"on disk");
    assert!(matches!(
        overlay
            .write_file(
                &format!("{}/no/dir/f", dir.path().display()),
                b"",
                &FileAttributes::default(),
                None
            )
            .await,
        Err(ConnectionError::File { .. })
    ));
    assert!(matches!(
        overlay.recorded().get(e),
        Some(Recorded::File { .. })
    ));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn overlay_records_removals_and_directories() {
    let overlay = CheckOverlay::new(Arc::new(local()));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("sub/file"), "content").unwrap();
    fs::write(dir.path().join("keep"), "kept").unwrap();

    overlay.record_absent(&format!("{d}/sub"));
    assert!(overlay
        .stat(&format!("{d}/sub"), false, None)
        .await
        .unwrap()
        .is_none());
    assert!(overlay
        .read_file(&format!("{d}/sub/file"), None)
        .await
        .unwrap()
        .is_none());
    assert!(overlay
        .stat(&format!("{d}//sub/./file"), true, None)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        overlay
            .read_file(&format!("{d}/keep"), None)
            .await
            .unwrap()
            .unwrap(),
        b"kept"
    );
    assert!(dir.path().join("sub/file").exists());
    // A file cannot be written into a removed directory...
    assert!(overlay
        .write_file(
            &format!("{d}/sub/file"),
            b"x",
            &FileAttributes::default(),
            None
        )
        .await
        .is_err());

    // ...until it is recreated, and then it is empty.
    let attrs = FileAttributes {
        mode: Some(0o700),
        ..Default::default()
    };
    overlay
        .record_directory(&format!("{d}/sub"), &attrs, None)
        .await
        .unwrap();
    let st = overlay
        .stat(&format!("{d}/sub"), false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.kind, st.mode), (FileKind::Directory, 0o700));
    assert!(overlay
        .read_file(&format!("{d}/sub/file"), None)
        .await
        .unwrap()
        .is_none());
    overlay
        .write_file(
            &format!("{d}/sub/new"),
            b"n",
            &FileAttributes::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        overlay
            .read_file(&format!("{d}/sub/new"), None)
            .await
            .unwrap()
            .unwrap(),
        b"n"
    );

    // A new directory with a file in it; the host has neither.
    overlay
        .record_directory(&format!("{d}/fresh"), &FileAttributes::default(), None)
        .await
        .unwrap();
    overlay
        .write_file(
            &format!("{d}/fresh/f"),
            b"f",
            &FileAttributes::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        overlay
            .stat(&format!("{d}/fresh"), false, None)
            .await
            .unwrap()
            .unwrap()
            .mode,
        0o755
    );
    assert!(!dir.path().join("fresh").exists());
    assert!(overlay
        .read_file(&format!("{d}/fresh"), None)
        .await
        .is_err());

    // Removing a recorded file forgets the would-be content.
    overlay.record_absent(&format!("{d}/fresh/f"));
    assert!(overlay
        .read_file(&format!("{d}/fresh/f"), None)
        .await
        .unwrap()
        .is_none());
    assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
}

// ---------------------------------------------------------------- facts

#[tokio::test]
async fn facts_match_what_the_machine_says() {
    let c = local();
    let start = Instant::now();
    let f = gather_facts(&c).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));

    let node = fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(f["nodename"], node.as_str());
    assert_eq!(f["hostname"], node.split('.').next().unwrap());
    assert_eq!(f["system"], "Linux");
    assert_eq!(
        f["kernel"],
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim()
    );
    assert_eq!(f["machine"], sh("uname -m").as_str());
    assert_eq!(f["user_uid"], sh("id -u").parse::<u64>().unwrap());
    assert_eq!(f["user_gid"], sh("id -g").parse::<u64>().unwrap());
    assert_eq!(f["user_id"], sh("id -un").as_str());
    assert_eq!(
        f["user_dir"],
        sh("getent passwd $(id -un) | cut -d: -f6").as_str()
    );
    assert_eq!(f["env"]["PATH"], std::env::var("PATH").unwrap().as_str());

    let os_release = fs::read_to_string("/etc/os-release").unwrap();
    if os_release.lines().any(|l| l == "ID=debian") {
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["os_family"], "Debian");
        let version = fs::read_to_string("/etc/debian_version")
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(f["distribution_version"], version.as_str());
        assert_eq!(
            f["distribution_major_version"],
            version.split('.').next().unwrap()
        );
        let codename = os_release
            .lines()
            .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
            .unwrap();
        assert_eq!(f["distribution_release"], codename);
        assert_eq!(f["pkg_mgr"], "apt");
    }

    let comm = fs::read_to_string("/proc/1/comm")
        .unwrap()
        .trim()
        .to_string();
    if comm != "init" && !comm.ends_with("sh") {
        let expected = if comm == "procd" {
            "openwrt_init".to_string()
        } else {
            comm
        };
        assert_eq!(f["service_mgr"], expected.as_str());
    } else {
        assert!(!f["service_mgr"].as_str().unwrap().is_empty());
    }

    let mem_kb: u64 = fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(f["memtotal_mb"], mem_kb / 1024);
    assert_eq!(f["processor_nproc"], sh("nproc").parse::<u64>().unwrap());
    let logical = fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count() as u64;
    assert_eq!(f["processor_vcpus"], logical);

    let epoch: u64 = f["date_time"]["epoch"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(epoch) < 10);
    assert!(f["date_time"]["iso8601"].as_str().unwrap().ends_with('Z'));

    // The default route as /proc/net/route has it.
    let route = fs::read_to_string("/proc/net/route").unwrap();
    if let Some(default) = route
        .lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(1) == Some("00000000"))
    {
        let iface = default.split_whitespace().next().unwrap();
        assert_eq!(f["default_ipv4"]["interface"], iface);
        let addr = f["default_ipv4"]["address"].as_str().unwrap();
        assert!(f["all_ipv4_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == addr));
        assert!(fs::read_to_string("/proc/net/fib_trie")
            .unwrap()
            .contains(addr));
    }
}

#[tokio::test]
async fn facts_without_ip_come_from_proc_and_agree() {
    let c = local();
    let with_ip = gather_facts(&c).await.unwrap();
    // A PATH with everything but `ip`, as on a minimal Debian without iproute2.
    let bin = tempfile::tempdir().unwrap();
    for d in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let Ok(entries) = fs::read_dir(d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = bin.path().join(&name);
            if name != "ip" && !link.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), link);
            }
        }
    }
    let mut req = CommandRequest::shell(FACTS_SCRIPT);
    req.env = vec![("PATH".into(), bin.path().to_string_lossy().into_owned())];
    let out = c.run(&req).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("@@ply-section proc_route") && !text.contains("@@ply-section addr4"));
    let without = parse_facts(&text);
    for key in ["interface", "address", "gateway", "netmask", "network"] {
        assert_eq!(
            without["default_ipv4"][key], with_ip["default_ipv4"][key],
            "default_ipv4.{key}"
        );
    }
    let sorted = |v: &serde_json::Value| {
        let mut a: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        a.sort();
        a
    };
    assert_eq!(
        sorted(&without["all_ipv4_addresses"]),
        sorted(&with_ip["all_ipv4_addresses"])
    );
    assert_eq!(
        sorted(&without["all_ipv6_addresses"]),
        sorted(&with_ip["all_ipv6_addresses"])
    );
}
