//! Turning samples into the results table: medians with min–max per tool, and speed ratios computed per
//! pair of runs (the ply run and the other tool's run of the same repetition, minutes apart at most), so
//! a burst of load from the machine's other work skews one pair, not the whole comparison.

use crate::measure::Sample;
use crate::tools::Tool;
use std::fmt::Write as _;

/// One table row: a workload in one phase, every tool's samples in repetition order.
pub struct Row {
    pub workload: String,
    pub phase: &'static str,
    pub hosts: usize,
    pub tasks: usize,
    /// True for W1–W3, the workloads the speed targets apply to.
    pub has_targets: bool,
    pub samples: Vec<(Tool, Vec<Sample>)>,
}

impl Row {
    pub fn of(&self, tool: Tool) -> Option<&[Sample]> {
        self.samples
            .iter()
            .find(|(t, _)| *t == tool)
            .map(|(_, s)| s.as_slice())
            .filter(|s| !s.is_empty())
    }

    /// `other ÷ ply` wall time, one value per repetition.
    pub fn speedups(&self, other: Tool) -> Vec<f64> {
        match (self.of(Tool::Ply), self.of(other)) {
            (Some(ply), Some(theirs)) => ply
                .iter()
                .zip(theirs)
                .map(|(p, o)| o.wall_s / p.wall_s)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Median, min and max (NaN-free input expected; NaN for none).
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: impl IntoIterator<Item = f64>) -> Spread {
    let mut values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return Spread {
            median: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Spread {
        median,
        min: values[0],
        max: values[n - 1],
    }
}

fn cell(s: &Spread, decimals: usize, unit: &str) -> String {
    if s.median.is_nan() {
        return "–".into();
    }
    if (s.max - s.min).abs() < f64::EPSILON {
        return format!("{:.decimals$}{unit}", s.median);
    }
    format!(
        "{:.decimals$}{unit} ({:.decimals$}–{:.decimals$})",
        s.median, s.min, s.max
    )
}

/// The markdown results table: one line per workload, phase and tool.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | phase | tool | wall s | controller CPU s | peak MiB | ms/task (wall÷tasks) | \
         CPU ms/host-task | other÷ply wall (per pair) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        for (tool, samples) in &row.samples {
            if samples.is_empty() {
                continue;
            }
            let wall = spread(samples.iter().map(|s| s.wall_s));
            let cpu = spread(samples.iter().map(|s| s.cpu_s));
            let peak = spread(samples.iter().map(|s| s.peak_mib));
            let per_task = spread(samples.iter().map(|s| s.wall_s * 1000.0 / row.tasks as f64));
            let cpu_per_host_task = spread(
                samples
                    .iter()
                    .map(|s| s.cpu_s * 1000.0 / (row.hosts * row.tasks) as f64),
            );
            let ratio = if *tool == Tool::Ply {
                String::new()
            } else {
                let speedups = row.speedups(*tool);
                cell(&spread(speedups), 1, "x")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.workload,
                row.phase,
                tool.name(),
                cell(&wall, 2, ""),
                cell(&cpu, 2, ""),
                cell(&peak, 1, ""),
                cell(&per_task, 2, ""),
                cell(&cpu_per_host_task, 3, ""),
                ratio
            );
        }
    }
    out
}

/// The russh floor: median and range of one `true` exec on an open connection, in ms.
pub struct Floor {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
}

/// The targets, each judged from this run's figures.
pub fn targets(rows: &[Row], floor: Option<&Floor>) -> String {
    let mut out = String::from("| target | measured | met |\n|---|---|---|\n");
    let mut line = |target: String, measured: String, met: bool| {
        let _ = writeln!(
            out,
            "| {target} | {measured} | {} |",
            if met { "yes" } else { "**no**" }
        );
    };
    for row in rows.iter().filter(|r| r.has_targets) {
        let name = format!("{} ({})", row.workload, row.phase);
        for (other, goal) in [(Tool::Ansible, 20.0), (Tool::Pyinfra, 5.0)] {
            let speedups = row.speedups(other);
            if speedups.is_empty() {
                continue;
            }
            let s = spread(speedups);
            line(
                format!("{name}: ply ≥{goal}x faster than {}", other.name()),
                format!("{:.1}x (median of pairs)", s.median),
                s.median >= goal,
            );
        }
        let Some(ply) = row.of(Tool::Ply) else {
            continue;
        };
        let cpu = spread(
            ply.iter()
                .map(|s| s.cpu_s * 1000.0 / (row.hosts * row.tasks) as f64),
        );
        line(
            format!("{name}: CPU per host-task < 1 ms"),
            format!("{:.3} ms", cpu.median),
            cpu.median < 1.0,
        );
        if row.hosts >= 100 {
            let peak = spread(ply.iter().map(|s| s.peak_mib));
            line(
                format!("{name}: controller peak < 64 MiB at {} hosts", row.hosts),
                format!("{:.1} MiB", peak.median),
                peak.median < 64.0,
            );
        }
        if let (Some(floor), 1) = (floor, row.hosts) {
            let per_task = spread(ply.iter().map(|s| s.wall_s * 1000.0 / row.tasks as f64));
            line(
                format!("{name}: per-task cost ≤ 2x a bare russh exec"),
                format!(
                    "{:.2} ms vs {:.2} ms = {:.1}x",
                    per_task.median,
                    floor.median_ms,
                    per_task.median / floor.median_ms
                ),
                per_task.median <= 2.0 * floor.median_ms,
            );
        }
    }
    out
}
