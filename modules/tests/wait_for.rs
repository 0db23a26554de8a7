//! wait_for against real sockets on 127.0.0.1 and real files, through `modules::execute` on the local
//! host. Each test opens its own listener on a port the kernel picks, so tests never collide.

mod common;

use common::Harness;
use serde_json::json;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    // Bound and released at once: nothing listens there afterwards.
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn started_port_is_found_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Harness::new()
        .run("wait_for", json!({"port": port, "timeout": 5}))
        .await;
    assert!(!r.failed && !r.changed, "{r:?}");
    assert_eq!(r.values["state"], json!("started"));
    assert_eq!(r.values["port"], json!(port));
    assert_eq!(r.values["path"], json!(null));
    assert_eq!(r.values["search_regex"], json!(null));
    assert_eq!(r.values["match_groups"], json!([]));
    assert_eq!(r.values["match_groupdict"], json!({}));
    assert_eq!(r.values["elapsed"], json!(0));
    // localhost means both loopback addresses.
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"host": "localhost", "port": port, "timeout": 5}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
}

#[tokio::test]
async fn waits_for_a_port_that_opens_later() {
    let port = free_port();
    let opener = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_secs(4));
        drop(listener);
    });
    let start = Instant::now();
    let r = Harness::new()
        .run("wait_for", json!({"port": port, "timeout": 10}))
        .await;
    assert!(!r.failed, "{r:?}");
    assert!(start.elapsed() >= Duration::from_millis(1500));
    assert!(r.values["elapsed"].as_u64().unwrap() >= 1, "{r:?}");
    opener.join().unwrap();
}

#[tokio::test]
async fn closed_port_times_out_with_ansibles_message() {
    let port = free_port();
    let start = Instant::now();
    let r = Harness::new()
        .run("wait_for", json!({"port": port, "timeout": 2}))
        .await;
    assert!(r.failed, "{r:?}");
    assert_eq!(
        r.msg,
        Some(format!("Timeout when waiting for 127.0.0.1:{port}"))
    );
    assert_eq!(r.values["elapsed"], json!(2));
    assert!(start.elapsed() < Duration::from_secs(5));

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "timeout": 1, "msg": "db never came up"}),
        )
        .await;
    assert_eq!(r.msg.as_deref(), Some("db never came up"));
}

#[tokio::test]
async fn stopped_waits_for_the_listener_to_go() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "state": "stopped", "timeout": 1}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(
        r.msg,
        Some(format!(
            "Timeout when waiting for 127.0.0.1:{port} to stop."
        ))
    );

    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1200));
        drop(listener);
    });
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "state": "stopped", "timeout": 10}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    assert_eq!(r.values["state"], json!("stopped"));
    closer.join().unwrap();
}

#[tokio::test]
async fn search_regex_reads_the_banner_without_waiting_for_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Like sshd: send a banner, then keep the connection open.
    let server = thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while Instant::now() < deadline {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n");
                held.push(stream);
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    let start = Instant::now();
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "search_regex": r"OpenSSH_(?P<major>\d+)\.(\d+)", "timeout": 30}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    assert_eq!(r.values["match_groups"], json!(["9", "2"]));
    assert_eq!(r.values["match_groupdict"], json!({"major": "9"}));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "search_regex": "never there", "timeout": 2}),
        )
        .await;
    assert_eq!(
        r.msg,
        Some(format!(
            "Timeout when waiting for search string never there in 127.0.0.1:{port}"
        ))
    );
    server.join().unwrap();
}

#[tokio::test]
async fn drained_counts_established_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 1}),
        )
        .await;
    assert!(r.failed, "{r:?}");
    assert_eq!(
        r.msg,
        Some(format!(
            "Timeout when waiting for 127.0.0.1:{port} to drain"
        ))
    );

    // Connections from an excluded address do not count.
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 1, "exclude_hosts": ["127.0.0.1"]}),
        )
        .await;
    assert!(!r.failed, "{r:?}");

    // The client closes first, then the server: the server side never enters TIME_WAIT.
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1200));
        drop(client);
        thread::sleep(Duration::from_millis(100));
        drop(accepted);
    });
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 10}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    closer.join().unwrap();
    drop(listener);
}

