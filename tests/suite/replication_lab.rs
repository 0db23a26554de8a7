//! End to end: the bundled replication playbooks against real Debian hosts in the container lab
//! (tests/lab/lab), for each Debian release and the PostgreSQL it ships: bullseye 13, bookworm 15,
//! trixie 17. Every check is made on the hosts themselves (psql, files, pg_stat_*), not on ply's output.

use ply_tests::lab::Lab;
use std::time::{Duration, Instant};

/// Contains the characters .pgpass and conninfo quoting must survive; must never be printed.
const PASSWORD: &str = "Rep:l1c\\a-ti0n s3cret";

/// As JSON: a `key=value` extra var cannot hold the space.
fn password_arg() -> String {
    serde_json::json!({ "replication_password": PASSWORD }).to_string()
}

fn assert_no_secret(outcome: &ply_tests::Outcome) {
    for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        assert!(
            !text.contains(PASSWORD) && !text.contains("Rep:l1c"),
            "the replication password appears in the {stream} of {}",
            outcome.invocation
        );
    }
}

/// Runs a playbook with the password; checks the exit code and that the password was not printed.
fn play(lab: &Lab, playbook: &str, extra: &[&str], code: i32) -> ply_tests::Outcome {
    let password = password_arg();
    let mut args = vec!["-e", password.as_str()];
    args.extend_from_slice(extra);
    let outcome = lab.ply(playbook, &args);
    assert_no_secret(&outcome);
    outcome.code(code)
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

/// The recap's cluster hosts: the controller's inventory-groups check adds `localhost` to every run.
fn recap(stdout: &str) -> Vec<(String, [u32; 4])> {
    ply_tests::lab::recap(stdout)
        .into_iter()
        .filter(|(host, _)| host != "localhost")
        .collect()
}

fn assert_changed_nothing(outcome: &ply_tests::Outcome, lab: &Lab) {
    let counts = recap(&outcome.stdout);
    assert_eq!(counts.len(), lab.hosts.len(), "{}", outcome.stdout);
    for (host, [_, changed, unreachable, failed]) in &counts {
        assert_eq!(
            (changed, unreachable, failed),
            (&0, &0, &0),
            "{host} in {}:\n{}",
            outcome.invocation,
            outcome.stdout
        );
    }
}

/// What a --check run must leave exactly as it was: configuration contents, the files ply manages,
/// the data directory's entries, the running postmaster (its pid) and the cluster's identity.
fn host_state(lab: &Lab, host: &str) -> String {
    lab.sh_ok(
        host,
        "cd / && find /etc/postgresql /usr/local/bin /var/lib/postgresql -maxdepth 3 | sort && \
         find /etc/postgresql /var/lib/postgresql/.pgpass /var/lib/postgresql/.ssh -type f 2>/dev/null \
           | sort | xargs -r sha256sum && \
         for d in /var/lib/postgresql/*/main; do ls -a \"$d\"; head -n 1 \"$d/postmaster.pid\"; done && \
         pg_lsclusters -h",
    )
}

fn wal_archive_has(lab: &Lab, host: &str, segment: &str, timeout: Duration) {
    let start = Instant::now();
    let path = format!("/var/lib/postgresql/wal_archive/{segment}");
    while lab.sh(host, &format!("test -f {path}")).status.code() != Some(0) {
        assert!(
            start.elapsed() < timeout,
            "{host}: {path} not archived within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Inserts a fresh token on `primary`; waits until every one of `standbys` has it (10 s at most).
fn row_reaches(lab: &Lab, primary: &str, standbys: &[&str], token: &str) {
    lab.query(
        primary,
        &format!(
            "CREATE TABLE IF NOT EXISTS repl_check(id bigserial PRIMARY KEY, token text, at timestamptz DEFAULT now()); \
             INSERT INTO repl_check(token) VALUES ('{token}')"
        ),
    );
    for standby in standbys {
        let took = lab.wait_for_query(
            standby,
            &format!("SELECT count(*) FROM repl_check WHERE token = '{token}'"),
            "1",
            Duration::from_secs(10),
        );
        eprintln!("{}: row {token} on {standby} after {took:?}", lab.suite);
    }
}

fn standby_is_read_only(lab: &Lab, standby: &str) {
    let output = lab.psql(
        standby,
        "INSERT INTO repl_check(token) VALUES ('on-standby')",
    );
    assert!(!output.status.success(), "{standby} accepted a write");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("read-only transaction"),
        "{standby}: {stderr}"
    );
}

fn streaming_standbys(lab: &Lab, primary: &str, count: usize) {
    lab.wait_for_query(
        primary,
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        &count.to_string(),
        Duration::from_secs(30),
    );
}

/// The whole life of a cluster: --check on fresh hosts, setup, the acceptance checks, idempotence,
/// failover, rejoin, and convergence afterwards.
fn lifecycle(name: &str, suite: &str, major: &str) {
    let lab = Lab::up(name, suite, 3);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));

    // --check on fresh hosts: exit 0, predicts changes everywhere, changes nothing.
    let before: Vec<String> = lab.hosts.iter().map(|(h, _)| host_state(&lab, h)).collect();
    let check = play(&lab, "replication.yml", &["--check", "--diff"], 0);
    for (host, [_, changed, unreachable, failed]) in recap(&check.stdout) {
        assert!(
            changed > 0 && unreachable == 0 && failed == 0,
            "{host}: {}",
            check.stdout
        );
    }
    let after: Vec<String> = lab.hosts.iter().map(|(h, _)| host_state(&lab, h)).collect();
    assert_eq!(before, after, "--check changed a host");

    let start = Instant::now();
    let setup = play(&lab, "replication.yml", &[], 0);
    eprintln!(
        "{suite}: replication.yml on 3 hosts took {:?}",
        start.elapsed()
    );
    for (host, [_, changed, ..]) in recap(&setup.stdout) {
        assert!(changed > 0, "{host} did not change: {}", setup.stdout);
    }
    // --check predicted exactly the changes the real run made
    assert_eq!(changed_tasks(&check.stdout), changed_tasks(&setup.stdout));
    assert_eq!(lab.query(p, "SHOW server_version_num")[..2], *major);

    // streaming, rows flow, standbys are read-only, WAL reaches the archive on the standbys
    streaming_standbys(&lab, p, 2);
    for standby in [s1, s2] {
        assert_eq!(
            lab.query(
                standby,
                "SELECT pg_is_in_recovery(), status FROM pg_stat_wal_receiver"
            ),
            "t|streaming"
        );
        assert_eq!(
            lab.query(
                standby,
                "SELECT sourcefile FROM pg_settings WHERE name = 'primary_conninfo'"
            ),
            format!("/etc/postgresql/{major}/main/conf.d/50-standby.conf")
        );
    }
    assert_eq!(
        lab.query(p, "SELECT system_identifier FROM pg_control_system()"),
        lab.query(s1, "SELECT system_identifier FROM pg_control_system()")
    );
    row_reaches(&lab, p, &[s1, s2], "first");
    standby_is_read_only(&lab, s1);
    let segment = lab.query(p, "SELECT pg_walfile_name(pg_current_wal_lsn())");
    lab.query(p, "SELECT pg_switch_wal()");
    for standby in [s1, s2] {
        wal_archive_has(&lab, standby, &segment, Duration::from_secs(30));
    }
    assert_eq!(
        lab.query(p, "SELECT failed_count FROM pg_stat_archiver"),
        "0"
    );

    // idempotence, and --check on the converged cluster
    assert_changed_nothing(&play(&lab, "replication.yml", &[], 0), &lab);
    assert_changed_nothing(
        &play(&lab, "replication.yml", &["--check", "--diff"], 0),
        &lab,
    );
    assert_eq!(
        lab.query(p, "SELECT count(*) FROM pg_replication_slots"),
        "2"
    );

    let status = play(&lab, "status.yml", &[], 0);
    assert!(
        status.stdout.lines().any(|l| l.contains(&format!("\"{p} "))
            && l.contains("primary")
            && l.contains("2 streaming")),
        "{}",
        status.stdout
    );

    // failover: the most advanced standby is promoted, the old primary fenced
    let failover = play(&lab, "failover.yml", &[], 0);
    let new_primary = [s1, s2]
        .into_iter()
        .find(|h| failover.stdout.contains(&format!("new primary: {h}")))
        .unwrap_or_else(|| panic!("no new primary named: {}", failover.stdout));
    let other = if new_primary == s1 { s2 } else { s1 };
    assert_eq!(lab.query(new_primary, "SELECT pg_is_in_recovery()"), "f");
    // fenced: stopped, and neither pg_ctlcluster nor the boot (start.conf) starts it again
    assert_eq!(
        lab.sh_ok(p, "pg_lsclusters -h | awk '{print $4}'"),
        "down,recovery",
        "the old primary still runs"
    );
    assert!(lab
        .sh_ok(p, &format!("cat /etc/postgresql/{major}/main/start.conf"))
        .lines()
        .any(|l| l.trim() == "disabled"));
    let start = lab.sh(p, &format!("pg_ctlcluster {major} main start"));
    assert!(
        !start.status.success()
            && String::from_utf8_lossy(&start.stderr).contains("Cluster is disabled"),
        "the fenced old primary could be started: {start:?}"
    );
    assert!(lab
        .sh(
            p,
            &format!("test -f /var/lib/postgresql/{major}/main/standby.signal")
        )
        .status
        .success());
    row_reaches(&lab, new_primary, &[other], "after-failover");
    let status = play(&lab, "status.yml", &[], 0);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.contains(&format!("\"{new_primary} ")) && l.contains("primary  2 ")),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.contains(&format!("\"{p} ")) && l.contains("fenced")),
        "{}",
        status.stdout
    );

    // rejoin: the old primary is rewound and follows the new one, with the rows written since
    play(&lab, "rejoin.yml", &[], 0);
    let new_address = &lab
        .hosts
        .iter()
        .find(|(h, _)| h == new_primary)
        .expect("in lab")
        .1;
    assert_eq!(
        lab.query(
            p,
            "SELECT pg_is_in_recovery(), status, sender_host FROM pg_stat_wal_receiver"
        ),
        format!("t|streaming|{new_address}")
    );
    assert_eq!(
        lab.query(
            p,
            "SELECT count(*) FROM repl_check WHERE token = 'after-failover'"
        ),
        "1"
    );
    row_reaches(&lab, new_primary, &[p, other], "after-rejoin");
    streaming_standbys(&lab, new_primary, 2);
    assert_changed_nothing(&play(&lab, "replication.yml", &[], 0), &lab);
    let status = play(&lab, "status.yml", &[], 0);
    for host in [p, other] {
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.contains(&format!("\"{host} "))
                    && l.contains(&format!("streaming from {new_address}"))),
            "{}",
            status.stdout
        );
    }
}

