//! ansible-playbook's default stdout callback, reproduced line for line: banners, result lines, diffs,
//! warnings, the PLAY RECAP and (at `-v`) a profile_tasks-style timing summary.

use super::color::{self, stringc};
use super::diff::{self, DIFF_CONTEXT};
use super::event::{Event, FileDiff, HostResult, HostStats, Reporter, Status};
use crate::pyjson::JsonOptions;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// Ansible's `Display.columns` when stdout is not a terminal: banners are then 80 characters wide.
const DEFAULT_COLUMNS: usize = 79;
/// profile_tasks shows the 20 slowest tasks by default.
const TIMING_LIMIT: usize = 20;

/// The human format. Results, banners and the recap go to `out`; warnings go to stderr as Ansible sends them.
pub struct HumanReporter<W: Write + Send> {
    out: W,
    err: Box<dyn Write + Send>,
    color: bool,
    verbosity: u8,
    columns: usize,
    /// Ansible shows each distinct warning text once per run.
    warned: HashSet<String>,
    /// `file:line:column` of the task whose results are being shown, for the errors' `Origin:`.
    task_path: String,
}

impl HumanReporter<io::Stdout> {
    /// For the terminal: colour per [`super::color_enabled`], banner width from the terminal size.
    pub fn stdout(verbosity: u8) -> Self {
        let reporter = HumanReporter::new(io::stdout(), super::color_enabled(), verbosity);
        match super::terminal_width() {
            Some(width) => reporter.with_terminal_width(width),
            None => reporter,
        }
    }
}

impl<W: Write + Send> HumanReporter<W> {
    /// Banners 80 columns wide (Ansible's width when stdout is not a terminal), warnings to stderr.
    pub fn new(out: W, color: bool, verbosity: u8) -> Self {
        HumanReporter {
            out,
            err: Box::new(io::stderr()),
            color,
            verbosity,
            columns: DEFAULT_COLUMNS,
            warned: HashSet::new(),
            task_path: String::new(),
        }
    }

    /// Where warnings go instead of stderr (tests pass the same buffer as `out` to see the interleaving).
    pub fn with_stderr(mut self, err: impl Write + Send + 'static) -> Self {
        self.err = Box::new(err);
        self
    }

