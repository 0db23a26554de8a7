//! Colour as Ansible applies it: per result kind, per diff line, per recap field, never on banners; and
//! the progress wrapper's status line.

use engine::output::{
    Event, FileDiff, HostResult, HostStats, HumanReporter, ProgressReporter, Reporter, Status,
};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

fn result(host: &str, status: Status, value: serde_json::Value) -> HostResult {
    HostResult {
        host: host.into(),
        delegated_to: None,
        status,
        ignored: false,
        item_label: None,
        loop_summary: false,
        result: value,
        diff: Vec::new(),
        verbose_always: false,
        duration: Duration::ZERO,
    }
}

fn events() -> Vec<Event> {
    let task = |name: &str| Event::TaskStart {
        name: name.into(),
        handler: false,
        path: String::new(),
        hosts: vec!["web1".into(), "web2".into()],
    };
    let mut changed = result("web1", Status::Changed, json!({"changed": true}));
    changed.diff = vec![FileDiff {
        before_header: "/etc/motd".into(),
        after_header: "/etc/motd".into(),
        before: "keep\nold\n".into(),
        after: "keep\nnew\n".into(),
    }];
    let mut ignored = result(
        "web2",
        Status::Failed,
        json!({"changed": false, "msg": "boom"}),
    );
    ignored.ignored = true;
    let mut debug = result("web1", Status::Ok, json!({"msg": "hi"}));
    debug.verbose_always = true;
    vec![
        Event::PlayStart {
            name: "colours".into(),
            hosts: vec!["web1".into(), "web2".into()],
        },
        task("first"),
        Event::HostResult(changed),
        Event::HostResult(result("web2", Status::Ok, json!({"changed": false}))),
        task("second"),
        Event::HostResult(result("web1", Status::Skipped, json!({"changed": false}))),
        Event::HostResult(ignored),
        Event::HostResult(result(
            "db1",
            Status::Unreachable,
            json!({"unreachable": true}),
        )),
        Event::Retrying {
            host: "web1".into(),
            task: "second".into(),
            retries_left: 1,
            result: json!({}),
        },
        Event::Included {
            file: "x.yml".into(),
            hosts: vec!["web1".into()],
        },
        Event::NoHostsMatched,
        Event::Warning {
            message: "careful".into(),
        },
        task("debug"),
        Event::HostResult(debug),
        Event::Recap {
            stats: vec![
                (
                    "web1".into(),
                    HostStats {
                        ok: 2,
                        changed: 1,
                        skipped: 1,
                        ..HostStats::default()
                    },
                ),
                (
                    "web2".into(),
                    HostStats {
                        ok: 2,
                        ignored: 1,
                        ..HostStats::default()
                    },
                ),
                (
                    "db1".into(),
                    HostStats {
                        unreachable: 1,
                        ..HostStats::default()
                    },
                ),
                (
                    "ok-host".into(),
                    HostStats {
                        ok: 1,
                        ..HostStats::default()
                    },
                ),
            ],
            duration: Duration::ZERO,
            task_times: Vec::new(),
        },
    ]
}

fn render(color: bool) -> (String, String) {
    let out = Buffer::default();
    let err = Buffer::default();
    let mut reporter = HumanReporter::new(out.clone(), color, 0).with_stderr(err.clone());
    for event in events() {
        reporter.report(&event);
    }
    (out.text(), err.text())
}

