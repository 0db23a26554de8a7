//! The benchmark harness's quick mode (tests/bench, `ply-bench --quick`): ply alone on small versions of
//! every workload against a throwaway sshd. It proves the harness works (generation, cgroup measurement,
//! end-state checks, the report) so the full side-by-side run is not the first to find it broken; the
//! figures themselves are not checked here, CI machines are too noisy for that.

use std::process::Command;

#[test]
fn quick_mode_runs_every_workload_and_reports() {
    let output = Command::new(env!("CARGO_BIN_EXE_ply-bench"))
        .args(["--quick", "--debug-build"])
        .output()
        .expect("ply-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ply-bench --quick failed ({:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );
    for row in [
        "| W1 1 host x 10 lineinfile | changing | ply |",
        "| W1 1 host x 10 lineinfile | converged | ply |",
        "| W2 3 hosts x 10 mixed | converged | ply |",
        "| W3 10 hosts x 5 mixed | converged | ply |",
        "| W5 1 host, copy 4 MiB | changing | ply |",
    ] {
        assert!(stdout.contains(row), "no row {row:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains("bare russh exec of `true`"),
        "no floor in:\n{stdout}"
    );
}
