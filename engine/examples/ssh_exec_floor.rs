//! The SSH floor ply's per-task cost is judged against: `true` run N times, one after another, on one open
//! connection through the same `SshConnection` ply uses, after a few warm-up execs. The benchmark
//! (`tests/bench`) runs it in the same session as the playbooks, so the ratio is not skewed by a noisy
//! machine.
//!
//! `ssh_exec_floor ADDRESS PORT USER KEY RUNS` prints one line: `median_ms min_ms max_ms`.

use engine::connection::ssh::known_hosts::HostKeyPolicy;
use engine::connection::{CommandRequest, Connection, SshConnection, SshTarget};
use std::time::{Duration, Instant};

const WARM_UP_EXECS: usize = 5;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [address, port, user, key, runs] = args.as_slice() else {
        eprintln!("usage: ssh_exec_floor ADDRESS PORT USER KEY RUNS");
        std::process::exit(2);
    };
    let mut target = SshTarget::new(
        "floor",
        address.as_str(),
        port.parse().expect("PORT is a number"),
        user.as_str(),
    );
    target.identity_files = vec![key.into()];
    target.use_agent = false;
    target.host_key_policy = HostKeyPolicy::Off;
    let runs: usize = runs.parse().expect("RUNS is a number");
    let connection = SshConnection::connect(target).await.expect("connects");
    let request = CommandRequest::argv(["true"]);
    let mut samples = Vec::with_capacity(runs);
    for k in 0..WARM_UP_EXECS + runs {
        let started = Instant::now();
        let output = connection.run(&request).await.expect("exec runs");
        assert_eq!(output.rc, 0, "`true` failed on the floor connection");
        if k >= WARM_UP_EXECS {
            samples.push(started.elapsed());
        }
    }
    connection.close().await;
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:.3} {:.3} {:.3}",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}