    /// The terminal's width in columns; like Ansible, banners never get narrower than 80.
    pub fn with_terminal_width(mut self, width: usize) -> Self {
        self.columns = width.saturating_sub(1).max(DEFAULT_COLUMNS);
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// `Display.display`: colour applies to each line but not to a final newline, and one newline ends it.
    fn display(&mut self, msg: &str, color: Option<&str>) {
        let text = self.render_line(msg, color);
        // A reporter has nowhere to report its own write errors (e.g. a closed pipe); the run goes on.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn display_stderr(&mut self, msg: &str, color: Option<&str>) {
        let text = self.render_line(msg, color);
        let _ = self.out.flush();
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }

    fn render_line(&self, msg: &str, color: Option<&str>) -> String {
        let body = msg.strip_suffix('\n').unwrap_or(msg);
        let mut text = match color {
            Some(code) if self.color => stringc(body, code),
            _ => body.to_string(),
        };
        text.push('\n');
        text
    }

    /// `Display.banner`: an empty line, the message, then stars up to the width (never fewer than 3).
    fn banner(&mut self, msg: &str) {
        let msg = msg.trim();
        let stars = (self.columns as isize - msg.width() as isize).max(3) as usize;
        self.display(&format!("\n{msg} {}", "*".repeat(stars)), None);
    }

    fn warning(&mut self, msg: &str) {
        let wrapped = wrap(&format!("[WARNING]: {msg}"), self.columns).join("\n") + "\n";
        if self.warned.insert(wrapped.clone()) {
            self.display_stderr(&wrapped, Some(color::WARN));
        }
    }

    /// `_run_is_verbose`: `-v`, or a module that always shows its result (debug, assert).
    fn is_verbose(&self, r: &HostResult, above: u8) -> bool {
        let always = r.verbose_always || truthy(r.result.get("_ansible_verbose_always"));
        (self.verbosity > above || always) && !truthy(r.result.get("_ansible_verbose_override"))
    }

    /// `_dump_results`: internal keys, `exception`, and below -vvv `invocation` and `diff` are hidden.
    fn dump(&self, result: &Value, verbose_always: bool) -> String {
        let mut shown = result.clone();
        strip_internal_keys(&mut shown);
        if let Value::Object(map) = &mut shown {
            map.shift_remove("exception");
            if self.verbosity < 3 {
                map.shift_remove("invocation");
                map.shift_remove("diff");
            }
        }
        let always = verbose_always || truthy(result.get("_ansible_verbose_always"));
        let indent = (always || self.verbosity > 2).then_some(4);
        crate::pyjson::dumps(&shown, &JsonOptions::result(indent))
    }

    /// `_handle_warnings`: a result's `warnings` are shown as warnings and left out of its JSON.
    fn handle_warnings(&mut self, result: &mut Value) {
        let Some(map) = result.as_object_mut() else {
            return;
        };
        let has_warnings = map.get("warnings").is_some_and(|w| match w {
            Value::Array(items) => !items.is_empty(),
            other => truthy(Some(other)),
        });
        if !has_warnings {
            return;
        }
        let warnings = match map.shift_remove("warnings") {
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
            None => Vec::new(),
        };
        for warning in warnings {
            match warning {
                Value::String(text) => self.warning(&text),
                other => self.warning(&crate::pyjson::dumps(&other, &JsonOptions::result(None))),
            }
        }
    }

    /// `_handle_exception`: a traceback in the result is summarised (or shown whole at -vvv).
    /// Like ansible-core 2.19, a failure also goes to stderr with where its task is written. The message
    /// is the shown result's, so `no_log` hides it here too (Ansible's own `[ERROR]` line does not).
    fn origin(&mut self, result: &Value) {
        if self.task_path.is_empty() {
            return;
        }
        let message = result
            .get("msg")
            .and_then(Value::as_str)
            .or_else(|| result.get("censored").and_then(Value::as_str))
            .unwrap_or("the task failed");
        let text = format!(
            "[ERROR]: Task failed: {message}\nOrigin: {}",
            self.task_path
        );
        self.display_stderr(&text, Some(color::ERROR));
    }

    fn handle_exception(&mut self, result: &Value) {
        let Some(exception) = result.get("exception") else {
            return;
        };
        let text = match exception {
            Value::String(s) => s.clone(),
            other => crate::pyjson::dumps(other, &JsonOptions::result(None)),
        };
        let msg = if self.verbosity < 3 {
            let error = text.trim().rsplit('\n').next().unwrap_or_default();
            format!(
                "An exception occurred during task execution. To see the full traceback, use -vvv. The error was: {error}"
            )
        } else {
            format!("The full traceback is:\n{text}")
        };
        self.display(&msg, Some(color::ERROR));
    }

    fn diffs(&mut self, diffs: &[FileDiff]) {
        let text: String = diffs
            .iter()
            .map(|d| diff::render(d, DIFF_CONTEXT, self.color))
            .collect();
        if !text.is_empty() {
            self.display(&text, None);
        }
    }

    fn host_result(&mut self, r: &HostResult) {
        let label = host_label(r);
        let mut result = r.result.clone();
        let item = r.item_label.as_deref().filter(|_| !r.loop_summary);
        match r.status {
            Status::Ok | Status::Changed => {
                let (word, color) = if r.status == Status::Changed {
                    ("changed", color::CHANGED)
                } else {
                    ("ok", color::OK)
                };
                // Ansible sends the diff before the result line. A loop's summary carries no diff of its
                // own: each item showed its diff already.
                if r.status == Status::Changed && !r.loop_summary {
                    self.diffs(&r.diff);
                }
                let mut msg = match item {
                    Some(item) => format!("{word}: [{label}] => (item={item})"),
                    None => {
                        self.handle_warnings(&mut result);
                        if r.loop_summary {
                            return;
                        }
                        format!("{word}: [{label}]")
                    }
                };
                if self.is_verbose(r, 0) {
                    msg.push_str(" => ");
                    msg.push_str(&self.dump(&result, r.verbose_always));
                }
                self.display(&msg, Some(color));
            }
            Status::Skipped => {
                // Ansible names only the host here, never the delegate; the item form ends in a space.
                if r.loop_summary {
                    // The items were shown one by one (`_process_items` drops them from the summary).
                    if let Some(map) = result.as_object_mut() {
                        map.shift_remove("results");
                    }
                }
                let mut msg = match item {
                    Some(item) => format!("skipping: [{}] => (item={item}) ", r.host),
                    None => format!("skipping: [{}]", r.host),
                };
                if self.is_verbose(r, 0) {
                    msg.push_str(" => ");
                    msg.push_str(&self.dump(&result, r.verbose_always));
                }
                self.display(&msg, Some(color::SKIP));
            }
            Status::Failed | Status::Unreachable if item.is_some() => {
                // An unreachable item is reported through the item-failed callback.
                self.origin(&result);
                self.handle_exception(&result);
                self.handle_warnings(&mut result);
                let msg = format!(
                    "failed: [{label}] (item={}) => {}",
                    item.unwrap_or_default(),
                    self.dump(&result, r.verbose_always)
                );
                self.display(&msg, Some(color::ERROR));
            }
            Status::Failed => {
                if !r.loop_summary {
                    self.origin(&result);
                }
                self.handle_exception(&result);
                self.handle_warnings(&mut result);
                // A failed loop is shown by its items; only `...ignoring` follows them.
                if !r.loop_summary {
                    let msg = format!(
                        "fatal: [{label}]: FAILED! => {}",
                        self.dump(&result, r.verbose_always)
                    );
                    self.display(&msg, Some(color::ERROR));
                }
                if r.ignored {
                    self.display("...ignoring", Some(color::SKIP));
                }
            }
            Status::Unreachable => {
                if !r.loop_summary {
                    self.origin(&result);
                }
                let msg = format!(
                    "fatal: [{label}]: UNREACHABLE! => {}",
                    self.dump(&result, r.verbose_always)
                );
                self.display(&msg, Some(color::UNREACHABLE));
                if r.ignored {
                    self.display("...ignoring", Some(color::SKIP));
                }
            }
        }
    }

    fn retrying(&mut self, host: &str, task: &str, retries_left: u32, result: &Value) {
        let mut msg = format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left).");
        let always = truthy(result.get("_ansible_verbose_always"));
        let overridden = truthy(result.get("_ansible_verbose_override"));
        if (self.verbosity > 2 || always) && !overridden {
            msg.push_str("Result was: ");
            msg.push_str(&self.dump(result, false));
        }
        self.display(&msg, Some(color::DEBUG));
    }

