//! Load and observation for the replication failure suite (tests/suite/replication_failures.rs), on
//! the container lab's hosts (tests/src/lab.rs):
//!
//! - [`Writer`]: a background thread inserting numbered rows, one autocommit INSERT per row, into
//!   [`TABLE`] on whichever host currently accepts writes, recording every id whose INSERT was
//!   acknowledged (psql exited 0).
//! - [`Watcher`]: a background thread asking every host `SELECT pg_is_in_recovery()` every 200 ms and
//!   recording, per poll round, which hosts answered `f`.
//!
//! Both reach the hosts with `docker exec`, not over the lab network: they see what each server really
//! is, also while a host is cut off from the network (a partitioned primary that still accepts writes is
//! seen as writable). Each host gets one long-lived `docker exec -i HOST sh` that runs a new `psql` (a
//! new connection) per request, so a poll costs a psql start in the container, not a `docker exec`. A
//! host that does not answer in time (paused, hung) is recorded as [`Answer::NoReply`], never as down.
//!
//! Both stop on `stop()` and on drop, and return what they saw ([`WriteLog`], [`WatchLog`]), whose
//! methods are the suite's assertions.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The table the [`Writer`] fills: `id` is the row's number, `host` the node that acknowledged it.
pub const TABLE: &str = "ply_chaos_rows";

/// How often the [`Watcher`] polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long the [`Watcher`] waits for the answers of one round before it records the silent hosts as
/// [`Answer::NoReply`].
const POLL_TIMEOUT: Duration = Duration::from_millis(1500);

// ------------------------------------------------------------------------------------------------
// Bounded commands

/// What a command run with [`run_bounded`] did.
#[derive(Debug, Clone)]
pub struct Bounded {
    /// The exit code; None when it was killed (timed out) or died of a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

/// Runs `command` with stdout and stderr captured, killing it when it has not finished within `limit`.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Bounded {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() >= limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Bounded {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed: start.elapsed(),
        timed_out,
    }
}

/// `psql` as postgres on the lab host (container) `host`, through `docker exec`: the trimmed output, or
/// the error (psql's message, or that it did not answer within 20 s).
pub fn docker_psql(host: &str, sql: &str) -> Result<String, String> {
    let out = run_bounded(
        Command::new("docker").args([
            "exec",
            "-u",
            "postgres",
            "-w",
            "/",
            "-e",
            "PGCONNECT_TIMEOUT=5",
            host,
            "psql",
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]),
        Duration::from_secs(20),
    );
    match (out.timed_out, out.code) {
        (false, Some(0)) => Ok(out.stdout.trim().to_string()),
        (true, _) => Err(format!("no answer within 20 s: {}", out.stderr.trim())),
        (false, code) => Err(format!("exit {code:?}: {}", out.stderr.trim())),
    }
}

// ------------------------------------------------------------------------------------------------
// One long-lived shell per host

