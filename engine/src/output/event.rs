//! What a run reports, as events. The executor emits them in order (results of one task in inventory
//! order); reporters turn them into the human format, JSON lines, or progress.

use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

pub use modules::FileDiff;

/// How a host's task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// A task's result on one host (or one loop item of it).
#[derive(Clone, Debug, Serialize)]
pub struct HostResult {
    pub host: String,
    /// `delegate_to` target, shown as `host -> delegate`.
    pub delegated_to: Option<String>,
    pub status: Status,
    /// A failure that `ignore_errors` turned into `...ignoring`.
    pub ignored: bool,
    /// The loop item's label, for `(item=...)`; `None` outside loops and for the loop's summary result.
    pub item_label: Option<String>,
    /// True for the summary result of a loop (after its item results).
    pub loop_summary: bool,
    /// The result as Ansible shows it after `=>` (already redacted when the task has `no_log`).
    pub result: Value,
    pub diff: Vec<FileDiff>,
    /// Show `=> {json}` even without `-v` (debug, assert, failures).
    pub verbose_always: bool,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlaybookStart {
        path: String,
        check_mode: bool,
    },
    PlayStart {
        name: String,
        hosts: Vec<String>,
    },
    TaskStart {
        /// As `TASK [...]` shows it: `role : name` or the action.
        name: String,
        handler: bool,
        /// `file:line` of the task, for -v and JSON consumers.
        path: String,
        hosts: Vec<String>,
    },
    HostResult(HostResult),
    /// `FAILED - RETRYING: [host]: task (N retries left).`
    Retrying {
        host: String,
        task: String,
        retries_left: u32,
        result: Value,
    },
    /// `included: file for host1, host2`
    Included {
        file: String,
        hosts: Vec<String>,
    },
    /// `skipping: no hosts matched`
    NoHostsMatched,
    /// `NO MORE HOSTS LEFT`
    NoMoreHosts,
    Warning {
        message: String,
    },
    /// SIGINT or SIGTERM stopped the run: no task started after it, the running ones were stopped.
    Interrupted {
        signal: String,
    },
    Recap {
        /// In host name order, as Ansible sorts the recap.
        stats: Vec<(String, HostStats)>,
        #[serde(serialize_with = "seconds")]
        duration: Duration,
        /// Per-task wall time in run order (for `-v`'s timing summary).
        task_times: Vec<(String, f64)>,
    },
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// Something that shows events: the human format, JSON lines, a test's collector.
pub trait Reporter: Send {
    fn report(&mut self, event: &Event);
}
