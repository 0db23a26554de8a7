//! `ply-bench`: the same work done by ply, ansible-core and pyinfra on the same hosts in one run, with
//! the ratios between them (these machines are noisy and shared, so only same-run ratios mean anything).
//!
//! ```sh
//! cargo run --release -p ply-tests --bin ply-bench -- --full    # everything; ~1 h on 2 cores
//! cargo run --release -p ply-tests --bin ply-bench -- --quick   # ply only, small sizes, under a minute
//! ```
//!
//! Workloads (each host is an alias of one throwaway loopback sshd, see `workloads`):
//! W1 1 host x 100 lineinfile, W2 20 hosts x 30 mixed tasks, W3 100 hosts x 10 mixed tasks, W4 the
//! replication playbook in check mode on the converged container lab (ply only, see `replication`),
//! W5 a 200 MiB copy. W1–W3 and W5 run twice per repetition: on reset hosts ("changing") and again
//! ("converged"). Tools alternate within each repetition (ply, ansible, pyinfra, ply, ...), every run is
//! measured in its own cgroups (`measure`), and every end state is compared across tools (`state`).
//! `--quick` (what the test suite runs) checks the harness itself and panics on any failure.

mod measure;
mod replication;
mod report;
mod state;
mod tools;
mod workloads;

use measure::{Meter, Sample};
use ply_tests::sshd::{KeyKind, Sshd};
use report::{Floor, Row};
use std::path::{Path, PathBuf};
use std::process::Command;
use tools::{Tool, Toolbox};
use workloads::{Phase, Workload};

struct Options {
    quick: bool,
    reps: usize,
    /// Workload ids to run (`w1`..`w5`); all when empty.
    only: Vec<String>,
    /// Debug builds of ply and the floor probe: what the test suite has built already.
    debug_build: bool,
    venv: PathBuf,
    /// Also write the report here.
    report: Option<PathBuf>,
    /// Run ansible-core and pyinfra in quick mode too (to check the harness's equivalents quickly).
    compare: bool,
    /// Full sizes, ply alone (to see what an engine change does without waiting for the others).
    ply_only: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: ply-bench [--quick | --full] [--reps N] [--only w1,w3] [--debug-build] \
         [--compare] [--ply-only] [--venv DIR] [--report FILE]"
    );
    std::process::exit(2);
}

fn options() -> Options {
    let mut options = Options {
        quick: false,
        reps: 0,
        only: Vec::new(),
        debug_build: false,
        venv: PathBuf::from(tools::DEFAULT_VENV),
        report: None,
        compare: false,
        ply_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--full" => options.quick = false,
            "--reps" => {
                options.reps = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            "--only" => {
                let list = args.next().unwrap_or_else(|| usage());
                options.only = list.split(',').map(str::to_lowercase).collect();
            }
            "--debug-build" => options.debug_build = true,
            "--venv" => options.venv = args.next().map_or_else(|| usage(), PathBuf::from),
            "--report" => options.report = args.next().map(PathBuf::from),
            "--compare" => options.compare = true,
            "--ply-only" => options.ply_only = true,
            _ => usage(),
        }
    }
    if options.reps == 0 {
        options.reps = if options.quick { 1 } else { 3 };
    }
    options
}

/// The workloads at full size, or small ones for `--quick`.
fn workloads(quick: bool) -> Vec<Workload> {
    const MIB: usize = 1024 * 1024;
    if quick {
        vec![
            workloads::lineinfile(10),
            workloads::mixed("w2", 3, 10),
            workloads::mixed("w3", 10, 5),
            workloads::big_copy(4 * MIB),
        ]
    } else {
        vec![
            workloads::lineinfile(100),
            workloads::mixed("w2", 20, 30),
            workloads::mixed("w3", 100, 10),
            workloads::big_copy(200 * MIB),
        ]
    }
}

