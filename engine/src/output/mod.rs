//! Reporting a run: events, and the reporters that show them.
//!
//! - [`HumanReporter`]: ansible-playbook's default output, byte for byte.
//! - [`JsonReporter`]: one JSON object per event and line, for tools.
//! - [`ProgressReporter`]: wraps another reporter with a spinner for the running task on a terminal.
//!
//! What the human format expects of the events, as Ansible's callback sees its results:
//! - `HostResult.result` is shown as is (minus `_ansible_*`, `exception`, and below -vvv `invocation` and
//!   `diff`): debug's clean-up (only `msg`, or only the variable) and `no_log` censoring ([`censor`]) are
//!   the executor's. `_ansible_verbose_always` / `_ansible_verbose_override` in it are honoured (facts
//!   gathering sets the override so `-v` does not dump facts); `warnings` in it are shown as warnings.
//! - Loops: one result per item (`item_label` set), then the summary (`loop_summary`, no label). Items
//!   carry their own diffs; the summary's are not shown. Only a skipped or unreachable summary prints a
//!   line, and a failed one prints `...ignoring` when ignored.
//! - `include_tasks`/`include_role`: `TaskStart` then `Included`, and no `HostResult` (Ansible prints none).
//! - `diff` is rendered whenever the result changed: leave it empty unless diff mode applies to the task.

mod color;
mod diff;
mod event;
mod human;
mod json;
mod progress;

pub use event::{Event, FileDiff, HostResult, HostStats, Reporter, Status};
pub use human::HumanReporter;
pub use json::{rfc3339, JsonReporter};
pub use progress::ProgressReporter;
/// How Ansible prints a result after `=>`: `json.dumps` with sorted keys, compact or indented.
pub fn python_json(value: &Value, indent: Option<usize>) -> String {
    crate::pyjson::dumps(value, &crate::pyjson::JsonOptions::result(indent))
}

/// One before/after pair as `--diff` shows it (unified diff, 3 lines of context, then an empty line);
/// empty when both sides are equal.
pub fn render_diff(diff: &FileDiff, color: bool) -> String {
    diff::render(diff, diff::DIFF_CONTEXT, color)
}

use serde_json::{json, Map, Value};
use std::io::IsTerminal;

/// Ansible's text for a result hidden by `no_log`.
pub const CENSORED_MESSAGE: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// The loop label Ansible shows for an item of a `no_log` task.
pub const CENSORED_ITEM_LABEL: &str = "(censored due to no_log)";

/// The shape of a `no_log` result: `{"censored": ..., "changed": false}`; set `changed` from the real
/// result, or use [`censor`], which keeps every key Ansible keeps.
pub fn censored_result() -> Value {
    json!({"censored": CENSORED_MESSAGE, "changed": false})
}

/// A result as Ansible shows it under `no_log` (`TaskResult.clean_copy`): the censored message plus the
/// keys it preserves (`attempts`, `changed`, `retries`, and the fields of the delegated host's connection).
pub fn censor(result: &Value) -> Value {
    let mut out = Map::new();
    out.insert("censored".into(), Value::String(CENSORED_MESSAGE.into()));
    for key in ["attempts", "changed", "retries"] {
        if let Some(v) = result.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(Value::Object(delegated)) = result.get("_ansible_delegated_vars") {
        let kept: Map<String, Value> = delegated
            .iter()
            .filter(|(k, _)| {
                [
                    "ansible_host",
                    "ansible_port",
                    "ansible_user",
                    "ansible_connection",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("_ansible_delegated_vars".into(), Value::Object(kept));
    }
    Value::Object(out)
}

/// ansible-playbook's exit status from the recap: 4 when a host was unreachable (checked first, so it
/// wins), 2 when a host failed, else 0.
pub fn exit_code(stats: &[(String, HostStats)]) -> u8 {
    if stats.iter().any(|(_, s)| s.unreachable > 0) {
        4
    } else if stats.iter().any(|(_, s)| s.failed > 0) {
        2
    } else {
        0
    }
}

/// Whether the human output is coloured: like Ansible, not with `NO_COLOR`/`ANSIBLE_NOCOLOR`, not when
/// stdout is not a terminal or `TERM=dumb`, and always with `ANSIBLE_FORCE_COLOR`.
pub fn color_enabled() -> bool {
    color_from_env(std::io::stdout().is_terminal(), |name| {
        std::env::var(name).ok()
    })
}

fn color_from_env(stdout_is_tty: bool, var: impl Fn(&str) -> Option<String>) -> bool {
    let truthy = |name: &str| {
        var(name).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on" | "y" | "t"
            )
        })
    };
    if truthy("ANSIBLE_FORCE_COLOR") {
        return true;
    }
    // no-color.org: any non-empty value disables colour.
    if var("NO_COLOR").is_some_and(|v| !v.is_empty()) || truthy("ANSIBLE_NOCOLOR") {
        return false;
    }
    stdout_is_tty && var("TERM").as_deref() != Some("dumb")
}

/// The terminal's width when stdout is one.
pub fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| usize::from(cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(unreachable: u32, failed: u32) -> (String, HostStats) {
        let s = HostStats {
            unreachable,
            failed,
            ..HostStats::default()
        };
        ("h".into(), s)
    }

    #[test]
    fn exit_codes_follow_ansible() {
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(exit_code(&[stats(0, 0)]), 0);
        assert_eq!(exit_code(&[stats(0, 1), stats(0, 0)]), 2);
        assert_eq!(exit_code(&[stats(0, 1), stats(1, 0)]), 4);
        let ignored = HostStats {
            ignored: 3,
            rescued: 1,
            ..HostStats::default()
        };
        assert_eq!(exit_code(&[("h".into(), ignored)]), 0);
    }

    #[test]
    fn censoring_keeps_what_ansible_keeps() {
        let r =
            json!({"changed": true, "stdout": "secret", "attempts": 2, "_ansible_no_log": true});
        assert_eq!(
            censor(&r),
            json!({"censored": CENSORED_MESSAGE, "changed": true, "attempts": 2})
        );
        assert_eq!(censored_result()["censored"], CENSORED_MESSAGE);
    }

    #[test]
    fn colour_from_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(color_from_env(true, env(&[])));
        assert!(!color_from_env(false, env(&[])));
        assert!(!color_from_env(true, env(&[("NO_COLOR", "1")])));
        assert!(color_from_env(true, env(&[("NO_COLOR", "")])));
        assert!(!color_from_env(true, env(&[("TERM", "dumb")])));
        assert!(color_from_env(false, env(&[("ANSIBLE_FORCE_COLOR", "1")])));
    }
}
