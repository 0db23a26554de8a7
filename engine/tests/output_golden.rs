//! Golden output: each `output-data/cases/*.json` is a list of events (with every field the executor would
//! set defaulted, so cases stay short) and the verbosities to render it at. The human output of each
//! variant is snapshotted; warnings go to stderr, so the snapshot shows the interleaved stream and then
//! stderr alone. Lines that end in spaces (the recap's padding) get a `$` after the last space, because
//! those spaces are part of ansible-playbook's output.
//!
//! The same events also go through the JSON-lines reporter, whose every line must parse back.

use engine::output::{
    Event, FileDiff, HostResult, HostStats, HumanReporter, JsonReporter, ProgressReporter,
    Reporter, Status,
};
use serde::Deserialize;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Deserialize)]
struct Case {
    #[serde(default = "default_variants")]
    verbosity: Vec<u8>,
    events: Vec<CaseEvent>,
}

fn default_variants() -> Vec<u8> {
    vec![0]
}

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
enum CaseEvent {
    PlaybookStart {
        path: String,
        #[serde(default)]
        check_mode: bool,
    },
    PlayStart {
        name: String,
        #[serde(default)]
        hosts: Vec<String>,
    },
    TaskStart {
        name: String,
        #[serde(default)]
        handler: bool,
        #[serde(default)]
        path: String,
        #[serde(default)]
        hosts: Vec<String>,
    },
    HostResult(CaseResult),
    Retrying {
        host: String,
        task: String,
        retries_left: u32,
        #[serde(default)]
        result: Value,
    },
    Included {
        file: String,
        hosts: Vec<String>,
    },
    NoHostsMatched,
    NoMoreHosts,
    Warning {
        message: String,
    },
    Recap {
        stats: Vec<(String, CaseStats)>,
        #[serde(default)]
        duration: f64,
        #[serde(default)]
        task_times: Vec<(String, f64)>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseResult {
    host: String,
    #[serde(default)]
    delegated_to: Option<String>,
    status: String,
    #[serde(default)]
    ignored: bool,
    #[serde(default)]
    item_label: Option<String>,
    #[serde(default)]
    loop_summary: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    diff: Vec<CaseDiff>,
    #[serde(default)]
    verbose_always: bool,
    #[serde(default)]
    duration: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDiff {
    #[serde(default)]
    before_header: String,
    #[serde(default)]
    after_header: String,
    before: String,
    after: String,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CaseStats {
    ok: u32,
    changed: u32,
    unreachable: u32,
    failed: u32,
    skipped: u32,
    rescued: u32,
    ignored: u32,
}

fn status(name: &str) -> Status {
    match name {
        "ok" => Status::Ok,
        "changed" => Status::Changed,
        "skipped" => Status::Skipped,
        "failed" => Status::Failed,
        "unreachable" => Status::Unreachable,
        other => panic!("unknown status {other}"),
    }
}

impl From<CaseEvent> for Event {
    fn from(e: CaseEvent) -> Event {
        match e {
            CaseEvent::PlaybookStart { path, check_mode } => {
                Event::PlaybookStart { path, check_mode }
            }
            CaseEvent::PlayStart { name, hosts } => Event::PlayStart { name, hosts },
            CaseEvent::TaskStart {
                name,
                handler,
                path,
                hosts,
            } => Event::TaskStart {
                name,
                handler,
                path,
                hosts,
            },
            CaseEvent::HostResult(r) => Event::HostResult(HostResult {
                host: r.host,
                delegated_to: r.delegated_to,
                status: status(&r.status),
                ignored: r.ignored,
                item_label: r.item_label,
                loop_summary: r.loop_summary,
                result: if r.result.is_null() {
                    serde_json::json!({})
                } else {
                    r.result
                },
                diff: r
                    .diff
                    .into_iter()
                    .map(|d| FileDiff {
                        before_header: d.before_header,
                        after_header: d.after_header,
                        before: d.before,
                        after: d.after,
                    })
                    .collect(),
                verbose_always: r.verbose_always,
                duration: Duration::from_secs_f64(r.duration),
            }),
            CaseEvent::Retrying {
                host,
                task,
                retries_left,
                result,
            } => Event::Retrying {
                host,
                task,
                retries_left,
                result,
            },
            CaseEvent::Included { file, hosts } => Event::Included { file, hosts },
            CaseEvent::NoHostsMatched => Event::NoHostsMatched,
            CaseEvent::NoMoreHosts => Event::NoMoreHosts,
            CaseEvent::Warning { message } => Event::Warning { message },
            CaseEvent::Recap {
                stats,
                duration,
                task_times,
            } => Event::Recap {
                stats: stats
                    .into_iter()
                    .map(|(h, s)| {
                        let stats = HostStats {
                            ok: s.ok,
                            changed: s.changed,
                            unreachable: s.unreachable,
                            failed: s.failed,
                            skipped: s.skipped,
                            rescued: s.rescued,
                            ignored: s.ignored,
                        };
                        (h, stats)
                    })
                    .collect(),
                duration: Duration::from_secs_f64(duration),
                task_times,
            },
        }
    }
}

/// A writer several reporters' streams can share, so the test sees stdout and stderr interleaved.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Tees into a second buffer what goes to stderr.
struct Tee(Buffer, Buffer);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn load(path: &std::path::Path) -> (Vec<u8>, Vec<Event>) {
    let text = std::fs::read_to_string(path).unwrap();
    let case: Case =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (
        case.verbosity,
        case.events.into_iter().map(Event::from).collect(),
    )
}

/// Runs the events through the human format; returns (both streams interleaved, stderr alone).
fn human(events: &[Event], color: bool, verbosity: u8) -> (String, String) {
    let all = Buffer::default();
    let stderr = Buffer::default();
    let mut reporter = HumanReporter::new(all.clone(), color, verbosity)
        .with_stderr(Tee(all.clone(), stderr.clone()));
    for event in events {
        reporter.report(event);
    }
    (all.text(), stderr.text())
}

fn mark_trailing_spaces(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.ends_with(' ') {
                format!("{line}$")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn human_output() {
    insta::glob!("output-data/cases/*.json", |path| {
        let (variants, events) = load(path);
        let mut snapshot = String::new();
        for verbosity in variants {
            let (all, stderr) = human(&events, false, verbosity);
            snapshot.push_str(&format!(
                "======== verbosity {verbosity}: stdout and stderr ========\n"
            ));
            snapshot.push_str(&mark_trailing_spaces(&all));
            if !stderr.is_empty() {
                snapshot.push_str(&format!(
                    "======== verbosity {verbosity}: stderr ========\n"
                ));
                snapshot.push_str(&mark_trailing_spaces(&stderr));
            }
        }
        insta::assert_snapshot!(snapshot);
    });
}

#[test]
fn json_lines_parse_back() {
    insta::glob!("output-data/cases/*.json", |path| {
        let (_, events) = load(path);
        let out = Buffer::default();
        let mut reporter =
            JsonReporter::new(out.clone()).with_clock(|| UNIX_EPOCH + Duration::from_millis(1_500));
        for event in &events {
            reporter.report(event);
        }
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), events.len(), "one line per event");
        for (line, event) in lines.iter().zip(&events) {
            let parsed: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let mut expected = serde_json::to_value(event).unwrap();
            assert_eq!(parsed["time"], "1970-01-01T00:00:01.500Z");
            let keys: Vec<&String> = parsed.as_object().unwrap().keys().collect();
            assert_eq!(keys[..2], ["event", "time"]);
            let mut parsed = parsed;
            parsed.as_object_mut().unwrap().shift_remove("time");
            expected.as_object_mut().unwrap().sort_keys();
            parsed.as_object_mut().unwrap().sort_keys();
            assert_eq!(parsed, expected);
        }
    });
}

#[test]
fn progress_wrapper_is_transparent_off_a_terminal() {
    insta::glob!("output-data/cases/*.json", |path| {
        let (variants, events) = load(path);
        let verbosity = variants[0];
        let out = Buffer::default();
        let inner = HumanReporter::new(out.clone(), false, verbosity).with_stderr(out.clone());
        let mut reporter = ProgressReporter::with_enabled(inner, false);
        for event in &events {
            reporter.report(event);
        }
        drop(reporter);
        assert_eq!(out.text(), human(&events, false, verbosity).0);
    });
}