#[tokio::test]
async fn files_appear_and_disappear() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    let path = file.display().to_string();

    let writer = {
        let file = file.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(1200));
            std::fs::write(&file, "booting\n").unwrap();
            thread::sleep(Duration::from_millis(1200));
            std::fs::write(&file, "booting\nready on port 8042\n").unwrap();
        })
    };
    let r = Harness::new()
        .run("wait_for", json!({"path": path, "timeout": 10}))
        .await;
    assert!(!r.failed, "{r:?}");
    assert_eq!(r.values["path"], json!(path));
    assert_eq!(r.values["state"], json!("started"));

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"path": path, "search_regex": r"^ready on port (?P<port>\d+)$", "timeout": 10}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    assert_eq!(r.values["match_groups"], json!(["8042"]));
    assert_eq!(r.values["match_groupdict"], json!({"port": "8042"}));
    writer.join().unwrap();

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"path": path, "search_regex": "crashed", "timeout": 1}),
        )
        .await;
    assert_eq!(
        r.msg,
        Some(format!(
            "Timeout when waiting for search string crashed in {path}"
        ))
    );

    let r = Harness::new()
        .run(
            "wait_for",
            json!({"path": path, "state": "absent", "timeout": 1}),
        )
        .await;
    assert_eq!(
        r.msg,
        Some(format!("Timeout when waiting for {path} to be absent."))
    );
    let remover = {
        let file = file.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(1200));
            std::fs::remove_file(&file).unwrap();
        })
    };
    let r = Harness::new()
        .run(
            "wait_for",
            json!({"path": path, "state": "absent", "timeout": 10}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    assert_eq!(r.values["state"], json!("absent"));
    remover.join().unwrap();

    let r = Harness::new()
        .run("wait_for", json!({"path": path, "timeout": 1}))
        .await;
    assert_eq!(r.msg, Some(format!("Timeout when waiting for file {path}")));
    assert_eq!(r.values["elapsed"], json!(1));
}

#[tokio::test]
async fn plain_timeout_sleeps_and_check_mode_skips() {
    let start = Instant::now();
    let r = Harness::new().run("wait_for", json!({"timeout": 1})).await;
    assert!(!r.failed && !r.changed, "{r:?}");
    assert_eq!(r.values["elapsed"], json!(1));
    assert!(start.elapsed() >= Duration::from_secs(1));

    let mut h = Harness::new();
    h.check_mode = true;
    let r = h.run("wait_for", json!({"port": 1, "timeout": 100})).await;
    assert!(r.skipped, "{r:?}");
    assert_eq!(
        r.msg.as_deref(),
        Some("remote module (wait_for) does not support check mode")
    );
}

#[tokio::test]
async fn bad_arguments_fail_with_ansibles_messages() {
    let cases = [
        (
            json!({"port": 1, "path": "/x"}),
            "port and path parameter can not both be passed to wait_for",
        ),
        (
            json!({"path": "/x", "state": "stopped"}),
            "state=stopped should only be used for checking a port in the wait_for module",
        ),
        (
            json!({"path": "/x", "state": "drained"}),
            "state=drained should only be used for checking a port in the wait_for module",
        ),
        (
            json!({"port": 1, "exclude_hosts": ["10.0.0.1"]}),
            "exclude_hosts should only be with state=drained",
        ),
        (
            json!({"port": 1, "state": "drained", "active_connection_states": ["ESTABLISHED", "BOGUS"]}),
            "unknown active_connection_state (BOGUS) defined",
        ),
        (
            json!({"path": "/x", "search_regex": "(unclosed"}),
            "Invalid regular expression: ",
        ),
        (
            json!({"port": 1, "state": "up"}),
            "value of state must be one of: absent, drained, present, started, stopped, got: up",
        ),
    ];
    for (args, expected) in cases {
        let r = Harness::new().run("wait_for", args.clone()).await;
        assert!(r.failed, "{args}");
        let msg = r.msg.unwrap_or_default();
        assert!(msg.starts_with(expected), "{args}: {msg}");
    }
}
