//! W4: the bundled replication playbook in check mode on a converged container lab (a primary and two
//! standbys). ply alone: the playbook drives PostgreSQL through ply's own `sql` module, which neither
//! ansible-core (community.postgresql is a separate collection needing psycopg2 on the targets, and the
//! lab hosts have no Python) nor pyinfra has, so there is no equivalent to run side by side.

use crate::measure::{Meter, Sample};
use ply_tests::lab::{recap, Lab};
use ply_tests::workspace_root;
use std::path::Path;
use std::process::Command;

/// The lab's name (containers ply-bench4-1..3); labs of other names belong to other work.
const LAB_NAME: &str = "bench4";
const PASSWORD: &str = "ply-bench-replication";

fn command(ply: &Path, lab: &Lab, check: bool) -> Command {
    let mut command = Command::new(ply);
    command
        .args(["run", "playbooks/replication.yml", "-i"])
        .arg(&lab.inventory)
        .arg("-e")
        .arg(format!("replication_password={PASSWORD}"))
        .args(["-f", "3"])
        .current_dir(workspace_root())
        .env("NO_COLOR", "1");
    if check {
        command.arg("--check");
    }
    command
}

/// Brings the lab up, converges it with a real run, then measures `reps` check-mode runs, each of which
/// must report no change on any host.
pub fn check_mode_samples(ply: &Path, meter: &Meter, reps: usize) -> Vec<Sample> {
    let lab = Lab::up(LAB_NAME, "bookworm", 3);
    let converge = command(ply, &lab, false)
        .output()
        .expect("ply runs the replication playbook");
    assert!(
        converge.status.success(),
        "converging the lab failed:\n{}{}",
        String::from_utf8_lossy(&converge.stdout),
        String::from_utf8_lossy(&converge.stderr)
    );
    (0..reps)
        .map(|_| {
            let sample = meter.run(&command(ply, &lab, true));
            assert!(
                sample.success,
                "replication --check failed:\n{}",
                sample.output
            );
            for (host, [_, changed, unreachable, failed]) in recap(&sample.output) {
                assert_eq!(
                    (changed, unreachable, failed),
                    (0, 0, 0),
                    "{host}: --check on the converged lab is not clean:\n{}",
                    sample.output
                );
            }
            sample
        })
        .collect()
}

/// Tasks the check run goes through per host, from its recap (ok + skipped would need parsing; ok is
/// what ran).
pub fn tasks_per_host(sample: &Sample) -> usize {
    recap(&sample.output)
        .first()
        .map_or(1, |(_, [ok, ..])| (*ok as usize).max(1))
}
