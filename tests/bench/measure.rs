//! Measuring one run of a tool: wall time, and the CPU seconds and peak memory of its whole process tree.
//!
//! Ansible forks a worker per host and an `ssh` per connection, so the figures of the top process alone
//! (what `/usr/bin/time` reports for memory: the largest single process's max RSS) undercount it. Each
//! run therefore gets fresh cgroup v1 `memory` and `cpuacct` groups (these machines have cgroup v1 and
//! no systemd): every process the tool forks lands in them, `cpuacct.usage` sums their CPU and
//! `memory.max_usage_in_bytes` is the peak of their combined memory (RSS plus page cache they were the
//! first to touch; the inputs are written by the harness before the run, so they are not charged).
//! Processes that outlive the tool (Ansible's ControlPersist masters) are killed after it exits, so every
//! run starts cold and their CPU up to then is counted.
//!
//! Without cgroup v1 the fallback is GNU time: CPU of the waited-for tree, memory of the largest process
//! only (said in the report).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one run cost.
#[derive(Debug, Clone)]
pub struct Sample {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_mib: f64,
    pub success: bool,
    /// stdout then stderr, for the error message when a run fails.
    pub output: String,
}

/// How CPU and memory are measured on this machine.
pub enum Meter {
    /// Parent cgroups (ours) under the memory and cpuacct hierarchies; each run gets a child of each.
    CgroupV1 {
        memory: PathBuf,
        cpuacct: PathBuf,
    },
    GnuTime,
    WallOnly,
}

const GNU_TIME: &str = "/usr/bin/time";

impl Meter {
    pub fn detect() -> Meter {
        if let Some((memory, cpuacct)) = own_cgroups_v1() {
            let probe = (
                memory.join(format!("ply-bench-probe-{}", std::process::id())),
                cpuacct.join(format!("ply-bench-probe-{}", std::process::id())),
            );
            if fs::create_dir(&probe.0).is_ok() && fs::create_dir(&probe.1).is_ok() {
                let _ = fs::remove_dir(&probe.0);
                let _ = fs::remove_dir(&probe.1);
                return Meter::CgroupV1 { memory, cpuacct };
            }
            let _ = fs::remove_dir(&probe.0);
        }
        if Path::new(GNU_TIME).is_file() {
            Meter::GnuTime
        } else {
            Meter::WallOnly
        }
    }

    /// One line for the report: what "CPU" and "peak memory" mean in this run.
    pub fn describe(&self) -> &'static str {
        match self {
            Meter::CgroupV1 { .. } => {
                "controller CPU = cpuacct.usage, peak = memory.max_usage_in_bytes of a cgroup v1 \
                 holding the tool's whole process tree"
            }
            Meter::GnuTime => {
                "controller CPU = GNU time user+sys of the waited-for tree; peak = max RSS of the \
                 LARGEST SINGLE process (undercounts forking tools: no cgroup v1 here)"
            }
            Meter::WallOnly => "wall time only (no cgroup v1 and no /usr/bin/time)",
        }
    }

    /// Runs `command` (its stdin null, its output captured) and measures it.
    pub fn run(&self, command: &Command) -> Sample {
        match self {
            Meter::CgroupV1 { memory, cpuacct } => run_in_cgroups(command, memory, cpuacct),
            Meter::GnuTime => run_under_gnu_time(command),
            Meter::WallOnly => {
                let started = Instant::now();
                let (success, output) = execute(rebuild(command, None, &[]));
                Sample {
                    wall_s: started.elapsed().as_secs_f64(),
                    cpu_s: f64::NAN,
                    peak_mib: f64::NAN,
                    success,
                    output,
                }
            }
        }
    }
}

/// Our own memory and cpuacct cgroup directories, from /proc/self/cgroup.
fn own_cgroups_v1() -> Option<(PathBuf, PathBuf)> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut memory = None;
    let mut cpuacct = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let relative = path.trim_start_matches('/');
        // The hierarchy is mounted under its controller list, e.g. "memory" or "cpu,cpuacct".
        let dir = Path::new("/sys/fs/cgroup").join(controllers).join(relative);
        let names: Vec<&str> = controllers.split(',').collect();
        if names.contains(&"memory") && dir.join("memory.max_usage_in_bytes").is_file() {
            memory = Some(dir.clone());
        }
        if names.contains(&"cpuacct") && dir.join("cpuacct.usage").is_file() {
            cpuacct = Some(dir);
        }
    }
    Some((memory?, cpuacct?))
}