/// The non-default modes together: the seed's rsync base backup (pg_backup_start/stop in one
/// session) and config_mode lineinfile, which keeps Debian's own files.
fn rsync_and_lineinfile(name: &str, suite: &str, major: &str) {
    let lab = Lab::up(name, suite, 2);
    let (p, s) = (lab.host(0), lab.host(1));
    let modes = [
        "-e",
        "base_backup_method=rsync",
        "-e",
        "config_mode=lineinfile",
    ];
    play(&lab, "replication.yml", &modes, 0);
    streaming_standbys(&lab, p, 1);
    row_reaches(&lab, p, &[s], "rsync");
    standby_is_read_only(&lab, s);
    let log = lab.sh_ok(
        s,
        &format!("cat /var/log/postgresql/postgresql-{major}-main.log"),
    );
    assert!(
        log.contains("starting backup recovery with redo LSN") || log.contains("redo starts at"),
        "{log}"
    );
    for host in [p, s] {
        let conf = lab.sh_ok(
            host,
            &format!("cat /etc/postgresql/{major}/main/postgresql.conf"),
        );
        for kept in [
            "include_dir = 'conf.d'",
            "data_directory = ",
            "wal_log_hints = on",
        ] {
            assert!(conf.contains(kept), "{host}: postgresql.conf lacks {kept}");
        }
        let hba = lab.sh_ok(
            host,
            &format!("cat /etc/postgresql/{major}/main/pg_hba.conf"),
        );
        assert!(hba.contains("local   all             postgres"), "{hba}");
    }
    assert_changed_nothing(&play(&lab, "replication.yml", &modes, 0), &lab);
    let mut check = modes.to_vec();
    check.push("--check");
    assert_changed_nothing(&play(&lab, "replication.yml", &check, 0), &lab);
}

