//! The container lab (tests/lab/lab) from Rust: Debian hosts with sshd and PostgreSQL in Docker, one
//! lab per name so several run side by side, removed when the `Lab` is dropped.

use crate::{tests_dir, workspace_root, Ply};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A running lab: hosts `ply-NAME-1..N` (the first is the inventory's primary).
pub struct Lab {
    pub name: String,
    pub suite: String,
    /// (inventory name, address) in inventory order.
    pub hosts: Vec<(String, String)>,
    pub inventory: PathBuf,
}

fn lab_command(name: &str) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(tests_dir().join("lab/lab"))
        .env("PLY_LAB_NAME", name)
        .current_dir(workspace_root());
    command
}

fn checked(mut command: Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The host lines `ply-NAME-K ADDRESS` that `lab up` and `lab add` print on stdout; any other line
/// (stray output of a tool) is ignored rather than taken for a host.
pub fn host_lines(name: &str, stdout: &str) -> Vec<(String, String)> {
    let prefix = format!("ply-{name}-");
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (host, address) = (fields.next()?, fields.next()?);
            let number = host.strip_prefix(&prefix)?;
            let well_formed = fields.next().is_none()
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && address.parse::<std::net::IpAddr>().is_ok();
            well_formed.then(|| (host.to_string(), address.to_string()))
        })
        .collect()
}

impl Lab {
    /// Starts `count` hosts of `suite` (bullseye, bookworm, trixie) under `name`, building the image
    /// the first time. Fails (never skips) when Docker or debootstrap is missing: tests/install-deps
    /// installs them. When `lab up` fails, `lab down` runs before the panic, so nothing is left behind.
    pub fn up(name: &str, suite: &str, count: usize) -> Lab {
        let mut command = lab_command(name);
        command.args(["up", &count.to_string(), suite]);
        let what = format!("lab up {count} {suite} ({name})");
        let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        let hosts = host_lines(name, &String::from_utf8_lossy(&output.stdout));
        if !output.status.success() || hosts.len() != count {
            let down = lab_command(name).arg("down").output();
            panic!(
                "{what} failed ({:?}), {} host line(s) of {count}; `lab down` then: {}\nstdout:\n{}\nstderr:\n{}",
                output.status.code(),
                hosts.len(),
                down.map_or_else(
                    |e| e.to_string(),
                    |o| String::from_utf8_lossy(&o.stderr).trim().to_string()
                ),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Lab {
            name: name.to_string(),
            suite: suite.to_string(),
            hosts,
            inventory: workspace_root().join(format!("inventories/{name}/hosts.ini")),
        }
    }

    /// `lab add COUNT`: starts `count` more hosts of the lab's suite, numbered after the last, as
    /// standbys in the inventory; returns them (also appended to `self.hosts`).
    pub fn add(&mut self, count: usize) -> Vec<(String, String)> {
        let mut command = lab_command(&self.name);
        command.args(["add", &count.to_string()]);
        let what = format!("lab add {count} ({})", self.name);
        let output = checked(command, &what);
        let added = host_lines(&self.name, &String::from_utf8_lossy(&output.stdout));
        assert_eq!(
            added.len(),
            count,
            "{what} printed {added:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.hosts.extend(added.iter().cloned());
        added
    }

    pub fn host(&self, index: usize) -> &str {
        &self.hosts[index].0
    }

    fn address(&self, host: &str) -> &str {
        &self
            .hosts
            .iter()
            .find(|(name, _)| name == host)
            .unwrap_or_else(|| panic!("{host} is not in lab {}", self.name))
            .1
    }

    /// `ply run playbooks/PLAYBOOK -i <lab inventory> ARGS...`.
    pub fn ply(&self, playbook: &str, args: &[&str]) -> crate::Outcome {
        Ply::new()
            .args(["run", &format!("playbooks/{playbook}"), "-i"])
            .arg(self.inventory.to_string_lossy())
            .args(args)
            .current_dir(workspace_root())
            .run()
    }

    /// Runs `script` with sh as root on `host`.
    pub fn sh(&self, host: &str, script: &str) -> Output {
        let shared = tests_dir().join("lab/.state");
        Command::new("ssh")
            .arg("-i")
            .arg(shared.join("id_ed25519"))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                shared.join(&self.name).join("known_hosts").display()
            ))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .arg(format!("root@{}", self.address(host)))
            .arg(script)
            .output()
            .expect("ssh runs")
    }

    /// `sh` that must succeed; its stdout.
    pub fn sh_ok(&self, host: &str, script: &str) -> String {
        let output = self.sh(host, script);
        assert!(
            output.status.success(),
            "{host}: `{script}` failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Runs SQL with psql as postgres on `host` (unaligned, tuples only).
    pub fn psql(&self, host: &str, sql: &str) -> Output {
        let quoted = sql.replace('\'', "'\\''");
        self.sh(
            host,
            &format!("cd / && runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -c '{quoted}'"),
        )
    }

    /// `psql` that must succeed; its trimmed output.
    pub fn query(&self, host: &str, sql: &str) -> String {
        let output = self.psql(host, sql);
        assert!(
            output.status.success(),
            "{host}: {sql} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Polls `sql` on `host` until it prints `expected` or `timeout` passes; the time it took.
    pub fn wait_for_query(
        &self,
        host: &str,
        sql: &str,
        expected: &str,
        timeout: Duration,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let output = self.psql(host, sql);
            let got = String::from_utf8_lossy(&output.stdout).trim().to_string();
            if output.status.success() && got == expected {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < timeout,
                "{host}: `{sql}` printed {got:?} (stderr {}), not {expected:?}, for {timeout:?}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `docker stop` / `docker start` one host (sshd and PostgreSQL go down and come back).
    pub fn docker(&self, verb: &str, host: &str) {
        let mut command = Command::new("docker");
        command.args([verb, host]);
        checked(command, &format!("docker {verb} {host}"));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::env::var_os("PLY_LAB_KEEP").is_some() {
            return;
        }
        let _ = lab_command(&self.name).arg("down").output();
    }
}

/// The per-host counts of a run's PLAY RECAP: host → (ok, changed, unreachable, failed).
pub fn recap(stdout: &str) -> Vec<(String, [u32; 4])> {
    let Some(start) = stdout.rfind("PLAY RECAP") else {
        return Vec::new();
    };
    stdout[start..]
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (host, counts) = line.split_once(':')?;
            let count = |key: &str| -> u32 {
                counts
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                    .unwrap_or(0)
            };
            Some((
                host.trim().to_string(),
                [
                    count("ok"),
                    count("changed"),
                    count("unreachable"),
                    count("failed"),
                ],
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::host_lines;

    /// Only `ply-NAME-K ADDRESS` lines are hosts: tool output that reaches stdout anyway is ignored.
    #[test]
    fn host_lines_ignore_everything_else() {
        let stdout =
            "I: Retrieving InRelease\nply-x-1 172.29.1.2\nply-x-a 172.29.1.3\nply-y-1 172.29.1.4\n\
                      ply-x-2 not-an-address\nply-x-3 172.29.1.5 extra\nply-x-10 fd00::a\n";
        assert_eq!(
            host_lines("x", stdout),
            [
                ("ply-x-1".to_string(), "172.29.1.2".to_string()),
                ("ply-x-10".to_string(), "fd00::a".to_string())
            ]
        );
    }
}