    fn recap(&mut self, stats: &[(String, HostStats)], task_times: &[(String, f64)]) {
        self.banner("PLAY RECAP");
        let mut hosts: Vec<&(String, HostStats)> = stats.iter().collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        for (host, s) in hosts {
            let line = format!(
                "{} : {} {} {} {} {} {} {}",
                self.host_color(host, s),
                self.colorize("ok", s.ok, color::OK),
                self.colorize("changed", s.changed, color::CHANGED),
                self.colorize("unreachable", s.unreachable, color::UNREACHABLE),
                self.colorize("failed", s.failed, color::ERROR),
                self.colorize("skipped", s.skipped, color::SKIP),
                self.colorize("rescued", s.rescued, color::OK),
                self.colorize("ignored", s.ignored, color::WARN),
            );
            self.display(&line, None);
        }
        self.display("", None);
        if self.verbosity >= 1 && !task_times.is_empty() {
            self.timings(task_times);
        }
    }

    /// `hostcolor`: padded to 26 columns, or 37 when the 11 bytes of colour codes are counted in.
    fn host_color(&self, host: &str, s: &HostStats) -> String {
        if !self.color {
            return pad_right(host, 26, ' ');
        }
        let code = if s.failed != 0 || s.unreachable != 0 {
            color::ERROR
        } else if s.changed != 0 {
            color::CHANGED
        } else {
            color::OK
        };
        pad_right(&stringc(host, code), 37, ' ')
    }

    /// `colorize`: `name=value` padded to 4 after the `=`, coloured only when non-zero.
    fn colorize(&self, name: &str, value: u32, code: &str) -> String {
        let text = format!("{name}={}", pad_right(&value.to_string(), 4, ' '));
        if value != 0 && self.color {
            stringc(&text, code)
        } else {
            text
        }
    }

    /// profile_tasks' summary: a rule of `=`, then the slowest tasks as `name ---- 1.23s`.
    fn timings(&mut self, task_times: &[(String, f64)]) {
        self.display(&format!("{} ", "=".repeat(79)), None);
        let mut sorted: Vec<&(String, f64)> = task_times.iter().collect();
        sorted.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
        let name_width = self.columns.saturating_sub(9);
        for (name, secs) in sorted.into_iter().take(TIMING_LIMIT) {
            let left = pad_right(&format!("{name} "), name_width, '-');
            let right = pad_left(&format!(" {secs:.2}s"), 9, '-');
            self.display(&format!("{left}{right}"), None);
        }
    }
}

impl<W: Write + Send> Reporter for HumanReporter<W> {
    fn report(&mut self, event: &Event) {
        match event {
            Event::PlaybookStart { path, .. } => {
                if self.verbosity > 1 {
                    let base = path.rsplit('/').next().unwrap_or(path);
                    self.banner(&format!("PLAYBOOK: {base}"));
                }
            }
            Event::PlayStart { name, .. } => {
                let name = name.trim();
                if name.is_empty() {
                    self.banner("PLAY");
                } else {
                    self.banner(&format!("PLAY [{name}]"));
                }
            }
            Event::TaskStart {
                name,
                handler,
                path,
                ..
            } => {
                let prefix = if *handler { "RUNNING HANDLER" } else { "TASK" };
                self.task_path = path.clone();
                self.banner(&format!("{prefix} [{}]", name.trim()));
                if self.verbosity >= 2 && !path.is_empty() {
                    self.display(&format!("task path: {path}"), Some(color::DEBUG));
                }
            }
            Event::HostResult(r) => self.host_result(r),
            Event::Retrying {
                host,
                task,
                retries_left,
                result,
            } => self.retrying(host, task, *retries_left, result),
            Event::Included { file, hosts } => {
                let msg = format!("included: {file} for {}", hosts.join(", "));
                self.display(&msg, Some(color::INCLUDED));
            }
            Event::NoHostsMatched => self.display("skipping: no hosts matched", Some(color::SKIP)),
            Event::NoMoreHosts => self.banner("NO MORE HOSTS LEFT"),
            Event::Warning { message } => self.warning(message),
            Event::Interrupted { signal } => self.display(
                &format!(
                    "\n[ERROR]: User interrupted execution ({signal}): the running tasks were stopped and no later task ran"
                ),
                Some(color::ERROR),
            ),
            Event::Recap {
                stats, task_times, ..
            } => self.recap(stats, task_times),
        }
    }
}

