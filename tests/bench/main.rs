//! `cargo run --release -p ply-tests --bin ply-bench`: ply against a throwaway loopback sshd, and
//! ansible-playbook on the same work when it is installed, side by side in one run (these machines are
//! noisy, so only same-run ratios mean anything).
//!
//! Scenarios: 1 host x 100 trivial command tasks, and 20 hosts x 20 tasks. Each prints wall time,
//! controller CPU (user+sys) and peak memory (max RSS), measured with GNU time.

use ply_tests::sshd::{KeyKind, Sshd};
use ply_tests::workspace_root;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Measure {
    wall: f64,
    cpu: f64,
    max_rss_kib: u64,
    ok: bool,
}

fn main() {
    let ply = build_release_ply();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let ansible = find_ansible();
    let scenarios = [
        ("1 host x 100 tasks", 1, 100),
        ("20 hosts x 20 tasks", 20, 20),
    ];
    println!("ply: {}", ply.display());
    match &ansible {
        Some(path) => println!("ansible-playbook: {}", path.display()),
        None => println!(
            "ansible-playbook: not found (set PLY_BENCH_ANSIBLE or put it on PATH for ratios)"
        ),
    }
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>10} {:>10} {:>12} {:>8}",
        "scenario", "ply wall", "ply cpu", "ply rss", "ans wall", "ans cpu", "ans rss", "ratio"
    );
    for (name, hosts, tasks) in scenarios {
        let case = dir.path().join(name.replace(' ', "_"));
        std::fs::create_dir_all(&case).expect("case dir");
        write_scenario(&case, &sshd, hosts, tasks);
        // One warm-up run each, so neither pays for a cold page cache.
        let _ = measure(&case, &ply_command(&ply));
        let ply_figures = median_of(3, || measure(&case, &ply_command(&ply)));
        let ansible_figures = ansible.as_ref().map(|a| {
            let _ = measure(&case, &ansible_command(a));
            median_of(3, || measure(&case, &ansible_command(a)))
        });
        let (a_wall, a_cpu, a_rss, ratio) = match &ansible_figures {
            Some(a) => (
                format!("{:.2}s", a.wall),
                format!("{:.2}s", a.cpu),
                format!("{} MiB", a.max_rss_kib / 1024),
                format!("{:.1}x", a.wall / ply_figures.wall),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<22} {:>10} {:>10} {:>12} {:>10} {:>10} {:>12} {:>8}{}",
            name,
            format!("{:.2}s", ply_figures.wall),
            format!("{:.2}s", ply_figures.cpu),
            format!("{} MiB", ply_figures.max_rss_kib / 1024),
            a_wall,
            a_cpu,
            a_rss,
            ratio,
            if ply_figures.ok && ansible_figures.as_ref().is_none_or(|a| a.ok) {
                ""
            } else {
                "  (a run FAILED)"
            }
        );
        let per_task_ms = ply_figures.wall * 1000.0 / (hosts * tasks) as f64;
        println!("{:<22} ply: {per_task_ms:.2} ms per host-task", "");
    }
}

fn build_release_ply() -> PathBuf {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "engine",
            "--bin",
            "ply",
        ])
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building ply failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    target.join("release").join("ply")
}

fn find_ansible() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PLY_BENCH_ANSIBLE") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("ansible-playbook"))
            .find(|p| p.is_file())
    })
}

fn write_scenario(case: &Path, sshd: &Sshd, hosts: usize, tasks: usize) {
    let key = sshd.key(KeyKind::Ed25519);
    let mut inventory = String::from("[bench]\n");
    for k in 1..=hosts {
        let _ = writeln!(
            inventory,
            "bench{k} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}",
            sshd.address(),
            sshd.port(),
            sshd.user(),
            key.display()
        );
    }
    std::fs::write(case.join("inventory.ini"), inventory).expect("inventory");
    let mut playbook = String::from("- hosts: bench\n  gather_facts: false\n  tasks:\n");
    for t in 1..=tasks {
        let _ = writeln!(playbook, "    - name: task {t}\n      command: \"true\"");
    }
    std::fs::write(case.join("site.yml"), playbook).expect("playbook");
    std::fs::write(
        case.join("ansible.cfg"),
        "[defaults]\nforks = 20\nhost_key_checking = False\ngathering = explicit\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s\n",
    )
    .expect("ansible.cfg");
}

fn ply_command(ply: &Path) -> Command {
    let mut command = Command::new(ply);
    command.args([
        "run",
        "site.yml",
        "-i",
        "inventory.ini",
        "-f",
        "20",
        "--host-key-checking",
        "off",
    ]);
    command
}

fn ansible_command(ansible: &Path) -> Command {
    let mut command = Command::new(ansible);
    command.args(["site.yml", "-i", "inventory.ini"]);
    command
}

/// Runs the command under GNU time (`/usr/bin/time`) for CPU and peak memory, or wall time only.
fn measure(dir: &Path, command: &Command) -> Measure {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let time_file = dir.join("time.out");
    let gnu_time = Path::new("/usr/bin/time").is_file();
    let mut run = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%U %S %M")
            .arg("-o")
            .arg(&time_file)
            .arg(&program)
            .args(&args);
        c
    } else {
        let mut c = Command::new(&program);
        c.args(&args);
        c
    };
    run.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("ANSIBLE_NOCOLOR", "1");
    let started = Instant::now();
    let output = run.output().expect("benchmark command runs");
    let wall = started.elapsed().as_secs_f64();
    let (cpu, max_rss_kib) = std::fs::read_to_string(&time_file)
        .ok()
        .and_then(|text| {
            let last = text.lines().last()?.to_string();
            let fields: Vec<f64> = last
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            (fields.len() == 3).then(|| (fields[0] + fields[1], fields[2] as u64))
        })
        .unwrap_or((0.0, 0));
    Measure {
        wall,
        cpu,
        max_rss_kib,
        ok: output.status.success(),
    }
}

fn median_of(runs: usize, mut run: impl FnMut() -> Measure) -> Measure {
    let mut results: Vec<Measure> = (0..runs).map(|_| run()).collect();
    results.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    results.swap_remove(runs / 2)
}