#[test]
fn bullseye_postgresql_13_lifecycle() {
    lifecycle("life13", "bullseye", "13");
}

#[test]
fn bookworm_postgresql_15_lifecycle() {
    lifecycle("life15", "bookworm", "15");
}

#[test]
fn trixie_postgresql_17_lifecycle() {
    lifecycle("life17", "trixie", "17");
}

#[test]
fn bullseye_postgresql_13_rsync_and_lineinfile() {
    rsync_and_lineinfile("modes13", "bullseye", "13");
}

#[test]
fn bookworm_postgresql_15_rsync_and_lineinfile() {
    rsync_and_lineinfile("modes15", "bookworm", "15");
}

#[test]
fn trixie_postgresql_17_rsync_and_lineinfile() {
    rsync_and_lineinfile("modes17", "trixie", "17");
}

/// A standby that is down: the primary and the other standby are still set up, the run exits 4,
/// and a run after the host is back converges.
#[test]
fn unreachable_standby_then_converges() {
    let lab = Lab::up("down15", "bookworm", 3);
    let (p, s1, s2) = (lab.host(0), lab.host(1), lab.host(2));
    lab.docker("stop", s2);
    let first = play(&lab, "replication.yml", &[], 4);
    let counts = recap(&first.stdout);
    let unreachable = |host: &str| {
        counts
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, c)| c[2])
            .unwrap_or_else(|| panic!("{host} not in the recap: {}", first.stdout))
    };
    assert_eq!(
        (unreachable(p), unreachable(s1), unreachable(s2)),
        (0, 0, 1),
        "{}",
        first.stdout
    );
    streaming_standbys(&lab, p, 1);
    row_reaches(&lab, p, &[s1], "one-down");

    lab.docker("start", s2);
    let start = Instant::now();
    while !lab.sh(s2, "true").status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{s2} ssh is not back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    play(&lab, "replication.yml", &[], 0);
    streaming_standbys(&lab, p, 2);
    row_reaches(&lab, p, &[s1, s2], "both-up");
    assert_changed_nothing(&play(&lab, "replication.yml", &[], 0), &lab);
}

