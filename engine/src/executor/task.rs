//! One task on one host: conditions, loops, templated arguments, the module, retries, changed_when and
//! failed_when, and the result to register and report.

use super::evaluator::TaskEvaluator;
use super::loops;
use crate::output::{Event, HostResult, Status};
use crate::playbook::{Condition, Task};
use crate::template::{omit_token, Templar};
use crate::vars::VarMap;
use modules::{
    Become, Connection, ConnectionError, FactLevel, MetaAction, ModuleContext, ModuleResult,
};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Finds the connection for a host name (the task's host, or its `delegate_to`).
pub type ConnectionLookup<'a> = &'a (dyn Fn(String) -> futures::future::BoxFuture<'a, Result<Arc<dyn Connection>, ConnectionError>>
         + Sync);

pub struct TaskRun<'a> {
    pub task: &'a Task,
    /// The name `TASK [...]` shows, for retry messages.
    pub task_name: &'a str,
    pub host: &'a str,
    pub vars: VarMap,
    pub templar: &'a Templar,
    pub connection_for: ConnectionLookup<'a>,
    pub check_mode: bool,
    pub diff_mode: bool,
    pub verbosity: u8,
    /// The task's escalation, or why it cannot have the one asked for.
    pub become_: Result<Option<Become>, String>,
    /// The `timeout` keyword: the module is stopped and the task fails after this long.
    pub timeout: Option<Duration>,
    pub search_path: &'a [PathBuf],
    pub no_log: bool,
    pub ignore_errors: bool,
    pub ignore_unreachable: bool,
    pub delegate_facts: bool,
    /// SIGINT/SIGTERM: no loop item or retry starts after it, and the running module is stopped.
    pub interrupt: &'a super::Interrupt,
    /// `module_defaults` of the play, blocks and task, outermost first.
    pub module_defaults: Vec<Value>,
}

/// What happened, for the play runner to record and report.
#[derive(Debug)]
pub struct TaskOutcome {
    pub events: Vec<Event>,
    pub status: Status,
    pub ignored: bool,
    /// The registered value (the full result, or the loop summary with `results`).
    pub result: Value,
    pub facts: Vec<(FactLevel, VarMap)>,
    /// `delegate_facts`: the facts belong to this (delegated) host, not to the task's own.
    pub facts_host: Option<String>,
    pub meta: Option<MetaAction>,
}

impl TaskOutcome {
    pub fn changed(&self) -> bool {
        self.status == Status::Changed
    }
}

/// One attempt's result, as Ansible's result dictionary plus what only the engine needs.
struct Attempt {
    result: Map<String, Value>,
    status: Status,
    diff: Vec<modules::FileDiff>,
    facts: Option<(FactLevel, VarMap)>,
    meta: Option<MetaAction>,
    verbose_always: bool,
}