fn host_label(r: &HostResult) -> String {
    match &r.delegated_to {
        Some(delegate) if delegate != &r.host => format!("{} -> {delegate}", r.host),
        _ => r.host.clone(),
    }
}

/// Python truthiness of an optional JSON value.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// `strip_internal_keys`: every `_ansible_*` key, at any depth.
fn strip_internal_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with("_ansible_"));
            map.values_mut().for_each(strip_internal_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_internal_keys),
        _ => {}
    }
}

/// Python's `%-Ns` / `{:<N}`: padding counts code points, not display width or bytes.
fn pad_right(s: &str, width: usize, fill: char) -> String {
    let len = s.chars().count();
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(fill, width.saturating_sub(len)));
    out
}

fn pad_left(s: &str, width: usize, fill: char) -> String {
    let len = s.chars().count();
    let mut out: String = std::iter::repeat_n(fill, width.saturating_sub(len)).collect();
    out.push_str(s);
    out
}

/// Python's `textwrap.wrap(text, width)` with its defaults: whitespace collapsed to single spaces per
/// character, breaks at spaces and after hyphens inside words, over-long words split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let text: String = expand_tabs(text)
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\t' | '\u{b}' | '\u{c}' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut chunks: Vec<String> = split_chunks(&text);
    chunks.reverse();
    let width = width.max(1);
    let mut lines = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if chunks.last().is_some_and(|c| c.trim().is_empty()) && !lines.is_empty() {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            let l = chunk.chars().count();
            if len + l <= width {
                len += l;
                line.push(chunks.pop().unwrap_or_default());
            } else {
                break;
            }
        }
        if chunks.last().is_some_and(|c| c.chars().count() > width) {
            let chunk = chunks.pop().unwrap_or_default();
            // With no room left Python appends an empty piece, and then drops only that piece as
            // "trailing whitespace", so the line keeps its final space.
            let space_left = width.saturating_sub(len);
            let chars: Vec<char> = chunk.chars().collect();
            let mut end = space_left;
            if chars.len() > space_left {
                if let Some(h) = chars[..space_left].iter().rposition(|c| *c == '-') {
                    if h > 0 && chars[..h].iter().any(|c| *c != '-') {
                        end = h + 1;
                    }
                }
            }
            line.push(chars[..end].iter().collect());
            chunks.push(chars[end..].iter().collect());
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

fn expand_tabs(text: &str) -> String {
    let mut out = String::new();
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// Runs of spaces, and words split after a hyphen that has two letters before it and a letter after it
/// (textwrap's `wordsep_re`, without its em-dash cases).
fn split_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        if chars[i] == ' ' {
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
        } else {
            while i < chars.len() && chars[i] != ' ' {
                let hyphen_break = chars[i] == '-'
                    && i >= start + 2
                    && chars[i - 1].is_alphabetic()
                    && chars[i - 2].is_alphabetic()
                    && chars.get(i + 1).is_some_and(|c| c.is_alphabetic());
                i += 1;
                if hyphen_break {
                    break;
                }
            }
        }
        chunks.push(chars[start..i].iter().collect());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_like_textwrap() {
        let text = "[WARNING]: Could not match supplied host pattern, ignoring: webservers-that-do-not-exist-anywhere";
        assert_eq!(
            wrap(text, 79),
            vec![
                "[WARNING]: Could not match supplied host pattern, ignoring: webservers-that-do-",
                "not-exist-anywhere"
            ]
        );
        assert_eq!(wrap("a  b\nc", 79), vec!["a  b c"]);
        assert_eq!(
            wrap(&"x".repeat(100), 79),
            vec!["x".repeat(79), "x".repeat(21)]
        );
    }

    #[test]
    fn internal_keys_are_stripped_at_any_depth() {
        let mut v = serde_json::json!({"_ansible_no_log": false, "results": [{"_ansible_item_label": "a", "item": "a"}]});
        strip_internal_keys(&mut v);
        assert_eq!(v, serde_json::json!({"results": [{"item": "a"}]}));
    }
}
