//! The replication failure suite (issue 14): each case on a fresh three-node lab (tests/lab/lab), with a
//! [`Writer`] inserting numbered rows on whichever node accepts writes and a [`Watcher`] polling every
//! node's `pg_is_in_recovery()` every 200 ms (tests/src/chaos.rs). Every case asserts that the watcher
//! never saw two writable nodes, that the acknowledged rows are on the final primary (all of them when
//! the old primary was stopped cleanly or never lost; otherwise as the printed data-loss window allows),
//! that a second run of a playbook that succeeded changes nothing, that every refusal exits non-zero,
//! names the hosts and changes nothing on any host (a fingerprint of each host before and after), and
//! that `--check` of failover.yml, rejoin.yml and switchover.yml changes nothing.
//!
//! PostgreSQL 15 (bookworm) by default; PLY_FAILURE_SUITES (a comma list of Debian suites) selects the
//! versions. All of them:
//!
//! ```sh
//! PLY_FAILURE_SUITES=bookworm,trixie cargo test -p ply-tests --test replication_failures --features system-tests,lab-tests
//! ```
//!
//! One case: `cargo test -p ply-tests --test replication_failures --features system-tests,lab-tests -- paused`.
//! The checks are soft ([`Verdict`]): a case runs to its end, then fails listing every check that
//! failed.

use ply_tests::chaos::{self, docker_psql, run_bounded, RowLoss, Watcher, Writer};
use ply_tests::lab::{self, Lab};
use ply_tests::{ply_binary, workspace_root, Outcome};
use std::process::Command;
use std::time::{Duration, Instant};

/// Contains the characters .pgpass and conninfo quoting must survive; must never be printed.
const PASSWORD: &str = "Fa1l:0ver\\ s3cret-pw";

/// One INSERT per row (a new psql connection each), then this pause: about 5 rows a second on the lab.
const WRITE_INTERVAL: Duration = Duration::from_millis(50);

/// The longest any playbook run may take before the case fails (the playbooks' own waits are shorter).
const PLAY_LIMIT: Duration = Duration::from_secs(600);

// ------------------------------------------------------------------------------------------------
// Suites and lab names

/// The (Debian suite, PostgreSQL major) pairs PLY_FAILURE_SUITES selects; bookworm when unset.
fn suites() -> Vec<(&'static str, &'static str)> {
    let selected = std::env::var("PLY_FAILURE_SUITES").unwrap_or_default();
    let selected = if selected.trim().is_empty() {
        "bookworm".to_string()
    } else {
        selected
    };
    selected
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|suite| match suite {
            "bullseye" => ("bullseye", "13"),
            "bookworm" => ("bookworm", "15"),
            "trixie" => ("trixie", "17"),
            other => panic!(
                "PLY_FAILURE_SUITES: unknown Debian suite {other:?} (bullseye, bookworm, trixie)"
            ),
        })
        .collect()
}

/// The case codes, which name the labs `f<major><code>`. Chosen so that every name gets its own
/// subnet from tests/lab/lab (derived from the name's cksum; two labs on one subnet cannot both run),
/// also beside the other lab suites' labs: `lab_names_get_distinct_subnets` checks it.
const CASE_CODES: [&str; 10] = [
    "stop",
    "part",
    "pause",
    "fence",
    "cachegone",
    "userdata",
    "gone",
    "quiet",
    "switch",
    "resume",
];

fn lab_name(code: &str, major: &str) -> String {
    assert!(CASE_CODES.contains(&code), "{code} is not in CASE_CODES");
    format!("f{major}{code}")
}

/// Runs `case` once per selected suite, timing each (also when it fails).
fn each_suite(case: &str, run: fn(&str, &str)) {
    struct Timer<'a>(&'a str, &'a str, Instant);
    impl Drop for Timer<'_> {
        fn drop(&mut self) {
            let how = if std::thread::panicking() {
                "FAILED"
            } else {
                "passed"
            };
            eprintln!(
                "== {} on {}: {how} in {:.0} s",
                self.0,
                self.1,
                self.2.elapsed().as_secs_f64()
            );
        }
    }
    for (suite, major) in suites() {
        eprintln!("== {case} on {suite} (PostgreSQL {major})");
        let _timer = Timer(case, suite, Instant::now());
        run(suite, major);
    }
}

// ------------------------------------------------------------------------------------------------
// Soft checks

/// The expectations of one case that failed, reported together at its end: a case continues past a
/// playbook bug so that one run shows all of them.
struct Verdict {
    case: String,
    failures: Vec<String>,
}

impl Verdict {
    fn new(case: &str, suite: &str) -> Verdict {
        Verdict {
            case: format!("{case} on {suite}"),
            failures: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("FAILED CHECK ({}): {what}", self.case);
            self.failures.push(what);
        }
    }