/// Reads lines `SEQ SQL` and answers each with `SEQ RC OUTPUT` (psql's output and errors on one line).
/// `timeout` bounds a server that hangs (rc 124); PGCONNECT_TIMEOUT one that does not accept.
const SHELL_LOOP: &str = r#"while IFS= read -r line; do
    seq=${line%% *}
    sql=${line#* }
    out=$(PGCONNECT_TIMEOUT=3 timeout 5 psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$sql" 2>&1)
    rc=$?
    printf '%s %s %s\n' "$seq" "$rc" "$(printf '%s' "$out" | tr '\n' ' ')"
done"#;

/// What one request to a host's shell came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// psql exited 0 with this (trimmed) output.
    Ok(String),
    /// psql ran and failed: connection refused, read-only transaction, timed out (rc 124)...
    Failed { rc: i32, output: String },
    /// No answer in time: the container is paused or gone, or the previous request is still running.
    NoReply,
}

struct NodeShell {
    host: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Option<Receiver<String>>,
    next_seq: u64,
    /// A request sent whose reply has not come yet (a paused host answers it once it runs again).
    outstanding: Option<u64>,
    last_spawn: Option<Instant>,
}

impl NodeShell {
    fn new(host: &str) -> NodeShell {
        let mut shell = NodeShell {
            host: host.to_string(),
            child: None,
            stdin: None,
            lines: None,
            next_seq: 1,
            outstanding: None,
            last_spawn: None,
        };
        shell.spawn();
        shell
    }

    fn spawn(&mut self) {
        self.kill();
        self.last_spawn = Some(Instant::now());
        let spawned = Command::new("docker")
            .args(["exec", "-i", "-u", "postgres", "-w", "/", &self.host])
            .args(["sh", "-c", SHELL_LOOP])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else { return };
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.stdin = child.stdin.take();
        self.child = Some(child);
        self.lines = Some(rx);
        self.outstanding = None;
    }

    fn kill(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.lines = None;
        self.outstanding = None;
    }

    /// Takes the replies that came in since; true when the shell is gone (the container stopped, or
    /// `docker exec` could not start: a paused container refuses new processes).
    fn drain(&mut self) -> bool {
        let Some(lines) = &self.lines else {
            return true;
        };
        loop {
            match lines.try_recv() {
                Ok(line) => {
                    if Some(parse_seq(&line)) == self.outstanding {
                        self.outstanding = None;
                    }
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    /// Sends `sql`; the request's number, or None when the shell is busy with an unanswered request
    /// or gone (then it is started again, at most once a second).
    fn send(&mut self, sql: &str) -> Option<u64> {
        debug_assert!(!sql.contains('\n'));
        if self.drain() {
            let recently = self
                .last_spawn
                .is_some_and(|at| at.elapsed() < Duration::from_secs(1));
            if recently {
                return None;
            }
            self.spawn();
        }
        if self.outstanding.is_some() {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let stdin = self.stdin.as_mut()?;
        if writeln!(stdin, "{seq} {sql}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            self.kill();
            return None;
        }
        self.outstanding = Some(seq);
        Some(seq)
    }

    /// The reply to request `seq`, waiting until `deadline`.
    fn receive(&mut self, seq: u64, deadline: Instant) -> Reply {
        let Some(lines) = &self.lines else {
            return Reply::NoReply;
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let got = parse_seq(&line);
                    if Some(got) == self.outstanding {
                        self.outstanding = None;
                    }
                    if got != seq {
                        continue;
                    }
                    let mut fields = line.splitn(3, ' ');
                    let _ = fields.next();
                    let rc = fields.next().and_then(|rc| rc.parse().ok()).unwrap_or(-1);
                    let output = fields.next().unwrap_or("").trim().to_string();
                    return if rc == 0 {
                        Reply::Ok(output)
                    } else {
                        Reply::Failed { rc, output }
                    };
                }
                Err(RecvTimeoutError::Timeout) => return Reply::NoReply,
                Err(RecvTimeoutError::Disconnected) => {
                    self.kill();
                    return Reply::NoReply;
                }
            }
        }
    }

    fn run(&mut self, sql: &str, timeout: Duration) -> Reply {
        let deadline = Instant::now() + timeout;
        match self.send(sql) {
            Some(seq) => self.receive(seq, deadline),
            None => Reply::NoReply,
        }
    }
}

impl Drop for NodeShell {
    fn drop(&mut self) {
        self.kill();
    }
}

fn parse_seq(line: &str) -> u64 {
    line.split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------------
// Watcher

/// One host's answer to `SELECT pg_is_in_recovery()` in one poll round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `f`: the server accepts writes.
    Writable,
    /// `t`: a standby.
    InRecovery,
    /// psql ran in the container and the server did not answer (not running, starting, shutting
    /// down): it cannot take writes.
    Down(String),
    /// Nothing came back in time (paused or hung host): unknown, so a host that was writable before is
    /// taken to be writable still.
    NoReply,
}

impl Answer {
    fn from_reply(reply: Reply) -> Answer {
        match reply {
            Reply::Ok(out) if out == "f" => Answer::Writable,
            Reply::Ok(out) if out == "t" => Answer::InRecovery,
            Reply::Ok(out) => Answer::Down(format!("unexpected answer {out:?}")),
            // psql itself timed out: the server hangs, which says nothing about whether it is writable
            Reply::Failed { rc: 124, .. } | Reply::NoReply => Answer::NoReply,
            Reply::Failed { output, .. } => Answer::Down(output),
        }
    }

    fn short(&self) -> &'static str {
        match self {
            Answer::Writable => "f",
            Answer::InRecovery => "t",
            Answer::Down(_) => "down",
            Answer::NoReply => "?",
        }
    }
}

/// One poll round: every host asked at `started`, the answers in by `ended`.
#[derive(Debug, Clone)]
pub struct Round {
    pub started: Instant,
    pub ended: Instant,
    pub answers: Vec<(String, Answer)>,
}

impl Round {
    pub fn writable(&self) -> Vec<&str> {
        self.answers
            .iter()
            .filter(|(_, a)| *a == Answer::Writable)
            .map(|(h, _)| h.as_str())
            .collect()
    }
}

/// A stretch of rounds in which a host was (or, not answering, may still have been) writable: from its
/// first `f` to its last `f` before it answered `t` or down. `from`/`to` index [`WatchLog::rounds`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritablePeriod {
    pub host: String,
    pub from: usize,
    pub to: usize,
}

/// Everything a [`Watcher`] saw.
#[derive(Debug, Clone, Default)]
pub struct WatchLog {
    pub hosts: Vec<String>,
    pub rounds: Vec<Round>,
    pub origin: Option<Instant>,
}

impl WatchLog {
    /// The most hosts that answered `f` in one round.
    pub fn max_writable(&self) -> usize {
        self.rounds
            .iter()
            .map(|r| r.writable().len())
            .max()
            .unwrap_or(0)
    }

    /// Every host that answered `f` at least once.
    pub fn ever_writable(&self) -> BTreeSet<String> {
        self.rounds
            .iter()
            .flat_map(|r| r.writable())
            .map(str::to_string)
            .collect()
    }

    /// Each host's writable periods. A round without an answer from the host (paused, hung) continues
    /// a period: a host that stops answering may still take writes.
    pub fn writable_periods(&self) -> Vec<WritablePeriod> {
        let mut periods = Vec::new();
        for host in &self.hosts {
            let mut open: Option<(usize, usize)> = None;
            for (i, round) in self.rounds.iter().enumerate() {
                let answer = round
                    .answers
                    .iter()
                    .find(|(h, _)| h == host)
                    .map(|(_, a)| a);
                match answer {
                    Some(Answer::Writable) => {
                        open = Some(open.map_or((i, i), |(from, _)| (from, i)));
                    }
                    Some(Answer::NoReply) | None => {}
                    Some(Answer::InRecovery | Answer::Down(_)) => {
                        if let Some((from, to)) = open.take() {
                            periods.push(WritablePeriod {
                                host: host.clone(),
                                from,
                                to,
                            });
                        }
                    }
                }
            }
            if let Some((from, _)) = open {
                // still writable (or silent) at the end: the period lasts to the last round
                periods.push(WritablePeriod {
                    host: host.clone(),
                    from,
                    to: self.rounds.len().saturating_sub(1),
                });
            }
        }
        periods
    }

    /// Pairs of writable periods of two different hosts that overlap in time (rounds are sequential, so
    /// overlapping means sharing a round): a host that went silent while writable and another that
    /// became writable meanwhile count, which [`max_writable`](Self::max_writable) alone would miss.
    pub fn overlapping_writable(&self) -> Vec<(WritablePeriod, WritablePeriod)> {
        let periods = self.writable_periods();
        let mut pairs = Vec::new();
        for (i, a) in periods.iter().enumerate() {
            for b in &periods[i + 1..] {
                if a.host != b.host && a.from <= b.to && b.from <= a.to {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        pairs
    }

    fn at(&self, index: usize) -> String {
        let round = &self.rounds[index];
        let t = self
            .origin
            .map_or(0.0, |o| round.started.duration_since(o).as_secs_f64());
        let answers: Vec<String> = round
            .answers
            .iter()
            .map(|(h, a)| format!("{h}={}", a.short()))
            .collect();
        format!("round {index} at {t:.1} s: {}", answers.join(" "))
    }

    /// The rounds from `from` to `to` (a few around), one line each.
    pub fn describe(&self, from: usize, to: usize) -> String {
        let from = from.saturating_sub(2);
        let to = (to + 2).min(self.rounds.len().saturating_sub(1));
        (from..=to)
            .map(|i| self.at(i))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What went wrong, if anything: two hosts writable in one round, or overlapping writable periods.
    pub fn single_writer_violations(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(i) = self.rounds.iter().position(|r| r.writable().len() > 1) {
            problems.push(format!(
                "{} hosts answered pg_is_in_recovery() = f in one round ({:?}):\n{}",
                self.rounds[i].writable().len(),
                self.rounds[i].writable(),
                self.describe(i, i)
            ));
        }
        if let Some((a, b)) = self.overlapping_writable().first() {
            problems.push(format!(
                "{} was writable (or silent after being writable) in rounds {}..={} and {} in rounds {}..={}:\n{}",
                a.host,
                a.from,
                a.to,
                b.host,
                b.from,
                b.to,
                self.describe(a.from.max(b.from), a.to.min(b.to))
            ));
        }
        problems
    }

    /// Never two writable hosts: not in one round, not in overlapping periods.
    pub fn assert_single_writer(&self) {
        let problems = self.single_writer_violations();
        assert!(
            problems.is_empty(),
            "split brain seen by the watcher ({} rounds):\n{}",
            self.rounds.len(),
            problems.join("\n")
        );
    }

    /// A one-line account: rounds, and which hosts were writable for how many rounds.
    pub fn summary(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for round in &self.rounds {
            for host in round.writable() {
                *counts.entry(host).or_default() += 1;
            }
        }
        format!(
            "{} rounds; rounds writable per host: {counts:?}; max writable in one round: {}",
            self.rounds.len(),
            self.max_writable()
        )
    }
}

/// Polls every host's `pg_is_in_recovery()` every [`POLL_INTERVAL`] in a background thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<WatchLog>>,
    log: Option<WatchLog>,
    rounds: Arc<AtomicU64>,
}

impl Watcher {
    pub fn start<S: AsRef<str>>(hosts: &[S]) -> Watcher {
        let hosts: Vec<String> = hosts.iter().map(|h| h.as_ref().to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (stop_flag, round_count) = (stop.clone(), rounds.clone());
        let handle = std::thread::spawn(move || {
            let mut shells: Vec<NodeShell> = hosts.iter().map(|h| NodeShell::new(h)).collect();
            let mut log = WatchLog {
                hosts: hosts.clone(),
                rounds: Vec::new(),
                origin: Some(Instant::now()),
            };
            while !stop_flag.load(Ordering::SeqCst) {
                let started = Instant::now();
                let sent: Vec<Option<u64>> = shells
                    .iter_mut()
                    .map(|s| s.send("SELECT pg_is_in_recovery()"))
                    .collect();
                let deadline = started + POLL_TIMEOUT;
                let answers = shells
                    .iter_mut()
                    .zip(sent)
                    .map(|(shell, seq)| {
                        let reply = seq.map_or(Reply::NoReply, |seq| shell.receive(seq, deadline));
                        (shell.host.clone(), Answer::from_reply(reply))
                    })
                    .collect();
                log.rounds.push(Round {
                    started,
                    ended: Instant::now(),
                    answers,
                });
                round_count.fetch_add(1, Ordering::SeqCst);
                if let Some(left) = POLL_INTERVAL.checked_sub(started.elapsed()) {
                    std::thread::sleep(left);
                }
            }
            log
        });
        let watcher = Watcher {
            stop,
            handle: Some(handle),
            log: None,
            rounds,
        };
        watcher.wait_rounds(1, Duration::from_secs(30));
        watcher
    }

    /// Waits until `count` more rounds are done (at most `timeout`).
    pub fn wait_rounds(&self, count: u64, timeout: Duration) {
        let target = self.rounds.load(Ordering::SeqCst) + count;
        let start = Instant::now();
        while self.rounds.load(Ordering::SeqCst) < target {
            assert!(
                start.elapsed() < timeout,
                "the watcher did not finish {count} rounds within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops polling (once) and returns what was seen.
    pub fn stop(&mut self) -> &WatchLog {
        if self.log.is_none() {
            self.stop.store(true, Ordering::SeqCst);
            let log = self
                .handle
                .take()
                .map(|h| h.join().expect("the watcher thread panicked"))
                .unwrap_or_default();
            self.log = Some(log);
        }
        self.log.as_ref().expect("set above")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Writer

/// One acknowledged row: psql exited 0 after its INSERT on `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub id: u64,
    pub host: String,
}

/// How many acknowledged rows the final primary may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLoss {
    /// None: the rows were all acknowledged by the final primary itself, or the old primary was
    /// stopped cleanly (a clean shutdown sends all WAL to the streaming standbys before it ends).
    None,
    /// The data-loss window (bytes) failover.yml printed. When it is 0, no row may be missing. When it
    /// is more, nothing is asserted (the count is reported): bytes do not convert to rows, and when the
    /// old primary was not reached the window is only what the standbys last heard of, as the playbook
    /// says.
    Window(u64),
}

/// Everything a [`Writer`] did.
#[derive(Debug, Clone, Default)]
pub struct WriteLog {
    pub acked: Vec<Ack>,
    /// Ids whose INSERT failed or got no answer: each may or may not have been committed.
    pub failed: Vec<u64>,
}

impl WriteLog {
    /// The acknowledged ids that `host` does not have (read with psql there).
    pub fn missing_on(&self, host: &str) -> Result<Vec<u64>, String> {
        let ids = docker_psql(host, &format!("SELECT id FROM {TABLE} ORDER BY id"))?;
        let present: BTreeSet<u64> = ids.lines().filter_map(|l| l.trim().parse().ok()).collect();
        Ok(self
            .acked
            .iter()
            .map(|a| a.id)
            .filter(|id| !present.contains(id))
            .collect())
    }

    /// The acknowledged rows are on `primary` (which must accept writes), but for what `loss` allows.
    /// Returns what is wrong, if anything.
    pub fn rows_kept_violations(&self, primary: &str, loss: RowLoss) -> Vec<String> {
        let mut problems = Vec::new();
        match docker_psql(primary, "SELECT pg_is_in_recovery()") {
            Ok(answer) if answer == "f" => {}
            other => problems.push(format!(
                "{primary}, taken as the final primary, does not accept writes: {other:?}"
            )),
        }
        let missing: BTreeSet<u64> = match self.missing_on(primary) {
            Ok(missing) => missing.into_iter().collect(),
            Err(e) => {
                problems.push(format!("cannot read {TABLE} on {primary}: {e}"));
                return problems;
            }
        };
        if let RowLoss::Window(bytes @ 1..) = loss {
            eprintln!(
                "{} of {} acknowledged rows are missing on {primary}, within a data-loss window of {bytes} bytes",
                missing.len(),
                self.acked.len()
            );
            return problems;
        }
        if !missing.is_empty() {
            let by_host: BTreeMap<&str, usize> = self
                .acked
                .iter()
                .filter(|a| missing.contains(&a.id))
                .fold(BTreeMap::new(), |mut m, a| {
                    *m.entry(a.host.as_str()).or_default() += 1;
                    m
                });
            problems.push(format!(
                "{} of {} acknowledged rows are missing on the final primary {primary} ({loss:?} allows none); \
                 acknowledged by {by_host:?}; ids {:?}",
                missing.len(),
                self.acked.len(),
                missing.iter().take(20).collect::<Vec<_>>()
            ));
        }
        problems
    }

    pub fn assert_rows_kept(&self, primary: &str, loss: RowLoss) {
        let problems = self.rows_kept_violations(primary, loss);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// The hosts that acknowledged rows, with how many each.
    pub fn acked_by_host(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for ack in &self.acked {
            *counts.entry(ack.host.clone()).or_default() += 1;
        }
        counts
    }
}

#[derive(Default)]
struct WriterShared {
    isolated: BTreeSet<String>,
    /// Bumped by `isolate`; the thread copies it into `seen` before each INSERT.
    requested: u64,
    seen: u64,
}

/// Inserts numbered rows, one autocommit INSERT each, into [`TABLE`] on whichever host accepts writes,
/// every `interval`, in a background thread. An id is never reused: a failed INSERT's id is recorded
/// as failed, and the next row gets the next id (on the writable host found again).
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    shared: Arc<Mutex<WriterShared>>,
    handle: Option<JoinHandle<WriteLog>>,
    log: Option<WriteLog>,
}

/// The hosts that answer `pg_is_in_recovery() = f`, skipping `isolated` ones.
fn writable_hosts(shells: &mut [NodeShell], isolated: &BTreeSet<String>) -> Vec<String> {
    shells
        .iter_mut()
        .filter(|s| !isolated.contains(&s.host))
        .filter_map(|s| {
            let reply = s.run("SELECT pg_is_in_recovery()", Duration::from_secs(3));
            (reply == Reply::Ok("f".into())).then(|| s.host.clone())
        })
        .collect()
}

impl Writer {
    /// Creates [`TABLE`] on the writable host (waiting up to 60 s for one) and starts writing.
    pub fn start<S: AsRef<str>>(hosts: &[S], interval: Duration) -> Writer {
        let mut shells: Vec<NodeShell> = hosts.iter().map(|h| NodeShell::new(h.as_ref())).collect();
        let start = Instant::now();
        let first = loop {
            if let Some(host) = writable_hosts(&mut shells, &BTreeSet::new()).first() {
                break host.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the writer found no writable host among {:?} within 60 s",
                shells.iter().map(|s| &s.host).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let shell = shells
            .iter_mut()
            .find(|s| s.host == first)
            .expect("found above");
        let created = shell.run(
            &format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, host text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ),
            Duration::from_secs(10),
        );
        assert!(
            matches!(created, Reply::Ok(_)),
            "creating {TABLE} on {first}: {created:?}"
        );

        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Mutex::new(WriterShared::default()));
        let (stop_flag, acked_count, state) = (stop.clone(), acked.clone(), shared.clone());
        let handle = std::thread::spawn(move || {
            let mut log = WriteLog::default();
            let mut target = Some(first);
            let mut id = 0u64;
            while !stop_flag.load(Ordering::SeqCst) {
                let isolated = {
                    let mut state = state.lock().expect("writer state");
                    state.seen = state.requested;
                    state.isolated.clone()
                };
                if target.as_ref().is_some_and(|t| isolated.contains(t)) {
                    target = None;
                }
                let Some(host) = target
                    .clone()
                    .or_else(|| writable_hosts(&mut shells, &isolated).into_iter().next())
                else {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                };
                id += 1;
                let shell = shells
                    .iter_mut()
                    .find(|s| s.host == host)
                    .expect("a lab host");
                let reply = shell.run(
                    &format!("INSERT INTO {TABLE} (id, host) VALUES ({id}, '{host}')"),
                    Duration::from_secs(6),
                );
                if matches!(reply, Reply::Ok(_)) {
                    log.acked.push(Ack {
                        id,
                        host: host.clone(),
                    });
                    acked_count.fetch_add(1, Ordering::SeqCst);
                    target = Some(host);
                } else {
                    log.failed.push(id);
                    target = None;
                }
                std::thread::sleep(interval);
            }
            log
        });
        Writer {
            stop,
            acked,
            shared,
            handle: Some(handle),
            log: None,
        }
    }

    /// How many rows were acknowledged so far.
    pub fn acked_count(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` more rows are acknowledged (at most `timeout`).
    pub fn wait_for_more(&self, count: u64, timeout: Duration) {
        let target = self.acked_count() + count;
        let start = Instant::now();
        while self.acked_count() < target {
            assert!(
                start.elapsed() < timeout,
                "the writer got {} of {target} acknowledged rows within {timeout:?}",
                self.acked_count()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// From now on the writer does not write to `host`, as clients cut off from it by a network
    /// partition; returns once no INSERT to it is in flight any more.
    pub fn isolate(&self, host: &str) {
        let requested = {
            let mut state = self.shared.lock().expect("writer state");
            state.isolated.insert(host.to_string());
            state.requested += 1;
            state.requested
        };
        let start = Instant::now();
        while self.shared.lock().expect("writer state").seen < requested {
            if self.handle.is_none() || self.handle.as_ref().is_some_and(|h| h.is_finished()) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the writer did not take the isolation of {host} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Clients reach `host` again.
    pub fn reconnect(&self, host: &str) {
        self.shared
            .lock()
            .expect("writer state")
            .isolated
            .remove(host);
    }

    /// Stops writing (once) and returns what was done.
    pub fn stop(&mut self) -> &WriteLog {
        if self.log.is_none() {
            self.stop.store(true, Ordering::SeqCst);
            let log = self
                .handle
                .take()
                .map(|h| h.join().expect("the writer thread panicked"))
                .unwrap_or_default();
            self.log = Some(log);
        }
        self.log.as_ref().expect("set above")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The `N` of failover.yml's `data-loss window: N bytes (...)` line.
pub fn data_loss_window(stdout: &str) -> Option<u64> {
    let rest = stdout.split("data-loss window: ").nth(1)?;
    rest.split(" bytes").next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(answers: &[(&str, Answer)]) -> Round {
        let now = Instant::now();
        Round {
            started: now,
            ended: now,
            answers: answers
                .iter()
                .map(|(h, a)| (h.to_string(), a.clone()))
                .collect(),
        }
    }

    fn log(rounds: Vec<Round>) -> WatchLog {
        WatchLog {
            hosts: vec!["a".into(), "b".into()],
            rounds,
            origin: None,
        }
    }

    use Answer::{InRecovery as T, NoReply as Q, Writable as F};

    #[test]
    fn a_clean_handover_is_a_single_writer() {
        let down = Answer::Down("refused".into());
        let watched = log(vec![
            round(&[("a", F), ("b", T)]),
            round(&[("a", down.clone()), ("b", T)]),
            round(&[("a", down), ("b", F)]),
        ]);
        assert_eq!(watched.max_writable(), 1);
        assert!(watched.single_writer_violations().is_empty());
        assert_eq!(watched.writable_periods().len(), 2);
    }

    #[test]
    fn two_writable_in_one_round_is_split_brain() {
        let watched = log(vec![round(&[("a", F), ("b", F)])]);
        assert_eq!(watched.max_writable(), 2);
        assert_eq!(watched.single_writer_violations().len(), 2);
    }

    /// A writable host that stops answering may still take writes: another one becoming writable
    /// meanwhile overlaps it, although no round has two `f`.
    #[test]
    fn a_silent_writable_host_overlaps_a_new_primary() {
        let watched = log(vec![
            round(&[("a", F), ("b", T)]),
            round(&[("a", Q), ("b", F)]),
            round(&[("a", F), ("b", Q)]),
        ]);
        assert_eq!(watched.max_writable(), 1);
        assert_eq!(watched.overlapping_writable().len(), 1);
    }

    #[test]
    fn the_printed_window_is_read() {
        let out = r#""msg": "data-loss window: 0 bytes (ply-x-2 has WAL up to 0/5000000; ...)""#;
        assert_eq!(data_loss_window(out), Some(0));
        assert_eq!(
            data_loss_window("data-loss window: 8192 bytes (x)"),
            Some(8192)
        );
        assert_eq!(data_loss_window("nothing"), None);
    }
}