impl TaskRun<'_> {
    pub async fn run(mut self) -> TaskOutcome {
        let started = Instant::now();
        let Some(task_loop) = self.task.loop_.clone() else {
            return self.run_single(started).await;
        };
        let loop_value = match self.templar.template_value(&task_loop.value, &self.vars) {
            Ok(value) => value,
            Err(error) => {
                return self.error_outcome(format!("Error while resolving loop: {error}"), started)
            }
        };
        let items = match loops::items(&task_loop.keyword, loop_value) {
            Ok(items) => items,
            Err(message) => return self.error_outcome(message, started),
        };
        self.run_loop(items, started).await
    }

    async fn run_single(&mut self, started: Instant) -> TaskOutcome {
        let mut events = Vec::new();
        if let Some(skipped) = self.check_when(&self.vars.clone()) {
            let result = skipped;
            return self.finish_single(
                result,
                Status::Skipped,
                Vec::new(),
                None,
                None,
                false,
                started,
                events,
            );
        }
        let vars = self.vars.clone();
        let attempt = self.attempt_with_retries(&vars, &mut events).await;
        let Attempt {
            result,
            status,
            diff,
            facts,
            meta,
            verbose_always,
        } = attempt;
        self.finish_single(
            result,
            status,
            diff,
            facts,
            meta,
            verbose_always,
            started,
            events,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_single(
        &self,
        result: Map<String, Value>,
        status: Status,
        diff: Vec<modules::FileDiff>,
        facts: Option<(FactLevel, VarMap)>,
        meta: Option<MetaAction>,
        verbose_always: bool,
        started: Instant,
        mut events: Vec<Event>,
    ) -> TaskOutcome {
        let ignored = self.is_ignored(status);
        let shown = self.shown(&result);
        events.push(Event::HostResult(HostResult {
            host: self.host.to_string(),
            delegated_to: self.delegate_label(&self.vars),
            status,
            ignored,
            item_label: None,
            loop_summary: false,
            result: shown,
            diff: if self.no_log { Vec::new() } else { diff },
            verbose_always: verbose_always && !self.no_log,
            duration: started.elapsed(),
        }));
        TaskOutcome {
            events,
            status,
            ignored,
            result: Value::Object(result),
            facts: facts.into_iter().collect(),
            facts_host: self.facts_host(),
            meta,
        }
    }

    async fn run_loop(&mut self, items: Vec<Value>, started: Instant) -> TaskOutcome {
        let control = self.task.loop_control.clone();
        let loop_var = control
            .as_ref()
            .map_or("item", |c| c.loop_var.as_str())
            .to_string();
        let mut events = Vec::new();
        let mut results = Vec::new();
        let mut facts = Vec::new();
        let (mut any_changed, mut any_failed, mut all_skipped) = (false, false, true);
        let mut any_unreachable = false;
        let count = items.len();
        let flag = |value: &Option<Value>| match value {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => crate::playbook::parse_bool_str(s),
            _ => None,
        };
        let extended = control
            .as_ref()
            .and_then(|c| flag(&c.extended))
            .unwrap_or(false);
        let all_items = control
            .as_ref()
            .and_then(|c| flag(&c.extended_allitems))
            .unwrap_or(true);
        let pause = control
            .as_ref()
            .and_then(|c| c.pause.as_ref())
            .and_then(|p| self.templar.template_value(p, &self.vars).ok())
            .and_then(|p| p.as_f64().or_else(|| p.as_str()?.trim().parse().ok()))
            .filter(|secs| *secs > 0.0);
        let every_item = (extended && all_items).then(|| items.clone());
        for (index, item) in items.iter().cloned().enumerate() {
            if self.interrupt.is_raised() {
                break;
            }
            // Ansible pauses between items, not before the first.
            if let (Some(secs), true) = (pause, index > 0) {
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            let item_started = Instant::now();
            let mut vars = self.vars.clone();
            vars.insert(loop_var.clone(), item.clone());
            vars.insert("ansible_loop_var".into(), json!(loop_var));
            if let Some(index_var) = control.as_ref().and_then(|c| c.index_var.clone()) {
                vars.insert(index_var.clone(), json!(index));
                vars.insert("ansible_index_var".into(), json!(index_var));
            }
            if extended {
                let mut ansible_loop = json!({
                    "index": index + 1, "index0": index, "revindex": count - index, "revindex0": count - index - 1,
                    "first": index == 0, "last": index + 1 == count, "length": count,
                });
                if let Some(map) = ansible_loop.as_object_mut() {
                    if index > 0 {
                        map.insert("previtem".into(), items[index - 1].clone());
                    }
                    if let Some(next) = items.get(index + 1) {
                        map.insert("nextitem".into(), next.clone());
                    }
                    if let Some(every) = &every_item {
                        map.insert("allitems".into(), Value::Array(every.clone()));
                    }
                }
                vars.insert("ansible_loop".into(), ansible_loop);
            }
            let label = match control.as_ref().and_then(|c| c.label.clone()) {
                Some(label) => self
                    .templar
                    .template_value(&Value::String(label), &vars)
                    .unwrap_or_else(|_| item.clone()),
                None => item.clone(),
            };
            let (mut result, status, diff, verbose_always) = match self.check_when(&vars) {
                Some(skipped) => (skipped, Status::Skipped, Vec::new(), false),
                None => {
                    let attempt = self.attempt_with_retries(&vars, &mut events).await;
                    if let Some(f) = attempt.facts {
                        facts.push(f);
                    }
                    (
                        attempt.result,
                        attempt.status,
                        attempt.diff,
                        attempt.verbose_always,
                    )
                }
            };
            result.insert(loop_var.clone(), item.clone());
            result.insert("ansible_loop_var".into(), json!(loop_var));
            if let Some(index_var) = control.as_ref().and_then(|c| c.index_var.clone()) {
                result.insert(index_var.clone(), json!(index));
                result.insert("ansible_index_var".into(), json!(index_var));
            }
            if let Some(ansible_loop) = vars.get("ansible_loop").filter(|_| extended) {
                result.insert("ansible_loop".into(), ansible_loop.clone());
            }
            any_changed |= status == Status::Changed;
            any_failed |= status == Status::Failed;
            any_unreachable |= status == Status::Unreachable;
            all_skipped &= status == Status::Skipped;
            let shown = self.shown(&result);
            events.push(Event::HostResult(HostResult {
                host: self.host.to_string(),
                delegated_to: self.delegate_label(&vars),
                status,
                ignored: false,
                // Ansible's wording; the label is often the very secret no_log protects.
                item_label: Some(if self.no_log {
                    "(censored due to no_log)".to_string()
                } else {
                    display_label(&label)
                }),
                loop_summary: false,
                result: shown,
                diff: if self.no_log { Vec::new() } else { diff },
                verbose_always: verbose_always && !self.no_log,
                duration: item_started.elapsed(),
            }));
            results.push(Value::Object(result));
        }
        // As in Ansible, a failed item outweighs an unreachable one (its strategy asks "failed?" first);
        // otherwise one unreachable item makes the whole task, and so the host, unreachable.
        let status = if any_failed {
            Status::Failed
        } else if any_unreachable {
            Status::Unreachable
        } else if count > 0 && all_skipped {
            Status::Skipped
        } else if any_changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let mut summary = Map::new();
        summary.insert("changed".into(), json!(any_changed));
        summary.insert(
            "msg".into(),
            json!(if any_failed {
                "One or more items failed"
            } else {
                "All items completed"
            }),
        );
        if count == 0 {
            summary.insert("skipped".into(), json!(true));
            summary.insert("skipped_reason".into(), json!("No items in the list"));
        } else if all_skipped {
            summary.insert("skipped".into(), json!(true));
        }
        if any_failed {
            summary.insert("failed".into(), json!(true));
        }
        if any_unreachable {
            summary.insert("unreachable".into(), json!(true));
        }
        summary.insert("results".into(), Value::Array(results));
        let status = if count == 0 { Status::Skipped } else { status };
        let ignored = self.is_ignored(status);
        events.push(Event::HostResult(HostResult {
            host: self.host.to_string(),
            // Ansible labels a loop's summary with the task's delegate_to as written: the item that
            // decided each delegate is gone by then.
            delegated_to: self
                .task
                .delegate_to
                .clone()
                .filter(|target| target != self.host),
            status,
            ignored,
            item_label: None,
            loop_summary: true,
            result: self.shown(&summary),
            diff: Vec::new(),
            verbose_always: false,
            duration: started.elapsed(),
        }));
        TaskOutcome {
            events,
            status,
            ignored,
            result: Value::Object(summary),
            facts,
            facts_host: self.facts_host(),
            meta: None,
        }
    }

    /// The task's arguments over its `module_defaults`: for each default naming this module (by any of
    /// its names), inner levels win over outer ones, and the task's own arguments over all of them.
    fn arguments(&self) -> Map<String, Value> {
        let module = self.task.action.module;
        let mut args = Map::new();
        for level in &self.module_defaults {
            let maps = match level {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for map in maps.into_iter().filter_map(Value::as_object) {
                for (name, defaults) in map {
                    let applies = modules::find(name).is_some_and(|spec| spec.name == module);
                    if let (true, Some(defaults)) = (applies, defaults.as_object()) {
                        args.extend(defaults.clone());
                    }
                }
            }
        }
        args.extend(self.task.action.args.clone());
        args
    }

    /// An argument that could not be templated, named with its expression, as Ansible's "Error while
    /// resolving value for 'msg'" does (the task's file and line go with the reported failure).
    fn argument_error(&self, vars: &VarMap, error: &str) -> String {
        let failing = self
            .arguments()
            .into_iter()
            .find(|(_, value)| self.templar.template_value(value, vars).is_err());
        match failing {
            Some((name, Value::String(expression))) => {
                format!("Error while resolving value for '{name}' ({expression}): {error}")
            }
            Some((name, _)) => format!("Error while resolving value for '{name}': {error}"),
            None => error.to_string(),
        }
    }

    /// Where `delegate_facts` sends the task's facts: the delegate, when there is one.
    fn facts_host(&self) -> Option<String> {
        if !self.delegate_facts || self.task.delegate_to.is_none() {
            return None;
        }
        self.delegate_host(&self.vars).ok()
    }

    /// ignore_errors forgives a failure, ignore_unreachable an unreachable host; neither forgives the other.
    fn is_ignored(&self, status: Status) -> bool {
        match status {
            Status::Failed => self.ignore_errors,
            Status::Unreachable => self.ignore_unreachable,
            _ => false,
        }
    }

    /// `None` when the task runs; otherwise the skipped (or failed, on a bad condition) result.
    fn check_when(&self, vars: &VarMap) -> Option<Map<String, Value>> {
        match self.all_true(&self.task.when, vars) {
            Ok(None) => None,
            Ok(Some(false_condition)) => {
                let mut result = Map::new();
                result.insert("changed".into(), json!(false));
                result.insert("false_condition".into(), json!(false_condition));
                result.insert("skip_reason".into(), json!("Conditional result was False"));
                result.insert("skipped".into(), json!(true));
                Some(result)
            }
            Err(message) => {
                let mut result = Map::new();
                result.insert("failed".into(), json!(true));
                result.insert("msg".into(), json!(message));
                Some(result)
            }
        }
    }

    /// The first condition that is false, or an error naming the condition that could not be evaluated.
    fn all_true(&self, conditions: &[Condition], vars: &VarMap) -> Result<Option<String>, String> {
        for condition in conditions {
            match self.templar.eval_condition(&condition.expr, vars) {
                Ok(true) => {}
                Ok(false) => return Ok(Some(condition.expr.clone())),
                Err(error) => {
                    return Err(format!(
                        "The conditional check '{}' failed. The error was: {error}",
                        condition.expr
                    ))
                }
            }
        }
        Ok(None)
    }

    /// Runs the module, again while `until` is not met (Ansible makes `retries` + 1 attempts).
    async fn attempt_with_retries(&self, vars: &VarMap, events: &mut Vec<Event>) -> Attempt {
        if self.task.until.is_empty() {
            return self.attempt(vars).await;
        }
        let retries = self
            .int_keyword(self.task.retries.as_ref(), vars)
            .unwrap_or(3)
            .max(0) as u32;
        let delay = self
            .int_keyword(self.task.delay.as_ref(), vars)
            .unwrap_or(5)
            .max(0) as u64;
        let attempts = retries + 1;
        let mut attempt_number = 1;
        loop {
            let mut attempt = self.attempt(vars).await;
            attempt
                .result
                .insert("attempts".into(), json!(attempt_number));
            let mut until_vars = vars.clone();
            if let Some(name) = &self.task.register {
                until_vars.insert(name.clone(), Value::Object(attempt.result.clone()));
            }
            let done = attempt.status != Status::Unreachable
                && matches!(self.all_true(&self.task.until, &until_vars), Ok(None));
            if done || attempt_number >= attempts || attempt.status == Status::Unreachable {
                if !done && attempt.status != Status::Unreachable {
                    attempt.result.insert("failed".into(), json!(true));
                    attempt.status = Status::Failed;
                }
                return attempt;
            }
            events.push(Event::Retrying {
                host: self.host.to_string(),
                task: self.task_name.to_string(),
                retries_left: attempts - attempt_number,
                result: self.shown(&attempt.result),
            });
            attempt_number += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(delay)) => {}
                _ = self.interrupt.raised() => return attempt,
            }
        }
    }

    fn int_keyword(&self, value: Option<&Value>, vars: &VarMap) -> Option<i64> {
        let value = self.templar.template_value(value?, vars).ok()?;
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    }

    /// One run of the module with templated arguments, then changed_when/failed_when.
    async fn attempt(&self, vars: &VarMap) -> Attempt {
        let become_ = match &self.become_ {
            Ok(become_) => become_.clone(),
            Err(message) => return failed_attempt(message.clone()),
        };
        let args = match self
            .templar
            .template_value(&Value::Object(self.arguments()), vars)
        {
            Ok(Value::Object(args)) => remove_omitted(args),
            Ok(_) => Map::new(),
            Err(error) => return failed_attempt(self.argument_error(vars, &error.to_string())),
        };
        let connection = match self.delegate_host(vars) {
            Ok(host) if modules::runs_on_controller(self.task.action.module) => {
                Ok(Arc::new(modules::NoHost::new(host)) as Arc<dyn Connection>)
            }
            Ok(host) => (self.connection_for)(host).await,
            Err(message) => return failed_attempt(message),
        };
        let connection = match connection {
            Ok(connection) => connection,
            Err(error) => return connection_failure(&error),
        };
        // Ansible tells a delegated task by `ansible_delegated_vars` (synchronize relies on it: delegated
        // to the task's own host, both of its paths are on that host).
        let delegated_vars;
        let vars = match &self.task.delegate_to {
            Some(_) => {
                let delegate = self.delegate_host(vars).unwrap_or_default();
                let mut with_delegate = vars.clone();
                with_delegate.insert(
                    "ansible_delegated_vars".into(),
                    json!({ delegate.clone(): {"inventory_hostname": delegate} }),
                );
                delegated_vars = with_delegate;
                &delegated_vars
            }
            None => vars,
        };
        let evaluator = TaskEvaluator {
            templar: self.templar,
            vars,
        };
        let environment = match &self.task.keywords.environment {
            Some(env) => match self.templar.template_value(env, vars) {
                Ok(Value::Object(map)) => {
                    map.into_iter().map(|(k, v)| (k, value_text(&v))).collect()
                }
                Ok(_) => Vec::new(),
                Err(error) => return failed_attempt(error.to_string()),
            },
            None => Vec::new(),
        };
        let context = ModuleContext {
            host: connection.as_ref(),
            become_,
            check_mode: self.check_mode,
            diff_mode: self.diff_mode,
            verbosity: self.verbosity,
            environment,
            evaluator: &evaluator,
            search_path: self.search_path,
        };
        // Arguments are not logged: they may hold secrets even without no_log.
        tracing::debug!(
            host = self.host,
            task = self.task_name,
            module = self.task.action.module,
            check_mode = self.check_mode,
            "running module"
        );
        let execution = async {
            tokio::select! {
                outcome = modules::execute(self.task.action.module, &args, &context) => outcome,
                // Dropping the module's future stops its commands on the host (see ssh/exec.rs).
                _ = self.interrupt.raised() => ModuleResult::failed(format!(
                    "interrupted by {}: the task was stopped",
                    self.interrupt.signal().unwrap_or("a signal")
                )),
            }
        };
        let mut outcome = match self.timeout {
            None => execution.await,
            Some(limit) => match tokio::time::timeout(limit, execution).await {
                Ok(outcome) => outcome,
                // Dropping the module's future ends its commands on the host (see ssh/exec.rs).
                Err(_) => {
                    let mut timed_out = ModuleResult::failed(format!(
                        "Task failed: Timed out after {} second(s).",
                        limit.as_secs()
                    ));
                    timed_out
                        .values
                        .insert("timedout".into(), json!({"period": limit.as_secs()}));
                    timed_out
                }
            },
        };
        if outcome.failed && !outcome.unreachable {
            // The module failed in its own words; if the connection died under it, the host is
            // unreachable, as Ansible reports a connection lost mid-task.
            if let Some(reason) = connection.lost() {
                outcome =
                    ModuleResult::from_connection_error(&ConnectionError::Unreachable(reason));
            }
        }
        tracing::debug!(
            host = self.host,
            task = self.task_name,
            changed = outcome.changed,
            failed = outcome.failed,
            "module done"
        );
        self.judge(outcome, vars)
    }

    /// Turns a module result into Ansible's result dictionary, applying changed_when and failed_when.
    fn judge(&self, outcome: ModuleResult, vars: &VarMap) -> Attempt {
        let mut result = outcome.values.clone();
        if let Some(msg) = &outcome.msg {
            result.insert("msg".into(), json!(msg));
        }
        result.insert("changed".into(), json!(outcome.changed));
        if outcome.failed {
            result.insert("failed".into(), json!(true));
        }
        if outcome.skipped {
            result.insert("skipped".into(), json!(true));
        }
        if !outcome.facts.is_empty() && outcome.fact_level == FactLevel::SetFact {
            result.insert("ansible_facts".into(), Value::Object(outcome.facts.clone()));
        }
        if !outcome.warnings.is_empty() {
            result.insert("warnings".into(), json!(outcome.warnings));
        }
        let mut changed = outcome.changed;
        let mut failed = outcome.failed;
        if !self.task.changed_when.is_empty() || !self.task.failed_when.is_empty() {
            let mut judge_vars = vars.clone();
            if let Some(name) = &self.task.register {
                judge_vars.insert(name.clone(), Value::Object(result.clone()));
            }
            if !self.task.changed_when.is_empty() {
                match self.all_true(&self.task.changed_when, &judge_vars) {
                    Ok(first_false) => changed = first_false.is_none(),
                    Err(message) => {
                        failed = true;
                        result.insert("msg".into(), json!(message));
                    }
                }
                result.insert("changed".into(), json!(changed));
            }
            if !self.task.failed_when.is_empty() {
                match self.any_true(&self.task.failed_when, &judge_vars) {
                    Ok(value) => failed = value,
                    Err(message) => {
                        failed = true;
                        result.insert("msg".into(), json!(message));
                    }
                }
                result.insert("failed_when_result".into(), json!(failed));
                if failed {
                    result.insert("failed".into(), json!(true));
                } else {
                    result.remove("failed");
                }
            }
        }
        if outcome.unreachable {
            result.remove("failed");
            result.insert("unreachable".into(), json!(true));
        }
        let status = if outcome.unreachable {
            Status::Unreachable
        } else if failed {
            Status::Failed
        } else if outcome.skipped {
            Status::Skipped
        } else if changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let facts =
            (!outcome.facts.is_empty()).then(|| (outcome.fact_level, outcome.facts.clone()));
        Attempt {
            result,
            status,
            // Modules may report diffs always; they are shown only in diff mode.
            diff: if self.diff_mode {
                outcome.diff
            } else {
                Vec::new()
            },
            facts,
            meta: outcome.meta,
            verbose_always: outcome.verbose_always,
        }
    }

    /// failed_when with several conditions fails when all of them hold (they are ANDed, like when).
    fn any_true(&self, conditions: &[Condition], vars: &VarMap) -> Result<bool, String> {
        self.all_true(conditions, vars)
            .map(|first_false| first_false.is_none())
    }

    fn delegate_host(&self, vars: &VarMap) -> Result<String, String> {
        match &self.task.delegate_to {
            None => Ok(self.host.to_string()),
            Some(target) => match self
                .templar
                .template_value(&Value::String(target.clone()), vars)
            {
                Ok(value) => Ok(value_text(&value)),
                Err(error) => Err(format!("could not template delegate_to: {error}")),
            },
        }
    }

    fn delegate_label(&self, vars: &VarMap) -> Option<String> {
        let target = self.task.delegate_to.as_ref()?;
        let rendered = self
            .templar
            .template_value(&Value::String(target.clone()), vars)
            .ok()?;
        let rendered = value_text(&rendered);
        (rendered != self.host).then_some(rendered)
    }

    /// The result as reported. Like Ansible's `TaskResult.clean_copy`: `failed` and `skipped` are dropped
    /// (the status says so), `no_log` censors everything but `changed`/`attempts`, and debug shows only
    /// what it was asked to show.
    fn shown(&self, result: &Map<String, Value>) -> Value {
        if self.no_log {
            let mut censored = Map::new();
            censored.insert(
                "censored".into(),
                json!("the output has been hidden due to the fact that 'no_log: true' was specified for this result"),
            );
            for kept in ["attempts", "changed", "retries"] {
                if let Some(value) = result.get(kept) {
                    censored.insert(kept.into(), value.clone());
                }
            }
            return Value::Object(censored);
        }
        let mut shown = result.clone();
        shown.remove("failed");
        shown.remove("skipped");
        // Ansible's callbacks clean debug's ok and failed results, not unreachable ones.
        let unreachable = shown.get("unreachable") == Some(&json!(true));
        if self.task.action.module == "debug" && !unreachable {
            if shown.contains_key("msg") {
                shown.retain(|key, _| {
                    matches!(
                        key.as_str(),
                        "msg" | "exception" | "warnings" | "deprecations"
                    )
                });
            } else {
                for hidden in ["changed", "invocation", "skip_reason"] {
                    shown.remove(hidden);
                }
            }
        }
        Value::Object(shown)
    }

    fn error_outcome(&self, message: String, started: Instant) -> TaskOutcome {
        let mut result = Map::new();
        result.insert("failed".into(), json!(true));
        result.insert("msg".into(), json!(message));
        self.finish_single(
            result,
            Status::Failed,
            Vec::new(),
            None,
            None,
            false,
            started,
            Vec::new(),
        )
    }
}

fn failed_attempt(message: String) -> Attempt {
    let mut result = Map::new();
    result.insert("changed".into(), json!(false));
    result.insert("failed".into(), json!(true));
    result.insert("msg".into(), json!(message));
    Attempt {
        result,
        status: Status::Failed,
        diff: Vec::new(),
        facts: None,
        meta: None,
        verbose_always: false,
    }
}

fn connection_failure(error: &ConnectionError) -> Attempt {
    let mut attempt = failed_attempt(error.to_string());
    if error.is_unreachable() {
        attempt.result.remove("failed");
        attempt.result.insert("unreachable".into(), json!(true));
        attempt.status = Status::Unreachable;
    }
    attempt
}

/// Drops arguments that evaluated to `omit`, at any depth of mappings (Ansible's `remove_omit`).
fn remove_omitted(args: Map<String, Value>) -> Map<String, Value> {
    args.into_iter()
        .filter(|(_, v)| v.as_str() != Some(omit_token()))
        .map(|(k, v)| match v {
            Value::Object(inner) => (k, Value::Object(remove_omitted(inner))),
            Value::Array(items) => (
                k,
                Value::Array(
                    items
                        .into_iter()
                        .filter(|i| i.as_str() != Some(omit_token()))
                        .collect(),
                ),
            ),
            other => (k, other),
        })
        .collect()
}

/// A value as plain text (strings without quotes).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How `(item=...)` shows an item: strings bare, other values as Python would print them.
fn display_label(label: &Value) -> String {
    match label {
        Value::String(s) => s.clone(),
        other => crate::yaml::scalar_text(other),
    }
}