    fn all(&mut self, problems: Vec<String>) {
        for problem in problems {
            self.check(false, || problem);
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}: {} check(s) failed:\n\n{}",
            self.case,
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Playbook runs

fn password_arg() -> String {
    serde_json::json!({ "replication_password": PASSWORD }).to_string()
}

/// `ply run playbooks/PLAYBOOK -i <lab inventory> -e <password> EXTRA...`, killed after `limit`; the
/// outcome and how long it took. The password must not appear in the output.
fn play_timed(lab: &Lab, playbook: &str, extra: &[&str], limit: Duration) -> (Outcome, Duration) {
    let password = password_arg();
    let mut args = vec![
        "run".to_string(),
        format!("playbooks/{playbook}"),
        "-i".to_string(),
        lab.inventory.to_string_lossy().into_owned(),
        "-e".to_string(),
        password,
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut command = Command::new(ply_binary());
    command
        .args(&args)
        .current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_INVENTORY");
    let run = run_bounded(&mut command, limit);
    let outcome = Outcome {
        invocation: format!("ply run playbooks/{playbook} {}", extra.join(" ")),
        code: run.code,
        stdout: run.stdout,
        stderr: run.stderr,
    };
    assert!(
        !run.timed_out,
        "{} did not finish within {limit:?}:\n{}\n{}",
        outcome.invocation, outcome.stdout, outcome.stderr
    );
    for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        assert!(
            !text.contains(PASSWORD) && !text.contains("Fa1l:0ver"),
            "the replication password appears in the {stream} of {}",
            outcome.invocation
        );
    }
    eprintln!(
        "   {} -> exit {:?} in {:.1} s",
        outcome.invocation,
        outcome.code,
        run.elapsed.as_secs_f64()
    );
    for message in failure_messages(&outcome.stdout) {
        eprintln!("      failed: {message}");
    }
    (outcome, run.elapsed)
}

fn play(lab: &Lab, playbook: &str, extra: &[&str]) -> Outcome {
    play_timed(lab, playbook, extra, PLAY_LIMIT).0
}

/// The recap's lab hosts (the inventory-groups check adds `localhost` to every run).
fn recap(outcome: &Outcome) -> Vec<(String, [u32; 4])> {
    lab::recap(&outcome.stdout)
        .into_iter()
        .filter(|(host, _)| host != "localhost")
        .collect()
}

/// Every lab host is in the recap with changed=0 (unreachable is allowed: a host that cannot be
/// reached changes nothing either); with `converged`, also failed=0 (a second run that succeeds), else
/// a host may have failed (a refusal).
fn recap_problems(lab: &Lab, outcome: &Outcome, converged: bool) -> Vec<String> {
    let counts = recap(outcome);
    let mut problems = Vec::new();
    for (host, _) in &lab.hosts {
        match counts.iter().find(|(h, _)| h == host) {
            Some((_, [_, 0, _, failed])) if *failed == 0 || !converged => {}
            Some((_, [_, changed, _, failed])) => problems.push(format!(
                "{host}: changed={changed} failed={failed} in {} (expected changed=0{}): changed tasks {:?}",
                outcome.invocation,
                if converged { ", failed=0" } else { "" },
                changed_tasks(&outcome.stdout)
            )),
            None => problems.push(format!(
                "{host} is not in the recap of {}:\n{}",
                outcome.invocation, outcome.stdout
            )),
        }
    }
    problems
}

/// A second run: changed=0 and failed=0 on every host.
fn converged(lab: &Lab, outcome: &Outcome) -> Vec<String> {
    recap_problems(lab, outcome, true)
}

/// A refusal: changed=0 on every host.
fn changed_nothing(lab: &Lab, outcome: &Outcome) -> Vec<String> {
    recap_problems(lab, outcome, false)
}

/// "TASK name :: host" for every changed result, in order.
fn changed_tasks(stdout: &str) -> Vec<String> {
    let mut task = "";
    let mut changed = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("TASK [") {
            task = rest.split("] ").next().unwrap_or(rest);
        } else if let Some(rest) = line.strip_prefix("changed: [") {
            let host = rest.split(']').next().unwrap_or(rest);
            changed.push(format!("{task} :: {host}"));
        }
    }
    changed
}

/// The `msg` of every `fatal: [...]: FAILED! => {...}` line.
fn failure_messages(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once("FAILED! => ").map(|(_, json)| json))
        .map(|json| {
            serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| json.to_string())
        })
        .collect()
}

/// `PLAYBOOK EXTRA... --check` exits `code` (4 when a host is unreachable), fails on no host and
/// changes nothing on any host.
fn check_changes_nothing(v: &mut Verdict, lab: &Lab, playbook: &str, extra: &[&str], code: i32) {
    let before = fingerprints(lab);
    let mut args = extra.to_vec();
    args.push("--check");
    let check = play(lab, playbook, &args);
    v.check(
        check.code == Some(code) && recap(&check).iter().all(|(_, c)| c[3] == 0),
        || {
            format!(
                "{} exited {:?} (expected {code}), failing on {:?}:\n{}",
                check.invocation,
                check.code,
                failure_messages(&check.stdout),
                check.stdout
            )
        },
    );
    v.all(fingerprint_changes(
        &before,
        &fingerprints(lab),
        &check.invocation,
    ));
}

/// The host named in a run's `new primary: HOST` line, among `candidates`.
fn new_primary_named<'a>(outcome: &Outcome, candidates: &[&'a str]) -> &'a str {
    candidates
        .iter()
        .copied()
        .find(|h| outcome.stdout.contains(&format!("new primary: {h}")))
        .unwrap_or_else(|| {
            panic!(
                "{} names none of {candidates:?} as the new primary:\n{}",
                outcome.invocation, outcome.stdout
            )
        })
}

// ------------------------------------------------------------------------------------------------
// The hosts, through docker (also while a host is cut off from the network)