fn main() {
    let options = options();
    if let Err(why) = ply_tests::sshd::available() {
        eprintln!("ply-bench needs the sshd harness: {why}");
        std::process::exit(1);
    }
    let started = std::time::Instant::now();
    let cases = tempfile::Builder::new()
        .prefix("ply-bench-")
        .tempdir()
        .expect("temp dir");
    // Copies, so rebuilding the workspace while a long run goes on cannot swap the binaries under it.
    let toolbox = Toolbox {
        ply: snapshot(&build(&options, None), cases.path()),
        venv: (!options.ply_only && (!options.quick || options.compare))
            .then(|| tools::ensure_venv(&options.venv)),
    };
    let floor_probe = snapshot(&build(&options, Some("ssh_exec_floor")), cases.path());
    let meter = Meter::detect();
    // Many aliases share this one daemon: it must accept every host's connection at once.
    let sshd = Sshd::builder()
        .max_sessions(20)
        .password_authentication(false)
        .start();
    let _clean_up = workloads::CleanUp;
    let wanted = |id: &str| options.only.is_empty() || options.only.iter().any(|o| o == id);

    warm_up(&toolbox, &meter, &sshd, cases.path());
    let floor = run_floor(&floor_probe, &sshd, if options.quick { 30 } else { 300 });
    let mut rows = Vec::new();
    for workload in workloads(options.quick)
        .into_iter()
        .filter(|w| wanted(w.id))
    {
        eprintln!("ply-bench: {} {}", workload.id, workload.title);
        rows.extend(run_workload(
            &workload,
            &toolbox,
            &meter,
            &sshd,
            cases.path(),
            options.reps,
        ));
    }
    if !options.quick && wanted("w4") {
        eprintln!("ply-bench: w4 replication --check on the bench4 lab");
        let samples = replication::check_mode_samples(&toolbox.ply, &meter, options.reps);
        rows.push(Row {
            workload: "W4 replication.yml --check, 3 lab hosts".into(),
            phase: "converged",
            hosts: 3,
            tasks: replication::tasks_per_host(&samples[0]),
            has_targets: false,
            samples: vec![(Tool::Ply, samples)],
        });
    }
    let text = report_text(&options, &toolbox, &meter, &floor, &rows, started.elapsed());
    println!("{text}");
    if let Some(path) = &options.report {
        std::fs::write(path, &text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

fn snapshot(binary: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(binary.file_name().expect("a binary file name"));
    std::fs::copy(binary, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", binary.display()));
    copy
}

fn build(options: &Options, example: Option<&str>) -> PathBuf {
    if options.debug_build {
        tools::build_debug(example)
    } else {
        tools::build_release(example)
    }
}

/// One unmeasured run per tool on a small workload: fills Python's bytecode caches and the page cache, so
/// the first measured run of each tool does not pay for them.
fn warm_up(toolbox: &Toolbox, meter: &Meter, sshd: &Sshd, cases: &Path) {
    let workload = workloads::mixed("w0", 2, 5);
    let case = cases.join(workload.id);
    workload.generate(&case, sshd);
    for tool in toolbox.tools() {
        state::reset(&workload);
        let sample = meter.run(&toolbox.command(tool, &case, workload.hosts, &[]));
        assert!(
            sample.success,
            "{} warm-up run failed:\n{}",
            tool.name(),
            sample.output
        );
    }
}

/// `reps` repetitions; in each, every tool in turn does the changing run then the converged run, and
/// each run's end state must equal the first run's.
fn run_workload(
    workload: &Workload,
    toolbox: &Toolbox,
    meter: &Meter,
    sshd: &Sshd,
    cases: &Path,
    reps: usize,
) -> Vec<Row> {
    let case = cases.join(workload.id);
    workload.generate(&case, sshd);
    let phases = [Phase::Changing, Phase::Converged];
    let mut rows: Vec<Row> = phases
        .iter()
        .map(|phase| Row {
            workload: format!("{} {}", workload.id.to_uppercase(), workload.title),
            phase: phase.name(),
            hosts: workload.hosts,
            tasks: workload.tasks(),
            has_targets: matches!(workload.id, "w1" | "w2" | "w3"),
            samples: toolbox
                .tools()
                .into_iter()
                .map(|t| (t, Vec::new()))
                .collect(),
        })
        .collect();
    let mut reference: Option<state::Manifest> = None;
    for rep in 0..reps {
        for (t, tool) in toolbox.tools().into_iter().enumerate() {
            state::reset(workload);
            for (p, phase) in phases.iter().enumerate() {
                let sample = meter.run(&toolbox.command(tool, &case, workload.hosts, &[]));
                check_run(workload, tool, *phase, rep, &sample, &mut reference);
                eprintln!(
                    "  rep {} {:<8} {:<9} wall {:>7.2}s cpu {:>7.2}s peak {:>6.1} MiB",
                    rep + 1,
                    tool.name(),
                    phase.name(),
                    sample.wall_s,
                    sample.cpu_s,
                    sample.peak_mib
                );
                rows[p].samples[t].1.push(sample);
            }
        }
    }
    rows
}

/// Fails loudly when a run failed or left a different end state than the first run of the workload.
fn check_run(
    workload: &Workload,
    tool: Tool,
    phase: Phase,
    rep: usize,
    sample: &Sample,
    reference: &mut Option<state::Manifest>,
) {
    let what = format!(
        "{} {} {} run (repetition {})",
        workload.id,
        tool.name(),
        phase.name(),
        rep + 1
    );
    assert!(sample.success, "{what} failed:\n{}", sample.output);
    let manifest = state::manifest(workload);
    match reference {
        None => {
            assert_eq!(
                manifest.len(),
                workload.managed_paths(),
                "{what} left {:?}",
                manifest.keys().collect::<Vec<_>>()
            );
            *reference = Some(manifest);
        }
        Some(expected) => {
            let differences = state::differences(expected, &manifest);
            assert!(
                differences.is_empty(),
                "{what} left a different end state than the first run:\n{}",
                differences.join("\n")
            );
        }
    }
}

/// The bare russh exec cost on this sshd, measured now, so ply's per-task cost is compared with a floor
/// taken under the same machine load.
fn run_floor(probe: &Path, sshd: &Sshd, runs: usize) -> Option<Floor> {
    let output = Command::new(probe)
        .arg(sshd.address())
        .arg(sshd.port().to_string())
        .arg(sshd.user())
        .arg(sshd.key(KeyKind::Ed25519))
        .arg(runs.to_string())
        .output()
        .expect("the floor probe runs");
    assert!(
        output.status.success(),
        "the floor probe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: Vec<f64> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match figures.as_slice() {
        [median_ms, min_ms, max_ms] => Some(Floor {
            median_ms: *median_ms,
            min_ms: *min_ms,
            max_ms: *max_ms,
            runs,
        }),
        _ => panic!("the floor probe printed {figures:?}"),
    }
}

fn report_text(
    options: &Options,
    toolbox: &Toolbox,
    meter: &Meter,
    floor: &Option<Floor>,
    rows: &[Row],
    took: std::time::Duration,
) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "## ply-bench {} run, {} repetition(s), {:.0} s\n",
        if options.quick { "quick" } else { "full" },
        options.reps,
        took.as_secs_f64()
    );
    for line in machine_facts().into_iter().chain(toolbox.versions()) {
        let _ = writeln!(text, "- {line}");
    }
    let _ = writeln!(text, "- {}", meter.describe());
    if let Some(floor) = floor {
        let _ = writeln!(
            text,
            "- bare russh exec of `true` on an open connection (engine's SshConnection, {} runs): \
             median {:.2} ms ({:.2}–{:.2})",
            floor.runs, floor.median_ms, floor.min_ms, floor.max_ms
        );
    }
    let _ = writeln!(
        text,
        "\nMedian (min–max) over the repetitions. other÷ply: the other tool's wall time divided by \
         ply's in the same repetition (how many times faster ply is), median (min–max) of those pairs.\n"
    );
    text.push_str(&report::table(rows));
    if !options.quick {
        let _ = writeln!(text, "\n### Targets\n");
        text.push_str(&report::targets(rows, floor.as_ref()));
    }
    text
}

/// Date, cores, CPU model and kernel, for the results header.
fn machine_facts() -> Vec<String> {
    let shell = |script: &str| {
        Command::new("sh")
            .args(["-c", script])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    vec![
        format!("date: {}", shell("date -u '+%Y-%m-%d %H:%M UTC'")),
        format!(
            "machine: {} cores, {}, kernel {}, {}",
            shell("nproc"),
            shell("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1"),
            shell("uname -r"),
            shell(". /etc/os-release && echo \"$PRETTY_NAME\"")
        ),
        format!("sshd: {}", shell("ssh -V 2>&1")),
    ]
}
