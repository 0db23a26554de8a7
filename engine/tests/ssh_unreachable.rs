//! `SshConnection` to hosts that cannot be reached: a refused port and a listener that never speaks
//! SSH, on loopback. Needs no server, so it runs with plain `cargo test`; everything that needs the
//! throwaway sshd is in ssh_connection.rs (`--features system-tests`).

use engine::connection::{ConnectionError, SshConnection, SshTarget};
use std::time::{Duration, Instant};

fn unreachable_message(result: Result<SshConnection, ConnectionError>) -> String {
    match result {
        Err(ConnectionError::Unreachable(message)) => message,
        Err(other) => panic!("expected Unreachable, got {other:?}"),
        Ok(_) => panic!("expected Unreachable, but it connected"),
    }
}

#[tokio::test]
async fn refused_port_and_timeout_are_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut t = SshTarget::new("gone", "127.0.0.1", port, "nobody");
    t.use_agent = false;
    let message = unreachable_message(SshConnection::connect(t).await);
    assert!(message.contains("refused"), "{message}");

    // A listener that never speaks SSH: the connect timeout must fire.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut t = SshTarget::new(
        "silent",
        "127.0.0.1",
        silent.local_addr().unwrap().port(),
        "nobody",
    );
    t.use_agent = false;
    t.connect_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let message = unreachable_message(SshConnection::connect(t).await);
    assert!(message.contains("timed out"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