/// `docker pause`, tried again: the cgroup freezer can fail ("unable to freeze") when it races a
/// process that is forking, which says nothing about ply (seen once in CI; it worked at once after).
fn pause_container(name: &str) {
    for _ in 0..4 {
        let out = run_bounded(
            Command::new("docker").args(["pause", name]),
            Duration::from_secs(120),
        );
        if out.code == Some(0) {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    docker(&["pause", name]);
}

fn docker(args: &[&str]) -> String {
    let out = run_bounded(Command::new("docker").args(args), Duration::from_secs(120));
    assert!(
        out.code == Some(0),
        "docker {} failed ({:?}): {}{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    out.stdout.trim().to_string()
}

/// Runs `script` with sh as root in the container `host`; its trimmed stdout (must succeed).
fn root_sh(host: &str, script: &str) -> String {
    docker(&["exec", "-w", "/", host, "sh", "-c", script])
}

/// What a refusal (and a --check) must leave as it was on a host: the configuration files and the
/// files ply manages (contents), the entries of the data directories and their neighbours (a
/// moved-aside one), the running postmaster (its pid) and the clusters' state. The WAL archive and
/// everything inside the data directories below the top level are left out: the writer's rows change
/// them all the time.
const FINGERPRINT: &str = r#"cd /
find /etc/postgresql /usr/local/bin /var/lib/postgresql -maxdepth 3 -not -path '/var/lib/postgresql/wal_archive/*' | sort
find /etc/postgresql /usr/local/bin /var/lib/postgresql/.pgpass /var/lib/postgresql/.ssh -type f 2>/dev/null | sort | xargs -r sha256sum
find /etc/postgresql -type l -printf '%p -> %l\n' | sort
for d in /var/lib/postgresql/*/main; do echo "$d:"; ls -a "$d" 2>/dev/null; head -n 1 "$d/postmaster.pid" 2>/dev/null; done
pg_lsclusters -h"#;

fn fingerprints(lab: &Lab) -> Vec<(String, String)> {
    lab.hosts
        .iter()
        .map(|(host, _)| (host.clone(), root_sh(host, FINGERPRINT)))
        .collect()
}

/// The hosts whose fingerprint differs, with the lines that differ.
fn fingerprint_changes(
    before: &[(String, String)],
    after: &[(String, String)],
    what: &str,
) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|((_, b), (_, a))| a != b)
        .map(|((host, b), (_, a))| {
            let gone: Vec<&str> = b.lines().filter(|l| !a.lines().any(|x| x == *l)).collect();
            let new: Vec<&str> = a.lines().filter(|l| !b.lines().any(|x| x == *l)).collect();
            format!("{what} changed {host}:\n  before: {gone:?}\n  after:  {new:?}")
        })
        .collect()
}

fn in_recovery(host: &str) -> Result<String, String> {
    docker_psql(host, "SELECT pg_is_in_recovery()")
}

/// `pg_lsclusters -h`'s status column on `host` (online, down, online,recovery), or "" with no cluster.
fn cluster_status(host: &str) -> String {
    root_sh(host, "pg_lsclusters -h | awk '{print $4}'")
}

/// Polls `check` every 200 ms until it returns true; fails after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

/// Waits (60 s at most) until `primary` streams to `count` standbys.
fn streaming_standbys(primary: &str, count: usize) {
    let start = Instant::now();
    let query = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'";
    loop {
        let got = docker_psql(primary, query);
        if got.as_deref() == Ok(count.to_string().as_str()) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{primary} does not stream to {count} standbys within 60 s: {query} gives {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn address<'a>(lab: &'a Lab, host: &str) -> &'a str {
    &lab.hosts
        .iter()
        .find(|(h, _)| h == host)
        .expect("a lab host")
        .1
}

/// The old primary after failover.yml: stopped, `start.conf` disabled, `standby.signal`, the
/// `ply-former-primary` mark naming `new`.
fn fenced_problems(old: &str, new: &str, major: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let status = cluster_status(old);
    // "down", or "down,recovery" with standby.signal
    if !status.starts_with("down") {
        problems.push(format!(
            "the fenced old primary {old} is {status:?}, not down"
        ));
    }
    let fence = root_sh(
        old,
        &format!(
            "cat /etc/postgresql/{major}/main/start.conf | grep -v '^#' | tr -d ' '; \
             test -f /var/lib/postgresql/{major}/main/standby.signal && echo standby.signal; \
             cat /etc/postgresql/{major}/main/ply-former-primary 2>/dev/null || echo 'no ply-former-primary'"
        ),
    );
    for expected in ["disabled", "standby.signal", &format!("new primary: {new}")] {
        if !fence.lines().any(|l| l.trim() == expected) {
            problems.push(format!(
                "{old} is not fenced: no {expected:?} in start.conf, the data directory or ply-former-primary: {fence:?}"
            ));
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// Setup

/// A fresh three-node lab of `suite`, set up with replication.yml: ply-f<major><code>-1 the primary,
/// -2 and -3 streaming standbys.
fn set_up(code: &str, suite: &str, major: &str) -> Lab {
    let lab = lab_up(code, suite, major);
    play(&lab, "replication.yml", &[]).success();
    streaming_standbys(lab.host(0), 2);
    let version = docker_psql(lab.host(0), "SHOW server_version_num").expect("the primary answers");
    assert_eq!(&version[..2], major, "the lab runs PostgreSQL {version}");
    lab
}

/// A fresh three-node lab `f<major><code>` of `suite` (removed when dropped).
fn lab_up(code: &str, suite: &str, major: &str) -> Lab {
    let start = Instant::now();
    let lab = Lab::up(&lab_name(code, major), suite, 3);
    eprintln!(
        "   lab up {} ({suite}, 3 hosts) in {:.1} s",
        lab.name,
        start.elapsed().as_secs_f64()
    );
    lab
}

fn hosts(lab: &Lab) -> Vec<String> {
    lab.hosts.iter().map(|(h, _)| h.clone()).collect()
}

/// The watcher's and the writer's verdicts: one writable node at most, and the rows.
fn finish_load(
    verdict: &mut Verdict,
    mut watcher: Watcher,
    writer: Option<(Writer, &str, RowLoss)>,
) {
    let watched = watcher.stop().clone();
    eprintln!("   watcher: {}", watched.summary());
    verdict.all(watched.single_writer_violations());
    if let Some((mut writer, primary, loss)) = writer {
        let writes = writer.stop().clone();
        eprintln!(
            "   writer: {} acknowledged {:?}, {} failed; final primary {primary}, {loss:?}",
            writes.acked.len(),
            writes.acked_by_host(),
            writes.failed.len()
        );
        verdict.all(writes.rows_kept_violations(primary, loss));
    }
}

// ------------------------------------------------------------------------------------------------
// The cases

/// The primary's PostgreSQL stops (cleanly), the host answers: failover.yml --check changes nothing;
/// failover.yml fences the old primary and promotes a standby; no acknowledged row is lost (a clean
/// shutdown sends all WAL to the streaming standbys) and the printed window is 0; a second run changes
/// nothing and the new primary stays writable (failover_rerun).
fn old_primary_stopped(suite: &str, major: &str) {
    let mut v = Verdict::new("old_primary_stopped", suite);
    let lab = set_up("stop", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    lab.sh_ok(p, &format!("pg_ctlcluster {major} main stop -m fast"));

    check_changes_nothing(&mut v, &lab, "failover.yml", &[], 0);

    let failover = play(&lab, "failover.yml", &[]).success();
    let new = new_primary_named(&failover, &[s1, s2]);
    let other = if new == s1 { s2 } else { s1 };
    let window = chaos::data_loss_window(&failover.stdout);
    v.check(window == Some(0), || {
        format!(
            "the old primary was stopped cleanly, yet the printed data-loss window is {window:?}"
        )
    });
    v.check(in_recovery(new).as_deref() == Ok("f"), || {
        format!("{new} does not accept writes after the failover")
    });
    v.check(in_recovery(other).as_deref() == Ok("t"), || {
        format!("{other} is not a standby after the failover")
    });
    v.all(fenced_problems(p, new, major));
    streaming_standbys(new, 1);
    writer.wait_for_more(20, Duration::from_secs(60));

    let again = play(&lab, "failover.yml", &[]);
    v.check(again.code == Some(0), || {
        format!(
            "the second failover.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));
    v.check(in_recovery(new).as_deref() == Ok("f"), || {
        format!("{new} no longer accepts writes after the second failover.yml")
    });
    writer.wait_for_more(10, Duration::from_secs(60));

    finish_load(&mut v, watcher, Some((writer, new, RowLoss::None)));
    v.finish();
}

/// The primary is cut off from the network while it runs: failover.yml refuses before any change,
/// naming it and confirm_old_primary_down. The operator makes sure it is down (here: stops its
/// PostgreSQL through docker, the host staying cut off), then the confirmed failover promotes. Back on
/// the network, replication.yml must leave it down (topology.yml: the writable node is the primary;
/// standby.yml refuses a former primary that is not in recovery) and change nothing.
fn unreachable_without_confirmation(suite: &str, major: &str) {
    let mut v = Verdict::new("unreachable_without_confirmation", suite);
    let lab = set_up("part", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let network = format!("ply-{}", lab.name);
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    // The partition cuts the clients off the primary together with the standbys, and the standbys
    // have received all of its WAL (asynchronous replication on one bridge is that fast; waiting for
    // it makes the case deterministic).
    writer.isolate(p);
    let end = docker_psql(p, "SELECT pg_current_wal_lsn()").expect("the primary answers");
    for standby in [s1, s2] {
        wait_until(
            &format!("{standby} receives the primary's WAL up to {end}"),
            Duration::from_secs(30),
            || {
                docker_psql(
                    standby,
                    &format!("SELECT pg_last_wal_receive_lsn() >= '{end}'"),
                )
                .as_deref()
                    == Ok("t")
            },
        );
    }
    let before = fingerprints(&lab);
    docker(&["network", "disconnect", &network, p]);

    let refused = play(&lab, "failover.yml", &[]);
    v.check(refused.code.is_some_and(|c| c != 0), || {
        format!(
            "failover.yml with the primary unreachable exited {:?}",
            refused.code
        )
    });
    v.check(
        failure_messages(&refused.stdout)
            .iter()
            .any(|m| m.contains(p) && m.contains("confirm_old_primary_down=true")),
        || {
            format!(
                "no refusal naming {p} and confirm_old_primary_down=true:\n{}",
                refused.stdout
            )
        },
    );
    v.all(changed_nothing(&lab, &refused));
    for standby in [s1, s2] {
        v.check(in_recovery(standby).as_deref() == Ok("t"), || {
            format!("{standby} left recovery although failover.yml refused")
        });
    }
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "the refused failover.yml",
    ));

    // exit 4: the old primary is unreachable
    check_changes_nothing(
        &mut v,
        &lab,
        "failover.yml",
        &["-e", "confirm_old_primary_down=true"],
        4,
    );

    // The operator makes sure it is down before confirming: it stays cut off, and its PostgreSQL is
    // stopped. (The watcher sees the hosts through docker, not the network: a cut-off old primary still
    // running when the standby is promoted would be seen as a second writable node, which is exactly
    // what a wrong confirmation makes.)
    root_sh(p, &format!("pg_ctlcluster {major} main stop -m fast"));
    let failover = play(
        &lab,
        "failover.yml",
        &["-e", "confirm_old_primary_down=true"],
    );
    // exit 4: the old primary is still unreachable; nothing failed
    v.check(failover.code == Some(4), || {
        format!(
            "the confirmed failover.yml exited {:?} (4: the old primary is unreachable):\n{}",
            failover.code, failover.stdout
        )
    });
    v.check(
        recap(&failover)
            .iter()
            .all(|(_, [_, _, _, failed])| *failed == 0),
        || {
            format!(
                "the confirmed failover.yml failed on a host:\n{}",
                failover.stdout
            )
        },
    );
    let new = new_primary_named(&failover, &[s1, s2]);
    let window = chaos::data_loss_window(&failover.stdout);
    v.check(window.is_some(), || {
        format!("no data-loss window printed:\n{}", failover.stdout)
    });
    v.check(in_recovery(new).as_deref() == Ok("f"), || {
        format!("{new} does not accept writes after the confirmed failover")
    });
    streaming_standbys(new, 1);
    writer.wait_for_more(20, Duration::from_secs(60));

    let again = play(
        &lab,
        "failover.yml",
        &["-e", "confirm_old_primary_down=true"],
    );
    v.all(converged(&lab, &again));
    v.check(in_recovery(new).as_deref() == Ok("f"), || {
        format!("{new} no longer accepts writes after the second confirmed failover.yml")
    });

    // back on the network, with its old address
    docker(&["network", "connect", "--ip", address(&lab, p), &network, p]);
    wait_until(
        &format!("ssh to {p} again"),
        Duration::from_secs(30),
        || lab.sh(p, "true").status.success(),
    );
    let before = fingerprints(&lab);
    let back = play(&lab, "replication.yml", &[]);
    v.check(back.code.is_some_and(|c| c != 0), || {
        format!(
            "replication.yml with the unfenced old primary {p} back exited {:?}:\n{}",
            back.code, back.stdout
        )
    });
    v.check(
        failure_messages(&back.stdout).iter().any(|m| {
            m.contains(&format!("{p} is a former primary"))
                && m.contains(&format!("while {new} is the primary"))
        }),
        || {
            format!(
                "no refusal naming the former primary {p} and the primary {new}:\n{}",
                back.stdout
            )
        },
    );
    v.check(cluster_status(p).starts_with("down"), || {
        format!("replication.yml started the old primary {p}")
    });
    // (the refusal comes from standby_guard.yml, before common.yml and config.yml: nothing changed)
    v.all(changed_nothing(&lab, &back));
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "replication.yml refusing the old primary",
    ));

    let loss = RowLoss::Window(window.unwrap_or(u64::MAX));
    finish_load(&mut v, watcher, Some((writer, new, loss)));
    v.finish();
}

/// The primary is paused (`docker pause`): its TCP port accepts, ssh never answers. failover.yml must
/// count it as unreachable and refuse within a bounded time; after the unpause nothing has changed
/// and the primary still takes the writes.
fn paused(suite: &str, major: &str) {
    let mut v = Verdict::new("paused", suite);
    let lab = set_up("pause", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    let before = fingerprints(&lab);
    pause_container(p);
    let (refused, took) = play_timed(&lab, "failover.yml", &[], Duration::from_secs(300));
    docker(&["unpause", p]);

    v.check(refused.code.is_some_and(|c| c != 0), || {
        format!(
            "failover.yml with the primary paused exited {:?}",
            refused.code
        )
    });
    v.check(took < Duration::from_secs(120), || {
        format!("failover.yml took {took:?} to give up on the paused primary")
    });
    v.check(
        failure_messages(&refused.stdout)
            .iter()
            .any(|m| m.contains(p) && m.contains("confirm_old_primary_down=true")),
        || {
            format!(
                "no refusal naming {p} and confirm_old_primary_down=true:\n{}",
                refused.stdout
            )
        },
    );
    v.all(changed_nothing(&lab, &refused));
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "the refused failover.yml",
    ));
    for standby in [s1, s2] {
        v.check(in_recovery(standby).as_deref() == Ok("t"), || {
            format!("{standby} left recovery although failover.yml refused")
        });
    }
    writer.wait_for_more(20, Duration::from_secs(60));
    finish_load(&mut v, watcher, Some((writer, p, RowLoss::None)));
    v.finish();
}

/// A script for `root_sh` that makes `pg_ctlcluster ... VERB` fail, moving the real one aside
/// ([`RESTORE_PG_CTLCLUSTER`] puts it back).
fn break_pg_ctlcluster(verb: &str) -> String {
    format!(
        "mv /usr/bin/pg_ctlcluster /usr/bin/pg_ctlcluster.ply-test && \
         printf '%s\\n' '#!/bin/sh' \
         'for a; do [ \"$a\" = {verb} ] && {{ echo \"pg_ctlcluster {verb} fails (the failure suite)\" >&2; exit 1; }}; done' \
         'exec /usr/bin/pg_ctlcluster.ply-test \"$@\"' > /usr/bin/pg_ctlcluster && chmod 755 /usr/bin/pg_ctlcluster"
    )
}

const RESTORE_PG_CTLCLUSTER: &str = "mv /usr/bin/pg_ctlcluster.ply-test /usr/bin/pg_ctlcluster";

/// Checks of a failover.yml whose fence failed on `old`: non-zero exit, the failure reported on
/// `old`, the run stopped before the promotion play (the fence play's any_errors_fatal), every
/// standby still in recovery, and the old primary still taking writes (the fence failed before the
/// stop, or the stop itself failed).
fn fence_failed_checks(
    v: &mut Verdict,
    failed: &Outcome,
    old: &str,
    standbys: &[&str],
    writer: &Writer,
) {
    v.check(failed.code.is_some_and(|c| c != 0), || {
        format!(
            "{} with a failing fence exited {:?}",
            failed.invocation, failed.code
        )
    });
    v.check(
        failed.stdout.contains(&format!("fatal: [{old}]: FAILED!")),
        || format!("no failure on {old} reported:\n{}", failed.stdout),
    );
    v.check(
        !failed.stdout.contains("PLAY [Promote the new primary]"),
        || {
            format!(
                "the run went on to the promotion play after the fence failed:\n{}",
                failed.stdout
            )
        },
    );
    for standby in standbys {
        v.check(in_recovery(standby).as_deref() == Ok("t"), || {
            format!("{standby} was promoted although fencing {old} failed")
        });
    }
    v.check(in_recovery(old).as_deref() == Ok("f"), || {
        format!("{old} does not take writes after its fence failed before the stop")
    });
    writer.wait_for_more(10, Duration::from_secs(60));
}

/// Fencing fails while the old primary's PostgreSQL still runs, twice: first the fence cannot write
/// the old primary's config directory (its ply-former-primary mark: every file written over ssh on it
/// fails, RLIMIT_FSIZE 0 on its sshd), then its stop fails (pg_ctlcluster stop broken). Each time
/// failover.yml fails, the any_errors_fatal fence play stops the run on every host before the
/// promotion play, and nothing is promoted; the first changes nothing on any host. Then, the cause
/// fixed, failover.yml run again fences and promotes (README: "Fix the cause, run failover.yml again").
fn fencing_fails(suite: &str, major: &str) {
    let mut v = Verdict::new("fencing_fails", suite);
    let lab = set_up("fence", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    // The config directory cannot be written: the fence's first step, the mark, fails.
    let before = fingerprints(&lab);
    root_sh(p, "prlimit --pid 1 --fsize=0:unlimited");
    let unwritable = play(&lab, "failover.yml", &[]);
    root_sh(p, "prlimit --pid 1 --fsize=unlimited:unlimited");
    fence_failed_checks(&mut v, &unwritable, p, &[s1, s2], &writer);
    v.all(changed_nothing(&lab, &unwritable));
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "failover.yml whose fence could not write the mark",
    ));

    // The stop fails: the mark is written, the server runs on.
    root_sh(p, &break_pg_ctlcluster("stop"));
    let stop_fails = play(&lab, "failover.yml", &[]);
    root_sh(p, RESTORE_PG_CTLCLUSTER);
    fence_failed_checks(&mut v, &stop_fails, p, &[s1, s2], &writer);

    // The cause fixed, failover.yml again.
    // (the failed fence left its mark on the still writable old primary: topology.yml reads a mark
    // that names no promoted node as an unfinished fence, which this run finishes)
    let rerun = play(&lab, "failover.yml", &[]);
    let rerun = rerun.success();
    let new = new_primary_named(&rerun, &[s1, s2]);
    let window = chaos::data_loss_window(&rerun.stdout);
    v.check(window == Some(0), || {
        format!("the fence stopped the old primary cleanly, yet the printed data-loss window is {window:?}")
    });
    v.all(fenced_problems(p, new, major));
    streaming_standbys(new, 1);
    writer.wait_for_more(20, Duration::from_secs(60));
    let again = play(&lab, "failover.yml", &[]);
    v.all(converged(&lab, &again));
    finish_load(&mut v, watcher, Some((writer, new, RowLoss::None)));
    v.finish();
}

/// An interrupted failover: the fence works, the promotion fails (pg_ctlcluster promote broken on both
/// standbys), so no node takes writes; fixed, failover.yml run again finishes it (fence again, promote)
/// with no acknowledged row lost; a third run changes nothing (failover_rerun).
fn interrupted_failover(suite: &str, major: &str) {
    let mut v = Verdict::new("interrupted_failover", suite);
    let lab = set_up("resume", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    check_changes_nothing(&mut v, &lab, "failover.yml", &[], 0);
    for standby in [s1, s2] {
        root_sh(standby, &break_pg_ctlcluster("promote"));
    }
    let interrupted = play(&lab, "failover.yml", &[]);
    for standby in [s1, s2] {
        root_sh(standby, RESTORE_PG_CTLCLUSTER);
    }
    v.check(interrupted.code.is_some_and(|c| c != 0), || {
        format!(
            "failover.yml with the promotion failing exited {:?}",
            interrupted.code
        )
    });
    for standby in [s1, s2] {
        v.check(in_recovery(standby).as_deref() == Ok("t"), || {
            format!("{standby} accepts writes although its promotion failed")
        });
    }
    v.check(cluster_status(p).starts_with("down"), || {
        format!("the old primary {p} runs after the fence")
    });

    let rerun = play(&lab, "failover.yml", &[]).success();
    let new = new_primary_named(&rerun, &[s1, s2]);
    let window = chaos::data_loss_window(&rerun.stdout);
    v.check(window == Some(0), || {
        format!("the fence stopped the old primary cleanly, yet the printed data-loss window is {window:?}")
    });
    v.all(fenced_problems(p, new, major));
    streaming_standbys(new, 1);
    writer.wait_for_more(20, Duration::from_secs(60));
    let again = play(&lab, "failover.yml", &[]);
    v.check(again.code == Some(0), || {
        format!(
            "the third failover.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));
    finish_load(&mut v, watcher, Some((writer, new, RowLoss::None)));
    v.finish();
}

/// replication.yml after a failover with the controller's cache (group_vars/all/pg_topology.yml)
/// deleted, the inventory still naming the old primary: topology.yml takes the one writable node as
/// the primary and says that the inventory disagrees; standby.yml refuses the fenced old primary,
/// which stays down; nothing changes on any host.
fn replication_after_failover_without_cache(suite: &str, major: &str) {
    let mut v = Verdict::new("replication_after_failover_without_cache", suite);
    let lab = set_up("cachegone", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    check_changes_nothing(&mut v, &lab, "failover.yml", &[], 0);
    let failover = play(&lab, "failover.yml", &[]).success();
    let new = new_primary_named(&failover, &[s1, s2]);
    let cache = failover
        .stdout
        .split("cached in ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| {
            panic!(
                "failover.yml does not say where it cached the topology:\n{}",
                failover.stdout
            )
        })
        .to_string();
    std::fs::remove_file(&cache).unwrap_or_else(|e| panic!("removing {cache}: {e}"));
    streaming_standbys(new, 1);
    writer.wait_for_more(20, Duration::from_secs(60));

    let before = fingerprints(&lab);
    let run = play(&lab, "replication.yml", &[]);
    v.check(
        run.stdout
            .contains(&format!("the nodes say {new} is the primary"))
            && run.stdout.contains(&format!("says {p}")),
        || {
            format!(
                "replication.yml does not say that the nodes name {new}, not {p}:\n{}",
                run.stdout
            )
        },
    );
    v.check(run.code.is_some_and(|c| c != 0), || {
        format!(
            "replication.yml with the fenced old primary exited {:?}",
            run.code
        )
    });
    v.check(
        failure_messages(&run.stdout).iter().any(|m| {
            m.contains(&format!("{p} is a former primary"))
                && m.contains(&format!("while {new} is the primary"))
        }),
        || {
            format!(
                "no refusal naming the fenced {p} and the primary {new}:\n{}",
                run.stdout
            )
        },
    );
    v.all(fenced_problems(p, new, major));
    v.check(in_recovery(new).as_deref() == Ok("f"), || {
        format!("{new} no longer accepts writes")
    });
    // (as in unreachable_without_confirmation: refused before any change on the fenced old primary)
    v.all(changed_nothing(&lab, &run));
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "replication.yml without the cache",
    ));
    finish_load(&mut v, watcher, Some((writer, new, RowLoss::None)));
    v.finish();
}

/// A standby-to-be whose own cluster (the image's, running) holds a table in the `postgres` database:
/// replication.yml refuses, naming it and pg_clone_overwrite, and changes nothing; with
/// -e pg_clone_overwrite=HOST it is replaced and its data directory moved aside (still holding the
/// table's file), the run saying where. The watcher and the writer start once the cluster exists (the
/// fresh lab's three image copies all accept writes before).
fn standby_with_user_tables_in_postgres(suite: &str, major: &str) {
    let mut v = Verdict::new("standby_with_user_tables_in_postgres", suite);
    let lab = lab_up("userdata", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let data_dir = format!("/var/lib/postgresql/{major}/main");
    wait_until(
        &format!("{s1}'s own cluster answers"),
        Duration::from_secs(30),
        || in_recovery(s1).is_ok(),
    );
    docker_psql(
        s1,
        "CREATE TABLE ply_keep_me (id int); INSERT INTO ply_keep_me VALUES (42); CHECKPOINT",
    )
    .expect("a table on the standby-to-be");
    let file = docker_psql(s1, "SELECT pg_relation_filepath('ply_keep_me')").expect("its file");

    let before = fingerprints(&lab);
    let refused = play(&lab, "replication.yml", &[]);
    v.check(refused.code.is_some_and(|c| c != 0), || {
        format!(
            "replication.yml over {s1}'s table exited {:?}",
            refused.code
        )
    });
    v.check(
        failure_messages(&refused.stdout)
            .iter()
            .any(|m| m.contains(s1) && m.contains("pg_clone_overwrite")),
        || {
            format!(
                "no refusal naming {s1} and pg_clone_overwrite:\n{}",
                refused.stdout
            )
        },
    );
    v.all(changed_nothing(&lab, &refused));
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "the refused replication.yml",
    ));
    v.check(
        docker_psql(s1, "SELECT count(*) FROM ply_keep_me").as_deref() == Ok("1"),
        || format!("{s1}'s table is gone after the refusal"),
    );

    let overwrite = format!("pg_clone_overwrite={s1}");
    let replaced = play(&lab, "replication.yml", &["-e", &overwrite]).success();
    let prefix = format!("{s1}: moved {data_dir} aside to ");
    match replaced
        .stdout
        .split(&prefix)
        .nth(1)
        .and_then(|rest| rest.split(':').next())
    {
        Some(aside) => {
            v.check(aside.starts_with(&format!("{data_dir}.ply-")), || {
                format!("moved aside to {aside}, not {data_dir}.ply-TIMESTAMP")
            });
            let kept = root_sh(
                s1,
                &format!("test -f {aside}/PG_VERSION && test -s {aside}/{file} && echo kept || echo lost"),
            );
            v.check(kept == "kept", || {
                format!("{aside} on {s1} lacks PG_VERSION or the table's file {file}")
            });
        }
        None => v.check(false, || {
            format!(
                "the run does not say where {s1}'s data directory went:\n{}",
                replaced.stdout
            )
        }),
    }
    streaming_standbys(p, 2);
    v.check(in_recovery(s1).as_deref() == Ok("t"), || {
        format!("{s1} is not a standby after the overwrite")
    });
    v.check(in_recovery(s2).as_deref() == Ok("t"), || {
        format!("{s2} is not a standby")
    });

    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));
    let again = play(&lab, "replication.yml", &["-e", &overwrite]);
    v.check(again.code == Some(0), || {
        format!(
            "the second replication.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));
    finish_load(&mut v, watcher, Some((writer, p, RowLoss::None)));
    v.finish();
}

/// A standby's cluster is dropped: status.yml exits 0, changes nothing (twice), reports the host as
/// `missing` and creates no cluster. replication.yml then creates and clones it, as status.yml says,
/// and a second run changes nothing.
fn status_with_cluster_dropped(suite: &str, major: &str) {
    let mut v = Verdict::new("status_with_cluster_dropped", suite);
    let lab = set_up("gone", suite, major);
    let (p, s2) = (lab.host(0), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    lab.sh_ok(s2, &format!("pg_dropcluster {major} main --stop"));
    let before = fingerprints(&lab);
    for run in ["first", "second"] {
        let status = play(&lab, "status.yml", &[]);
        v.check(status.code == Some(0), || {
            format!(
                "the {run} status.yml exited {:?}:\n{}",
                status.code, status.stdout
            )
        });
        v.all(converged(&lab, &status));
        v.check(
            status
                .stdout
                .lines()
                .any(|l| l.contains(&format!("\"{s2} ")) && l.contains(" missing ")),
            || {
                format!(
                    "the {run} status.yml does not report {s2} as missing:\n{}",
                    status.stdout
                )
            },
        );
        v.check(root_sh(s2, "pg_lsclusters -h").is_empty(), || {
            format!("the {run} status.yml created a cluster on {s2}")
        });
    }
    v.all(fingerprint_changes(
        &before,
        &fingerprints(&lab),
        "status.yml",
    ));

    // create.yml recreates the dropped cluster without starting it: an empty cluster must not take
    // writes beside the primary until the clone replaces it (the watcher checks).
    play(&lab, "replication.yml", &[]).success();
    streaming_standbys(p, 2);
    writer.wait_for_more(20, Duration::from_secs(60));
    let again = play(&lab, "replication.yml", &[]);
    v.check(again.code == Some(0), || {
        format!(
            "the second replication.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));
    finish_load(&mut v, watcher, Some((writer, p, RowLoss::None)));
    v.finish();
}

/// After a failover, with no writes at all, rejoin.yml (its --check first, which changes nothing)
/// finishes within 180 s and the old primary streams from the new one; a second run changes nothing.
fn rejoin_on_idle_primary(suite: &str, major: &str) {
    let mut v = Verdict::new("rejoin_on_idle_primary", suite);
    let lab = set_up("quiet", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let watcher = Watcher::start(&hosts(&lab));

    check_changes_nothing(&mut v, &lab, "failover.yml", &[], 0);
    let failover = play(&lab, "failover.yml", &[]).success();
    let new = new_primary_named(&failover, &[s1, s2]);
    streaming_standbys(new, 1);

    check_changes_nothing(&mut v, &lab, "rejoin.yml", &[], 0);

    let (rejoin, took) = play_timed(&lab, "rejoin.yml", &[], Duration::from_secs(400));
    v.check(rejoin.code == Some(0), || {
        format!("rejoin.yml exited {:?}:\n{}", rejoin.code, rejoin.stdout)
    });
    v.check(took < Duration::from_secs(180), || {
        format!("rejoin.yml on an idle primary took {took:?}")
    });
    let receiver = docker_psql(
        p,
        "SELECT pg_is_in_recovery(), status, sender_host FROM pg_stat_wal_receiver",
    );
    v.check(
        receiver.as_deref() == Ok(format!("t|streaming|{}", address(&lab, new)).as_str()),
        || format!("{p} after rejoin.yml: {receiver:?}, not streaming from {new}"),
    );
    streaming_standbys(new, 2);
    let again = play(&lab, "rejoin.yml", &[]);
    v.check(again.code == Some(0), || {
        format!(
            "the second rejoin.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));

    // the back node follows: a row written now reaches it
    docker_psql(
        new,
        "CREATE TABLE ply_after_rejoin (id int); INSERT INTO ply_after_rejoin VALUES (1)",
    )
    .expect("a write on the new primary");
    wait_until(
        &format!("the row reaches {p}"),
        Duration::from_secs(30),
        || docker_psql(p, "SELECT count(*) FROM ply_after_rejoin").as_deref() == Ok("1"),
    );
    finish_load(&mut v, watcher, None);
    v.finish();
}

/// switchover.yml -e new_primary=HOST under the writer (--check first, which changes nothing): no
/// acknowledged row is lost, never two writable nodes, the old primary streams from the new one
/// without a rewind or a base backup, and a second run changes nothing.
fn switchover_under_write_load(suite: &str, major: &str) {
    let mut v = Verdict::new("switchover_under_write_load", suite);
    let lab = set_up("switch", suite, major);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    let target = format!("new_primary={s1}");
    let watcher = Watcher::start(&hosts(&lab));
    let writer = Writer::start(&hosts(&lab), WRITE_INTERVAL);
    writer.wait_for_more(20, Duration::from_secs(60));

    check_changes_nothing(&mut v, &lab, "switchover.yml", &["-e", &target], 0);

    let switched = play(&lab, "switchover.yml", &["-e", &target]).success();
    v.check(in_recovery(s1).as_deref() == Ok("f"), || {
        format!("{s1} does not accept writes after the switchover")
    });
    for (host, what) in [(p, "the old primary"), (s2, "the other standby")] {
        let receiver = docker_psql(
            host,
            "SELECT pg_is_in_recovery(), status, sender_host FROM pg_stat_wal_receiver",
        );
        v.check(
            receiver.as_deref() == Ok(format!("t|streaming|{}", address(&lab, s1)).as_str()),
            || format!("{what} {host} after the switchover: {receiver:?}, not streaming from {s1}"),
        );
    }
    let rebuilt: Vec<String> = changed_tasks(&switched.stdout)
        .into_iter()
        .filter(|t| {
            t.contains("pg_rewind") || t.contains("Clone the primary") || t.contains("aside")
        })
        .collect();
    v.check(rebuilt.is_empty(), || {
        format!("the switchover rewound or cloned a node: {rebuilt:?}")
    });
    streaming_standbys(s1, 2);
    writer.wait_for_more(20, Duration::from_secs(60));

    let again = play(&lab, "switchover.yml", &["-e", &target]);
    v.check(again.code == Some(0), || {
        format!(
            "the second switchover.yml exited {:?}:\n{}",
            again.code, again.stdout
        )
    });
    v.all(converged(&lab, &again));
    finish_load(&mut v, watcher, Some((writer, s1, RowLoss::None)));
    v.finish();
}

// ------------------------------------------------------------------------------------------------
// The tests: one per case, each over the selected suites

#[test]
fn old_primary_stopped_then_failover_and_rerun() {
    each_suite("old_primary_stopped", old_primary_stopped);
}

#[test]
fn unreachable_primary_needs_confirmation() {
    each_suite(
        "unreachable_without_confirmation",
        unreachable_without_confirmation,
    );
}

#[test]
fn paused_primary_is_unreachable() {
    each_suite("paused", paused);
}

#[test]
fn fencing_fails_before_any_promotion() {
    each_suite("fencing_fails", fencing_fails);
}

#[test]
fn interrupted_failover_reruns() {
    each_suite("interrupted_failover", interrupted_failover);
}

#[test]
fn replication_after_failover_without_the_cache() {
    each_suite(
        "replication_after_failover_without_cache",
        replication_after_failover_without_cache,
    );
}

#[test]
fn standby_holding_user_tables_is_not_overwritten() {
    each_suite(
        "standby_with_user_tables_in_postgres",
        standby_with_user_tables_in_postgres,
    );
}

#[test]
fn status_with_a_dropped_cluster_is_read_only() {
    each_suite("status_with_cluster_dropped", status_with_cluster_dropped);
}

#[test]
fn rejoin_on_an_idle_primary_converges() {
    each_suite("rejoin_on_idle_primary", rejoin_on_idle_primary);
}

#[test]
fn switchover_under_write_load_loses_nothing() {
    each_suite("switchover_under_write_load", switchover_under_write_load);
}

// rewind_impossible: tests/suite/replication_lab.rs's rejoin_falls_back_to_a_fresh_clone covers it
// (the former primary's WAL removed, rejoin.yml moves the data directory aside and clones).

/// The labs of this suite (every case, every major) and of the other lab suites get distinct subnets
/// from tests/lab/lab, which derives one from the name's cksum: two labs on one subnet cannot run at
/// once. Needs only cksum.
#[test]
fn lab_names_get_distinct_subnets() {
    let subnet = |name: &str| -> u64 {
        let out = run_bounded(
            Command::new("sh").args(["-c", "printf '%s' \"$1\" | cksum", "sh", name]),
            Duration::from_secs(10),
        );
        let sum: u64 = out
            .stdout
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .expect("cksum prints a number");
        100 + sum % 150
    };
    let others = [
        "life13",
        "life15",
        "life17",
        "modes13",
        "modes15",
        "modes17",
        "down15",
        "clone15",
        "vary15",
        "bench4",
        "labscript",
        "labfail",
    ];
    let mut seen: Vec<(u64, String)> = others.iter().map(|n| (subnet(n), n.to_string())).collect();
    for major in ["13", "15", "17"] {
        for code in CASE_CODES {
            let name = lab_name(code, major);
            let net = subnet(&name);
            if let Some((_, other)) = seen.iter().find(|(s, _)| *s == net) {
                panic!(
                    "{name} and {other} both get 172.29.{net}.0/24: choose another code for {code}"
                );
            }
            seen.push((net, name));
        }
    }
}
