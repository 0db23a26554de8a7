//! A spinner for the task still running ("TASK name — 3/20 hosts done") under another reporter's output.
//! Only on a terminal: piped or logged output stays exactly the wrapped reporter's.

use super::event::{Event, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::Duration;

pub struct ProgressReporter<R: Reporter> {
    inner: R,
    enabled: bool,
    task: Option<RunningTask>,
}

struct RunningTask {
    bar: ProgressBar,
    name: String,
    total: usize,
    done: HashSet<String>,
}

impl<R: Reporter> ProgressReporter<R> {
    /// Shows the spinner when stdout is a terminal.
    pub fn new(inner: R) -> Self {
        Self::with_enabled(inner, std::io::stdout().is_terminal())
    }

    pub fn with_enabled(inner: R, enabled: bool) -> Self {
        ProgressReporter {
            inner,
            enabled,
            task: None,
        }
    }

    pub fn into_inner(mut self) -> R {
        self.finish_task();
        self.inner
    }

    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The line the spinner shows for the running task.
    pub fn status_line(&self) -> Option<String> {
        self.task.as_ref().map(RunningTask::message)
    }

    fn finish_task(&mut self) {
        self.task = None;
    }

    fn start_task(&mut self, name: &str, hosts: usize) {
        let bar = if self.enabled {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        let task = RunningTask {
            bar,
            name: name.trim().to_string(),
            total: hosts,
            done: HashSet::new(),
        };
        task.bar.set_message(task.message());
        self.task = Some(task);
    }
}

impl RunningTask {
    fn message(&self) -> String {
        format!(
            "TASK {} — {}/{} hosts done",
            self.name,
            self.done.len(),
            self.total
        )
    }
}

impl<R: Reporter> Reporter for ProgressReporter<R> {
    fn report(&mut self, event: &Event) {
        match event {
            Event::TaskStart { .. }
            | Event::PlayStart { .. }
            | Event::NoMoreHosts
            | Event::Recap { .. } => self.finish_task(),
            _ => {}
        }
        // The spinner line is cleared while the wrapped reporter prints, then drawn again below it.
        match &self.task {
            Some(task) => task.bar.suspend(|| self.inner.report(event)),
            None => self.inner.report(event),
        }
        match event {
            Event::TaskStart { name, hosts, .. } => self.start_task(name, hosts.len()),
            // Loop items are not a host finishing; the loop's summary (no item label) is.
            Event::HostResult(r) if r.item_label.is_none() => {
                if let Some(task) = &mut self.task {
                    task.done.insert(r.host.clone());
                    task.bar.set_message(task.message());
                }
            }
            _ => {}
        }
    }
}

/// A dropped bar that was never finished would stay on screen; the run's output must not end with it.
impl Drop for RunningTask {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