#[test]
fn ansi_codes_on_the_right_lines() {
    let (out, err) = render(true);
    let lines: Vec<&str> = out.lines().collect();
    let has = |line: &str| assert!(lines.contains(&line), "missing {line:?} in\n{out}");
    // `%-37s` in Ansible: the 11 bytes of colour codes count towards the 26 columns of a plain host.

    // Banners are never coloured.
    has("PLAY [colours] *****************************************************************");
    has("\x1b[0;31m--- before: /etc/motd\x1b[0m");
    has("\x1b[0;31m\x1b[0m\x1b[0;32m+++ after: /etc/motd\x1b[0m");
    has("\x1b[0;32m\x1b[0m\x1b[0;36m@@ -1,2 +1,2 @@\x1b[0m");
    has("\x1b[0;36m\x1b[0m keep");
    has("\x1b[0;31m-old\x1b[0m");
    has("\x1b[0;31m\x1b[0m\x1b[0;32m+new\x1b[0m");
    has("\x1b[0;33mchanged: [web1]\x1b[0m");
    has("\x1b[0;32mok: [web2]\x1b[0m");
    has("\x1b[0;36mskipping: [web1]\x1b[0m");
    has("\x1b[0;31mfatal: [web2]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}\x1b[0m");
    has("\x1b[0;36m...ignoring\x1b[0m");
    has("\x1b[1;31mfatal: [db1]: UNREACHABLE! => {\"unreachable\": true}\x1b[0m");
    has("\x1b[1;30mFAILED - RETRYING: [web1]: second (1 retries left).\x1b[0m");
    has("\x1b[0;36mincluded: x.yml for web1\x1b[0m");
    has("\x1b[0;36mskipping: no hosts matched\x1b[0m");
    // A multi-line result is coloured line by line.
    has("\x1b[0;32mok: [web1] => {\x1b[0m");
    has("\x1b[0;32m    \"msg\": \"hi\"\x1b[0m");
    has("\x1b[0;32m}\x1b[0m");
    // The recap: host coloured by its worst outcome and padded to 37 with the codes, zero counts plain.
    has(&format!("{:<37} : ok=0    changed=0    \x1b[1;31munreachable=1   \x1b[0m failed=0    skipped=0    rescued=0    ignored=0   ", "\x1b[0;31mdb1\x1b[0m"));
    has(&format!("{:<37} : \x1b[0;32mok=1   \x1b[0m changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ", "\x1b[0;32mok-host\x1b[0m"));
    has(&format!("{:<37} : \x1b[0;32mok=2   \x1b[0m \x1b[0;33mchanged=1   \x1b[0m unreachable=0    failed=0    \x1b[0;36mskipped=1   \x1b[0m rescued=0    ignored=0   ", "\x1b[0;33mweb1\x1b[0m"));
    has(&format!("{:<37} : \x1b[0;32mok=2   \x1b[0m changed=0    unreachable=0    failed=0    skipped=0    rescued=0    \x1b[1;35mignored=1   \x1b[0m", "\x1b[0;32mweb2\x1b[0m"));
    assert_eq!(err, "\x1b[1;35m[WARNING]: careful\x1b[0m\n");
}

#[test]
fn no_ansi_codes_without_colour() {
    let (out, err) = render(false);
    assert!(!out.contains('\x1b') && !err.contains('\x1b'), "{out}{err}");
}

#[test]
fn coloured_output_snapshot() {
    let (out, err) = render(true);
    insta::assert_snapshot!(format!("{out}---- stderr ----\n{err}").replace('\x1b', "␛"));
}

#[test]
fn progress_line_counts_finished_hosts() {
    let out = Buffer::default();
    let inner = HumanReporter::new(out.clone(), false, 0);
    // Enabled, but a test's stdout is not a terminal, so indicatif draws nothing.
    let mut progress = ProgressReporter::with_enabled(inner, true);
    progress.report(&Event::TaskStart {
        name: "Install packages".into(),
        handler: false,
        path: String::new(),
        hosts: vec!["a".into(), "b".into(), "c".into()],
    });
    assert_eq!(
        progress.status_line().unwrap(),
        "TASK Install packages — 0/3 hosts done"
    );
    let mut item = result("a", Status::Ok, json!({}));
    item.item_label = Some("x".into());
    progress.report(&Event::HostResult(item));
    assert_eq!(
        progress.status_line().unwrap(),
        "TASK Install packages — 0/3 hosts done"
    );
    progress.report(&Event::HostResult(result("a", Status::Ok, json!({}))));
    progress.report(&Event::HostResult(result("b", Status::Failed, json!({}))));
    assert_eq!(
        progress.status_line().unwrap(),
        "TASK Install packages — 2/3 hosts done"
    );
    progress.report(&Event::NoMoreHosts);
    assert_eq!(progress.status_line(), None);
    let text = out.text();
    assert!(
        text.contains("TASK [Install packages]") && text.contains("ok: [a] => (item=x)"),
        "{text}"
    );
}