/// rejoin.yml when pg_rewind cannot work (the former primary's WAL since the fork is gone): it says
/// so and clones the former primary afresh instead, which then follows the new primary.
#[test]
fn rejoin_falls_back_to_a_fresh_clone() {
    let lab = Lab::up("clone15", "bookworm", 2);
    let (p, s) = (lab.host(0), lab.host(1));
    play(&lab, "replication.yml", &[], 0);
    row_reaches(&lab, p, &[s], "before");
    let failover = play(&lab, "failover.yml", &[], 0);
    assert!(
        failover.stdout.contains(&format!("new primary: {s}")),
        "{}",
        failover.stdout
    );
    lab.sh_ok(p, "rm -f /var/lib/postgresql/15/main/pg_wal/0000*");
    let rejoin = play(&lab, "rejoin.yml", &[], 0);
    assert!(
        rejoin.stdout.contains(&format!(
            "pg_rewind failed, so {p} gets a fresh base backup"
        )),
        "{}",
        rejoin.stdout
    );
    // the former primary's data directory was moved aside, not deleted, and the run said where
    let aside = rejoin
        .stdout
        .split("moved /var/lib/postgresql/15/main aside to ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no move-aside reported: {}", rejoin.stdout))
        .to_string();
    lab.sh_ok(
        p,
        &format!("test -f {aside}/PG_VERSION && test -d {aside}/base"),
    );
    let s_address = &lab.hosts[1].1;
    assert_eq!(
        lab.query(
            p,
            "SELECT pg_is_in_recovery(), status, sender_host FROM pg_stat_wal_receiver"
        ),
        format!("t|streaming|{s_address}")
    );
    row_reaches(&lab, s, &[p], "after-clone");
    assert_changed_nothing(&play(&lab, "replication.yml", &[], 0), &lab);
}

/// psql as postgres on `host` against the server on `port`; its trimmed output (must succeed).
fn query_port(lab: &Lab, host: &str, port: u16, sql: &str) -> String {
    let quoted = sql.replace('\'', "'\\''");
    lab.sh_ok(
        host,
        &format!("cd / && timeout 30 runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -p {port} -c '{quoted}'"),
    )
}