/// A copy of `command` running `program` with `prefix` before the original program and arguments.
fn rebuild(command: &Command, program: Option<&str>, prefix: &[&std::ffi::OsStr]) -> Command {
    let mut new = Command::new(program.map_or(command.get_program(), std::ffi::OsStr::new));
    new.args(prefix);
    if program.is_some() {
        new.arg(command.get_program());
    }
    new.args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        new.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => new.env(key, value),
            None => new.env_remove(key),
        };
    }
    new
}

fn execute(mut command: Command) -> (bool, String) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn run_in_cgroups(command: &Command, memory_parent: &Path, cpuacct_parent: &Path) -> Sample {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "ply-bench-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    );
    let memory = memory_parent.join(&name);
    let cpuacct = cpuacct_parent.join(&name);
    for dir in [&memory, &cpuacct] {
        fs::create_dir(dir).unwrap_or_else(|e| panic!("create cgroup {}: {e}", dir.display()));
    }
    // The shell moves itself into both groups before exec'ing the tool, so the tool and everything it
    // forks are accounted from the first instruction (no unsafe pre_exec hook needed).
    let enter = r#"echo $$ > "$1" && echo $$ > "$2" && shift 2 && exec "$@""#;
    let memory_procs = memory.join("cgroup.procs");
    let cpuacct_procs = cpuacct.join("cgroup.procs");
    let prefix = [
        std::ffi::OsStr::new("-c"),
        std::ffi::OsStr::new(enter),
        std::ffi::OsStr::new("sh"),
        memory_procs.as_os_str(),
        cpuacct_procs.as_os_str(),
    ];
    let started = Instant::now();
    let (success, output) = execute(rebuild(command, Some("/bin/sh"), &prefix));
    let wall_s = started.elapsed().as_secs_f64();
    kill_leftovers(&memory_procs);
    let cpu_ns: f64 = read_number(&cpuacct.join("cpuacct.usage"));
    let peak_bytes: f64 = read_number(&memory.join("memory.max_usage_in_bytes"));
    for dir in [&memory, &cpuacct] {
        remove_cgroup(dir);
    }
    Sample {
        wall_s,
        cpu_s: cpu_ns / 1e9,
        peak_mib: peak_bytes / (1024.0 * 1024.0),
        success,
        output,
    }
}

fn read_number(path: &Path) -> f64 {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{} is not a number: {e}", path.display()))
}

/// SIGKILLs whatever of the run is still alive (by pid, from its own cgroup), until the group is empty.
fn kill_leftovers(procs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<i32> = fs::read_to_string(procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes {pids:?} of a benchmark run survive SIGKILL"
        );
        for pid in pids.into_iter().filter_map(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// rmdir of a cgroup fails with EBUSY for a moment after its last process died; retry briefly.
fn remove_cgroup(dir: &Path) {
    for _ in 0..100 {
        if fs::remove_dir(dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("ply-bench: could not remove cgroup {}", dir.display());
}

fn run_under_gnu_time(command: &Command) -> Sample {
    let report = tempfile::NamedTempFile::new().expect("temp file for GNU time");
    let format = std::ffi::OsString::from("%U %S %M");
    let prefix = [
        std::ffi::OsStr::new("-f"),
        format.as_os_str(),
        std::ffi::OsStr::new("-o"),
        report.path().as_os_str(),
    ];
    let started = Instant::now();
    let (success, output) = execute(rebuild(command, Some(GNU_TIME), &prefix));
    let wall_s = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(report.path()).unwrap_or_default();
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let (cpu_s, peak_mib) = match fields.as_slice() {
        [user, system, kib] => (user + system, kib / 1024.0),
        _ => (f64::NAN, f64::NAN),
    };
    Sample {
        wall_s,
        cpu_s,
        peak_mib,
        success,
        output,
    }
}