fn wait_port(lab: &Lab, host: &str, port: u16, sql: &str, expected: &str) {
    let start = Instant::now();
    loop {
        let quoted = sql.replace('\'', "'\\''");
        let output = lab.sh(
            host,
            &format!("cd / && runuser -u postgres -- psql -X -At -p {port} -c '{quoted}'"),
        );
        let got = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if got == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{host}:{port}: `{sql}` printed {got:?}, not {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The variants README.md documents, in the order a DBA meets them, on one bookworm lab: new servers
/// with the data directory of one's choice, synchronous replication, a standby added later, settings
/// PostgreSQL refuses (caught before any restart, the servers stay up), another port, and a pg_data_dir
/// that is not where an existing cluster lives (refused, nothing moved).
#[test]
fn bookworm_postgresql_15_variants() {
    let mut lab = Lab::up("vary15", "bookworm", 2);
    let (p, s1) = (lab.host(0).to_string(), lab.host(1).to_string());
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = dir.path().join("vars.yml");
    let write_vars = |extra: &str| {
        std::fs::write(
            &vars,
            format!("pg_data_dir: /srv/postgresql/15/main\nsynchronous_standbys: [{s1}]\n{extra}"),
        )
        .expect("write vars");
    };
    let vars_arg = format!("@{}", vars.display());

    // New servers: PostgreSQL installed, no cluster yet; the data directory is ours to choose.
    for (host, _) in &lab.hosts {
        lab.sh_ok(host, "pg_dropcluster 15 main --stop");
    }
    write_vars("");
    play(&lab, "replication.yml", &["-e", &vars_arg], 0);
    for host in [&p, &s1] {
        assert_eq!(
            lab.sh_ok(host, "pg_lsclusters -h | awk '{print $1, $2, $3, $4, $6}'"),
            format!(
                "15 main 5432 online{} /srv/postgresql/15/main",
                if *host == p { "" } else { ",recovery" }
            )
        );
    }
    // Synchronous: the standby confirms every commit.
    assert_eq!(
        lab.query(&p, "SHOW synchronous_standby_names"),
        format!("FIRST 1 (\"{s1}\")")
    );
    lab.wait_for_query(
        &p,
        "SELECT application_name || ' ' || sync_state FROM pg_stat_replication",
        &format!("{s1} sync"),
        Duration::from_secs(30),
    );
    row_reaches(&lab, &p, &[&s1], "synchronous");

    // A standby added later: a new host in [standbys], the same command.
    let added = lab.add(1);
    let s2 = added[0].0.clone();
    // a new server like the others: no cluster yet, so it is created in pg_data_dir
    lab.sh_ok(&s2, "pg_dropcluster 15 main --stop");
    play(&lab, "replication.yml", &["-e", &vars_arg], 0);
    streaming_standbys(&lab, &p, 2);
    lab.wait_for_query(
        &p,
        &format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{s2}'"),
        "async",
        Duration::from_secs(30),
    );
    row_reaches(&lab, &p, &[&s1, &s2], "added");
    assert_changed_nothing(&play(&lab, "replication.yml", &["-e", &vars_arg], 0), &lab);

    // Settings PostgreSQL would refuse: the files are checked before they are used; nothing restarts.
    let conf_before = lab.sh_ok(&p, "sha256sum /etc/postgresql/15/main/postgresql.conf");
    let pid_before = lab.sh_ok(&p, "head -n 1 /srv/postgresql/15/main/postmaster.pid");
    let refused = play(
        &lab,
        "replication.yml",
        &["-e", &vars_arg, "-e", "pg_shared_buffers=99999999GB"],
        2,
    );
    assert!(
        refused.stdout.contains("failed to validate") && refused.stdout.contains("shared_buffers"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        lab.sh_ok(&p, "sha256sum /etc/postgresql/15/main/postgresql.conf"),
        conf_before
    );
    assert_eq!(
        lab.sh_ok(&p, "head -n 1 /srv/postgresql/15/main/postmaster.pid"),
        pid_before
    );
    let hba = serde_json::json!({"pg_hba_extra": ["host all all 10.0.0.0/99 scram-sha-256"]});
    let refused = play(
        &lab,
        "replication.yml",
        &["-e", &vars_arg, "-e", &hba.to_string()],
        2,
    );
    assert!(
        refused
            .stdout
            .contains("PostgreSQL rejects /etc/postgresql/15/main/pg_hba.conf"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        lab.sh_ok(&p, "head -n 1 /srv/postgresql/15/main/postmaster.pid"),
        pid_before,
        "the primary was restarted"
    );
    row_reaches(&lab, &p, &[&s1, &s2], "still-up");

    // Another port: every node moves, the standbys follow, a second run changes nothing.
    write_vars("pg_port: 5433\n");
    play(&lab, "replication.yml", &["-e", &vars_arg], 0);
    for host in [&p, &s1, &s2] {
        assert_eq!(query_port(&lab, host, 5433, "SHOW port"), "5433");
    }
    wait_port(
        &lab,
        &p,
        5433,
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        "2",
    );
    assert_changed_nothing(&play(&lab, "replication.yml", &["-e", &vars_arg], 0), &lab);

    // A pg_data_dir that is not where the cluster lives is refused before anything changes.
    let pid_before = lab.sh_ok(&p, "head -n 1 /srv/postgresql/15/main/postmaster.pid");
    std::fs::write(
        &vars,
        format!("synchronous_standbys: [{s1}]\npg_port: 5433\n"),
    )
    .expect("write vars");
    play(&lab, "replication.yml", &["-e", &vars_arg], 2)
        .stdout_has("cluster 15/main keeps its data in /srv/postgresql/15/main, but pg_data_dir")
        .stdout_has("is /var/lib/postgresql/15/main: ply never moves a data directory");
    assert_eq!(
        lab.sh_ok(&p, "head -n 1 /srv/postgresql/15/main/postmaster.pid"),
        pid_before
    );
}
