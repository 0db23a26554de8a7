//! The linear strategy: plays, serial batches, sections, blocks with rescue/always, includes and handlers.

use super::connections::{ConnectionKeywords, Connections};
use super::host_state::HostState;
use super::task::{value_text, TaskOutcome, TaskRun};
use super::task_vars::{assemble, VarSources};
use super::RunOptions;
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::limits::TASK_MAX_DEPTH;
use crate::output::{Event, HostResult, HostStats, Reporter, Status};
use crate::playbook::{
    each_task, parse_bool_str, tags::should_run, Condition, Play, Playbook, Role, Task, TaskItem,
};
use crate::template::{Templar, TemplarOptions};
use crate::vars::{magic_vars, MagicContext, VarMap};
use modules::{Become, BecomeMethod, Connection, ConnectionError, FactLevel, MetaAction, Secret};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Keywords and variables a task inherits from its play, roles and enclosing blocks.
#[derive(Clone, Default)]
struct Inherited {
    when: Vec<Condition>,
    tags: BTreeSet<String>,
    vars: Vec<VarMap>,
    become_: Option<Value>,
    become_user: Option<String>,
    check_mode: Option<Value>,
    diff: Option<Value>,
    environment: Option<Value>,
    no_log: Option<Value>,
    ignore_errors: Option<Value>,
    ignore_unreachable: Option<Value>,
    delegate_to: Option<String>,
    connection: Option<String>,
    remote_user: Option<String>,
    port: Option<Value>,
    timeout: Option<Value>,
    throttle: Option<Value>,
    become_method: Option<String>,
    become_flags: Option<String>,
    become_exe: Option<String>,
    /// A block's `notify`, for its tasks that name none themselves.
    notify: Vec<String>,
    /// `module_defaults` of every enclosing level, outermost first: inner ones win per argument.
    module_defaults: Vec<Value>,
    run_once: Option<Value>,
    any_errors_fatal: Option<Value>,
    /// A failure here is caught by an enclosing block's `rescue`.
    rescuable: bool,
    include_params: VarMap,
    /// How many blocks and includes enclose these tasks (the loader's count, `Loader::depth`).
    depth: usize,
    /// The include tasks that led here, outermost first, to name the chain when it is too deep.
    includes: Vec<crate::Location>,
}

impl Inherited {
    fn with_keywords(&self, keywords: &crate::playbook::Keywords) -> Inherited {
        let mut next = self.clone();
        next.tags.extend(keywords.tags.iter().cloned());
        if !keywords.vars.is_empty() {
            next.vars.push(keywords.vars.clone());
        }
        macro_rules! inherit {
            ($($field:ident),*) => { $( if keywords.$field.is_some() { next.$field = keywords.$field.clone(); } )* };
        }
        inherit!(
            become_,
            become_user,
            check_mode,
            diff,
            no_log,
            run_once,
            any_errors_fatal,
            ignore_unreachable,
            connection,
            remote_user,
            port,
            timeout,
            throttle,
            become_method,
            become_flags,
            become_exe
        );
        if let Some(defaults) = &keywords.module_defaults {
            next.module_defaults.push(defaults.clone());
        }
        if let Some(env) = &keywords.environment {
            next.environment = Some(merge_environment(next.environment.take(), env));
        }
        next
    }
}

/// The play's `order` (validated at load time): inventory order is the default.
fn order_hosts(hosts: &mut [String], order: Option<&str>) {
    match order {
        Some("reverse_inventory") => hosts.reverse(),
        Some("sorted") => hosts.sort(),
        Some("reverse_sorted") => {
            hosts.sort();
            hosts.reverse();
        }
        Some("shuffle") => fastrand::shuffle(hosts),
        _ => {}
    }
}

fn merge_environment(outer: Option<Value>, inner: &Value) -> Value {
    match (outer, inner) {
        (Some(Value::Object(mut outer)), Value::Object(inner)) => {
            outer.extend(inner.clone());
            Value::Object(outer)
        }
        _ => inner.clone(),
    }
}

/// Per-play data shared by every task of the play.
struct PlayContext<'a> {
    play: &'a Play,
    playbook: &'a Playbook,
    play_hosts: Vec<String>,
    batch: Vec<String>,
    inventory_vars: HashMap<String, VarMap>,
    vars_files: HashMap<String, VarMap>,
    magic: HashMap<String, VarMap>,
    role_defaults: VarMap,
    role_vars: VarMap,
    /// Handlers of the play plus those of roles included at run time.
    extra_handlers: Vec<TaskItem>,
    abort: bool,
    /// The play broke (any_errors_fatal, max_fail_percentage): unlike end_play, it stops the playbook.
    broken: bool,
    /// any_errors_fatal stopped the play for an unreachable host: every host is lost, yet (as in
    /// ansible-playbook, which counts that host both failed and unreachable) the playbook goes on.
    fatal_unreachable: bool,
}

/// A whole run: hosts' state across plays, connections, and the reporter.
pub struct Run<'a> {
    inventory: &'a Inventory,
    options: &'a RunOptions,
    reporter: Mutex<Box<dyn Reporter + 'a>>,
    connections: Connections,
    hosts: Mutex<HashMap<String, HostState>>,
    templars: Mutex<HashMap<Vec<PathBuf>, Arc<Templar>>>,
    task_times: Mutex<Vec<(String, f64)>>,
    started: Instant,
    interrupt: Arc<super::Interrupt>,
    /// `--start-at-task`: tasks are skipped until one with this name is reached.
    waiting_for_start: AtomicBool,
}

impl<'a> Run<'a> {
    pub fn new(
        inventory: &'a Inventory,
        options: &'a RunOptions,
        reporter: Box<dyn Reporter + 'a>,
        interrupt: Arc<super::Interrupt>,
    ) -> Self {
        Run {
            inventory,
            options,
            reporter: Mutex::new(reporter),
            connections: Connections::new(options.connection.clone()),
            hosts: Mutex::new(HashMap::new()),
            templars: Mutex::new(HashMap::new()),
            task_times: Mutex::new(Vec::new()),
            started: Instant::now(),
            interrupt,
            waiting_for_start: AtomicBool::new(options.start_at_task.is_some()),
        }
    }

    fn report(&self, event: &Event) {
        self.reporter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .report(event);
    }

    fn interrupted(&self) -> bool {
        self.interrupt.is_raised()
    }

    fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostState) -> R) -> R {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        f(hosts.entry(host.to_string()).or_default())
    }

    fn host_active(&self, host: &str) -> bool {
        self.with_host(host, |h| h.active())
    }

    fn templar_for(&self, search_path: Vec<PathBuf>) -> Arc<Templar> {
        let mut templars = self.templars.lock().unwrap_or_else(|p| p.into_inner());
        templars
            .entry(search_path.clone())
            .or_insert_with(|| Arc::new(Templar::new(TemplarOptions { search_path })))
            .clone()
    }

    /// After an interruption, removes what abandoned writes left on the hosts (their temp files).
    pub async fn clean_up_after_interrupt(&self) {
        if self.interrupted() {
            self.connections.discard_unfinished().await;
        }
    }

    /// Runs every play of the playbook.
    pub async fn run_playbook(&self, playbook: &Playbook) -> Result<()> {
        self.report(&Event::PlaybookStart {
            path: playbook.path.display().to_string(),
            check_mode: self.options.check,
        });
        for play in &playbook.plays {
            if self.interrupted() {
                break;
            }
            // Like ansible-playbook: when a play breaks (any_errors_fatal, max_fail_percentage, or a
            // batch in which every host failed), no later play runs.
            if self.run_play(playbook, play).await? == PlayEnd::Broken {
                break;
            }
        }
        Ok(())
    }

    /// The recap: every host with a counted result, sorted by name (like Ansible, a host that only
    /// shared a failed run_once task, or matched a play without tasks, is not listed), and the exit
    /// code Ansible would give.
    pub fn finish(&self) -> (Vec<(String, HostStats)>, u8) {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats: Vec<(String, HostStats)> = hosts
            .iter()
            .filter(|(_, s)| s.stats != HostStats::default())
            .map(|(h, s)| (h.clone(), s.stats.clone()))
            .collect();
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        let task_times = self
            .task_times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        drop(hosts);
        if let Some(signal) = self.interrupt.signal() {
            self.report(&Event::Interrupted {
                signal: signal.to_string(),
            });
        }
        self.report(&Event::Recap {
            stats: stats.clone(),
            duration: self.started.elapsed(),
            task_times,
        });
        let code = if self.interrupted() {
            99
        } else if stats.iter().any(|(_, s)| s.unreachable > 0) {
            4
        } else if stats.iter().any(|(_, s)| s.failed > 0) {
            2
        } else {
            0
        };
        (stats, code)
    }

    /// What connecting said that the user must see: changed host keys accepted, keys learned.
    fn report_notices(&self) {
        for message in self.connections.take_notices() {
            self.report(&Event::Warning { message });
        }
    }

    fn static_templar(&self) -> Arc<Templar> {
        self.templar_for(Vec::new())
    }

    async fn run_play(&self, playbook: &Playbook, play: &Play) -> Result<PlayEnd> {
        let templar = self.static_templar();
        let pattern = if crate::template::is_templated(&play.hosts) {
            let vars = crate::vars::play_pattern_vars(
                self.inventory,
                &play.keywords.vars,
                &self.options.extra_vars,
            );
            templar
                .render_str(&play.hosts, &vars)
                .map_err(|e| e.at(&play.loc))?
        } else {
            play.hosts.clone()
        };
        let matched = self.inventory.hosts_matching_limited(
            &pattern,
            self.options.limit.as_deref(),
            Path::new("."),
        )?;
        for warning in matched.warnings {
            self.report(&Event::Warning { message: warning });
        }
        // Hosts that failed or became unreachable in an earlier play stay out.
        let matched_count = matched.hosts.len();
        let mut hosts: Vec<String> = matched
            .hosts
            .into_iter()
            .filter(|h| self.host_active(h))
            .collect();
        order_hosts(&mut hosts, play.order.as_deref());
        if hosts.is_empty() {
            self.report(&Event::PlayStart {
                name: play.display_name().to_string(),
                hosts: Vec::new(),
            });
            // Hosts that matched but were lost earlier leave a play with nothing to run, which Ansible
            // does not call "no hosts matched".
            if matched_count == 0 {
                self.report(&Event::NoHostsMatched);
            }
            return Ok(PlayEnd::Completed);
        }
        let mut context = PlayContext {
            play,
            playbook,
            play_hosts: hosts.clone(),
            batch: Vec::new(),
            inventory_vars: hosts
                .iter()
                .map(|h| (h.clone(), self.inventory.host_vars(h)))
                .collect(),
            vars_files: HashMap::new(),
            magic: HashMap::new(),
            role_defaults: VarMap::new(),
            role_vars: VarMap::new(),
            extra_handlers: Vec::new(),
            abort: false,
            broken: false,
            fatal_unreachable: false,
        };
        // Like `roles:`, every import_role exposes its defaults and vars to the whole play (Ansible
        // 2.7+ reads them at parse time, so even tasks before the import see them).
        for section in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks] {
            collect_role_vars(section, &mut context.role_defaults, &mut context.role_vars);
        }
        for host in &hosts {
            let files = self.load_vars_files(play, playbook, host, &context)?;
            context.vars_files.insert(host.clone(), files);
        }
        let root = Inherited {
            when: play.import_when.clone(),
            ..Inherited::default()
        }
        .with_keywords(&play.keywords);
        let mut end = PlayEnd::Completed;
        for batch in serial_batches(&hosts, &play.serial) {
            if self.interrupted() || context.abort {
                break;
            }
            context.batch = batch.clone();
            // Ansible announces the play again for every serial batch.
            self.report(&Event::PlayStart {
                name: play.display_name().to_string(),
                hosts: batch.clone(),
            });
            context.magic = batch
                .iter()
                .map(|h| (h.clone(), self.magic_for(h, play, playbook, &context, None)))
                .collect();
            if self.gather_facts(play, &root) {
                self.gather(&batch, &context, &root).await;
            }
            for items in [
                &play.pre_tasks[..],
                &[play.roles.clone(), play.tasks.clone()].concat()[..],
                &play.post_tasks[..],
            ] {
                if self.interrupted() || context.abort {
                    break;
                }
                let active: Vec<String> = batch
                    .iter()
                    .filter(|h| self.host_active(h))
                    .cloned()
                    .collect();
                let failed = self.run_list(items, &active, &root, &mut context).await;
                for host in &failed {
                    self.with_host(host, |h| h.failed = true);
                }
                self.flush_handlers(&batch, &root, &mut context).await;
            }
            if context.broken {
                // Ansible counts every host of the batch as failed: none of them runs a later play.
                for host in &batch {
                    self.with_host(host, |h| h.failed = true);
                }
            }
            let lost = batch
                .iter()
                .filter(|h| self.with_host(h, |state| state.failed || state.unreachable))
                .count();
            if context.broken || (lost == batch.len() && !context.fatal_unreachable) {
                end = PlayEnd::Broken;
                break;
            }
            if self.max_fail_exceeded(play, &batch, &BTreeSet::new()) {
                end = PlayEnd::Broken;
                break;
            }
        }
        // end_play and end_host only last for the play.
        for host in &hosts {
            self.with_host(host, |h| h.ended = false);
        }
        Ok(end)
    }

    fn gather_facts(&self, play: &Play, _root: &Inherited) -> bool {
        match &play.gather_facts {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_bool_str(s).unwrap_or(true),
            _ => true,
        }
    }

    async fn gather(&self, batch: &[String], context: &PlayContext<'_>, root: &Inherited) {
        let hosts: Vec<String> = batch
            .iter()
            .filter(|h| self.host_active(h))
            .cloned()
            .collect();
        if hosts.is_empty() {
            return;
        }
        self.report(&Event::TaskStart {
            name: "Gathering Facts".into(),
            handler: false,
            path: context.play.loc.to_string(),
            hosts: hosts.clone(),
        });
        let started = Instant::now();
        // The whole of ply's gathering is one script, so gather_timeout bounds all of it.
        let static_templar = self.static_templar();
        let gather_timeout = self
            .int(
                context.play.gather_timeout.as_ref(),
                &VarMap::new(),
                &static_templar,
            )
            .filter(|secs| *secs > 0)
            .map(|secs| std::time::Duration::from_secs(secs as u64));
        let runs = hosts.iter().map(|host| async move {
            let vars = context
                .inventory_vars
                .get(host)
                .cloned()
                .unwrap_or_default();
            let task_started = Instant::now();
            let templar = self.static_templar();
            let keywords = self.connection_keywords(root, &vars, &templar);
            let outcome =
                match self
                    .connection(host, &vars, &keywords, false, &templar)
                    .await
                {
                    Ok(connection) => {
                        let gathering = crate::connection::gather_facts(connection.as_ref());
                        match gather_timeout {
                            None => gathering.await,
                            Some(limit) => tokio::time::timeout(limit, gathering)
                                .await
                                .unwrap_or_else(|_| {
                                    Err(ConnectionError::Other(format!(
                                    "Timed out gathering facts after {} second(s) (gather_timeout)",
                                    limit.as_secs()
                                )))
                                }),
                        }
                    }
                    Err(error) => Err(error),
                };
            (host.clone(), outcome, task_started.elapsed())
        });
        let results = self.bounded(runs).await;
        self.report_notices();
        for (host, outcome, duration) in results {
            let (status, result) = match outcome {
                Ok(facts) => {
                    self.with_host(&host, |h| h.facts = facts.clone());
                    (
                        Status::Ok,
                        // Like Ansible's setup action: -v does not dump every fact.
                        json!({"ansible_facts": facts, "changed": false, "_ansible_verbose_override": true}),
                    )
                }
                Err(error) => {
                    let unreachable = error.is_unreachable();
                    self.with_host(&host, |h| {
                        if unreachable {
                            h.unreachable = true
                        } else {
                            h.failed = true
                        }
                    });
                    let key = if unreachable { "unreachable" } else { "failed" };
                    (
                        if unreachable {
                            Status::Unreachable
                        } else {
                            Status::Failed
                        },
                        json!({key: true, "msg": error.to_string(), "changed": false}),
                    )
                }
            };
            self.count(&host, status, false, false, root.rescuable);
            let mut gathered = simple_result(&host, status, result);
            gathered.duration = duration;
            self.report(&Event::HostResult(gathered));
        }
        self.task_times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(("Gathering Facts".into(), started.elapsed().as_secs_f64()));
    }

    async fn connection(
        &self,
        host: &str,
        vars: &VarMap,
        keywords: &ConnectionKeywords,
        check: bool,
        templar: &Templar,
    ) -> Result<Arc<dyn Connection>, ConnectionError> {
        if check {
            self.connections
                .get_checked(host, vars, keywords, templar)
                .await
        } else {
            self.connections.get(host, vars, keywords, templar).await
        }
    }

    /// The scope's `connection`, `remote_user` and `port`, templated with the host's variables.
    fn connection_keywords(
        &self,
        scope: &Inherited,
        vars: &VarMap,
        templar: &Templar,
    ) -> ConnectionKeywords {
        let text = |value: Option<Value>| {
            value
                .and_then(|v| templar.template_value(&v, vars).ok())
                .map(|v| value_text(&v))
        };
        ConnectionKeywords {
            connection: text(scope.connection.clone().map(Value::String)),
            remote_user: text(scope.remote_user.clone().map(Value::String)),
            port: text(scope.port.clone()),
        }
    }

    /// Runs futures with at most `--forks` in flight, returning results in input order.
    async fn bounded<F, T>(&self, futures: impl IntoIterator<Item = F>) -> Vec<T>
    where
        F: std::future::Future<Output = T>,
    {
        self.bounded_to(futures, None).await
    }

    /// [`Run::bounded`], with at most `throttle` in flight when that is below `--forks`.
    async fn bounded_to<F, T>(
        &self,
        futures: impl IntoIterator<Item = F>,
        throttle: Option<usize>,
    ) -> Vec<T>
    where
        F: std::future::Future<Output = T>,
    {
        let limit = throttle.map_or(self.options.forks, |t| t.min(self.options.forks));
        let semaphore = tokio::sync::Semaphore::new(limit.max(1));
        let semaphore = &semaphore;
        let wrapped = futures.into_iter().map(|future| async move {
            let _permit = semaphore.acquire().await;
            future.await
        });
        futures::future::join_all(wrapped).await
    }

    fn load_vars_files(
        &self,
        play: &Play,
        playbook: &Playbook,
        host: &str,
        context: &PlayContext<'_>,
    ) -> Result<VarMap> {
        let mut loaded = VarMap::new();
        if play.vars_files.is_empty() {
            return Ok(loaded);
        }
        let templar = self.static_templar();
        let mut vars = context
            .inventory_vars
            .get(host)
            .cloned()
            .unwrap_or_default();
        vars.extend(play.keywords.vars.clone());
        vars.extend(self.options.extra_vars.clone());
        for entry in &play.vars_files {
            // A list entry means "the first of these that exists".
            let candidates: Vec<Value> = match entry {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut found = false;
            for candidate in &candidates {
                let name = templar
                    .template_value(candidate, &vars)
                    .map_err(|e| e.at(&play.loc))?;
                let path = playbook.dir().join(value_text(&name));
                if path.is_file() {
                    for doc in crate::yaml::load_file(&path)? {
                        if let Value::Object(map) = doc.to_json() {
                            loaded.extend(map);
                        }
                    }
                    found = true;
                    break;
                }
            }
            if !found {
                let names: Vec<String> = candidates.iter().map(value_text).collect();
                return Err(Error::parse(
                    play.loc.clone(),
                    format!("vars file {} was not found", names.join(" or ")),
                )
                .with_hint(format!(
                    "vars_files are relative to the playbook's folder, {}",
                    playbook.dir().display()
                )));
            }
        }
        Ok(loaded)
    }

    fn magic_for(
        &self,
        host: &str,
        play: &Play,
        playbook: &Playbook,
        context: &PlayContext<'_>,
        role: Option<&Role>,
    ) -> VarMap {
        let magic = magic_vars(&MagicContext {
            inventory: self.inventory,
            host,
            play_name: play.display_name(),
            play_hosts: &context.play_hosts,
            play_batch: &context.batch,
            playbook_dir: &playbook.dir(),
            inventory_sources: self.inventory.sources(),
            check_mode: self.options.check,
            diff_mode: self.options.diff,
            forks: self.options.forks,
            verbosity: self.options.verbosity,
            run_tags: &self.options.only_tags,
            skip_tags: &self.options.skip_tags,
            role,
            omit: crate::template::omit_token(),
        });
        magic
    }

    /// The templar of one task step: `hostvars` is built once here and shared by every host's
    /// templating calls (see `Templar::with_shared`), instead of copied into each host's variables.
    fn step_templar(&self, search_path: Vec<PathBuf>, context: &PlayContext<'_>) -> Arc<Templar> {
        let mut shared = VarMap::new();
        shared.insert("hostvars".into(), self.hostvars(context));
        Arc::new(self.templar_for(search_path).with_shared(Arc::new(shared)))
    }

    /// `hostvars`: each host's inventory variables, facts and set_facts, as a later task may read them.
    fn hostvars(&self, context: &PlayContext<'_>) -> Value {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = serde_json::Map::new();
        for host in self.inventory.hosts() {
            let mut vars = context
                .inventory_vars
                .get(host)
                .cloned()
                .unwrap_or_else(|| self.inventory.host_vars(host));
            if let Some(state) = hosts.get(host) {
                if !state.facts.is_empty() {
                    vars.insert("ansible_facts".into(), Value::Object(state.facts.clone()));
                    for (k, v) in &state.facts {
                        vars.insert(
                            format!("ansible_{}", k.trim_start_matches("ansible_")),
                            v.clone(),
                        );
                    }
                }
                vars.extend(state.include_vars.clone());
                vars.extend(state.set_facts.clone());
            }
            // the per-host magic variables Ansible's hostvars carry (the global ones, such as
            // `groups`, templates read from the caller)
            vars.insert("inventory_hostname".into(), json!(host));
            vars.insert(
                "inventory_hostname_short".into(),
                json!(host.split('.').next().unwrap_or(host)),
            );
            vars.insert(
                "group_names".into(),
                json!(self.inventory.group_names(host)),
            );
            all.insert(host.to_string(), Value::Object(vars));
        }
        Value::Object(all)
    }

    /// Whether the batch's failures (this play's, plus `failing_now`) exceed `max_fail_percentage`.
    fn max_fail_exceeded(
        &self,
        play: &Play,
        batch: &[String],
        failing_now: &BTreeSet<String>,
    ) -> bool {
        let Some(limit) = play.max_fail_percentage.as_ref().and_then(Value::as_f64) else {
            return false;
        };
        let failed = batch
            .iter()
            .filter(|h| {
                failing_now.contains(*h) || self.with_host(h, |s| s.failed || s.unreachable)
            })
            .count();
        !batch.is_empty() && (failed as f64) * 100.0 / (batch.len() as f64) > limit
    }

    /// Runs a task list on `hosts`; returns the hosts whose failure was not handled within the list.
    fn run_list<'s>(
        &'s self,
        items: &'s [TaskItem],
        hosts: &'s [String],
        scope: &'s Inherited,
        context: &'s mut PlayContext<'_>,
    ) -> futures::future::BoxFuture<'s, BTreeSet<String>>
    where
        'a: 's,
    {
        Box::pin(async move {
            let mut active: Vec<String> = hosts.to_vec();
            let mut failed = BTreeSet::new();
            for item in items {
                if self.interrupted() || context.abort {
                    break;
                }
                active.retain(|h| self.host_active(h) && !failed.contains(h));
                if active.is_empty() {
                    break;
                }
                let newly_failed = match item {
                    TaskItem::Block(block) => {
                        let mut inner = scope.with_keywords(&block.keywords);
                        inner.depth += 1;
                        inner.when.extend(block.when.iter().cloned());
                        if block.delegate_to.is_some() {
                            inner.delegate_to = block.delegate_to.clone();
                        }
                        if block.ignore_errors.is_some() {
                            inner.ignore_errors = block.ignore_errors.clone();
                        }
                        if !block.notify.is_empty() {
                            inner.notify = block.notify.clone();
                        }
                        self.run_block(block, &active, &inner, context).await
                    }
                    TaskItem::Task(task) => {
                        self.run_task_item(task, &active, scope, context, false)
                            .await
                    }
                };
                failed.extend(newly_failed);
            }
            failed
        })
    }

    async fn run_block(
        &self,
        block: &crate::playbook::Block,
        hosts: &[String],
        scope: &Inherited,
        context: &mut PlayContext<'_>,
    ) -> BTreeSet<String> {
        let mut in_block = scope.clone();
        in_block.rescuable = scope.rescuable || !block.rescue.is_empty();
        let mut failed = self.run_list(&block.block, hosts, &in_block, context).await;
        if !block.rescue.is_empty() && !failed.is_empty() {
            let rescuing: Vec<String> = failed
                .iter()
                .filter(|h| self.with_host(h, |s| !s.unreachable))
                .cloned()
                .collect();
            for host in &rescuing {
                self.with_host(host, |s| s.failed = false);
            }
            let still_failed = self
                .run_list(&block.rescue, &rescuing, scope, context)
                .await;
            for host in &rescuing {
                if !still_failed.contains(host) {
                    self.with_host(host, |s| s.stats.rescued += 1);
                }
            }
            failed = still_failed;
        }
        if !block.always.is_empty() {
            let always_hosts: Vec<String> = hosts
                .iter()
                .filter(|h| self.with_host(h, |s| !s.unreachable && !s.ended))
                .cloned()
                .collect();
            // Hosts that failed in the block still run `always`, and stay failed afterwards.
            for host in &failed {
                self.with_host(host, |s| s.failed = false);
            }
            let always_failed = self
                .run_list(&block.always, &always_hosts, scope, context)
                .await;
            failed.extend(always_failed);
        }
        failed
    }

    /// Runs one task (or include) on the hosts; returns the hosts that failed and were not ignored.
    async fn run_task_item(
        &self,
        task: &Task,
        hosts: &[String],
        scope: &Inherited,
        context: &mut PlayContext<'_>,
        handler: bool,
    ) -> BTreeSet<String> {
        let mut tags = scope.tags.clone();
        tags.extend(task.keywords.tags.iter().cloned());
        if !handler && !should_run(&tags, &self.options.only_tags, &self.options.skip_tags) {
            return BTreeSet::new();
        }
        let name = task.display_name();
        if !handler && self.waiting_for_start.load(Ordering::SeqCst) {
            let wanted = self.options.start_at_task.as_deref().unwrap_or_default();
            if task.name.as_deref() != Some(wanted) && name != wanted {
                return BTreeSet::new();
            }
            self.waiting_for_start.store(false, Ordering::SeqCst);
        }
        match task.action.module {
            "include_tasks" | "import_tasks" | "include_role" | "import_role" => {
                return self.run_include(task, hosts, scope, context).await;
            }
            _ => {}
        }
        // A task that notifies nothing itself notifies what its block does (Ansible's inheritance).
        let with_block_notify;
        let task = if task.notify.is_empty() && !scope.notify.is_empty() {
            with_block_notify = Task {
                notify: scope.notify.clone(),
                ..task.clone()
            };
            &with_block_notify
        } else {
            task
        };
        let task_scope = scope.with_keywords(&task.keywords);
        // Like Ansible, meta tasks run once for the batch and show nothing themselves.
        let is_meta = task.action.module == "meta";
        let run_once = self.truthy(task_scope.run_once.as_ref());
        let targets: Vec<String> = if run_once {
            hosts.iter().take(1).cloned().collect()
        } else {
            hosts.to_vec()
        };
        if !is_meta {
            self.report(&Event::TaskStart {
                name: name.clone(),
                handler,
                path: task.loc.to_string(),
                hosts: targets.clone(),
            });
        }
        let started = Instant::now();
        let search_path = search_path(task.role.as_deref(), context.playbook);
        let templar = self.step_templar(search_path.clone(), context);
        // `throttle` caps the hosts running this task at once, below --forks (Ansible templates it once
        // per task, not per host).
        let throttle = targets.first().and_then(|first| {
            let vars = self.task_vars(first, task, scope, context);
            self.int(task_scope.throttle.as_ref(), &vars, &templar)
                .filter(|n| *n > 0)
                .map(|n| n as usize)
        });
        let runs = targets.iter().map(|host| {
            let vars = self.task_vars(host, task, scope, context);
            let templar = templar.clone();
            let search_path = search_path.clone();
            let task_scope = &task_scope;
            let name = &name;
            async move {
                let check_mode = self
                    .flag(task_scope.check_mode.as_ref(), &vars, &templar)
                    .unwrap_or(self.options.check);
                let diff_mode = self
                    .flag(task_scope.diff.as_ref(), &vars, &templar)
                    .unwrap_or(self.options.diff);
                let no_log = self
                    .flag(task_scope.no_log.as_ref(), &vars, &templar)
                    .unwrap_or(false);
                let ignore_errors = self
                    .flag(
                        task.ignore_errors
                            .as_ref()
                            .or(task_scope.ignore_errors.as_ref()),
                        &vars,
                        &templar,
                    )
                    .unwrap_or(false);
                let ignore_unreachable = self
                    .flag(task_scope.ignore_unreachable.as_ref(), &vars, &templar)
                    .unwrap_or(false);
                let become_ = self.become_for(task_scope, &vars, &templar);
                let connection_keywords = self.connection_keywords(task_scope, &vars, &templar);
                let delegate_facts = self
                    .flag(task.delegate_facts.as_ref(), &vars, &templar)
                    .unwrap_or(false);
                let timeout = self
                    .int(task_scope.timeout.as_ref(), &vars, &templar)
                    .filter(|secs| *secs > 0)
                    .map(|secs| std::time::Duration::from_secs(secs as u64));
                let own_vars = vars.clone();
                let connection_templar = templar.clone();
                let lookup = move |target: String| -> futures::future::BoxFuture<
                    '_,
                    Result<Arc<dyn Connection>, ConnectionError>,
                > {
                    let target_vars = if target == *host {
                        own_vars.clone()
                    } else {
                        self.inventory.host_vars(&target)
                    };
                    let templar = connection_templar.clone();
                    let keywords = connection_keywords.clone();
                    Box::pin(async move {
                        self.connection(&target, &target_vars, &keywords, check_mode, &templar)
                            .await
                    })
                };
                let mut conditions = task_scope.when.clone();
                conditions.extend(task.when.iter().cloned());
                let mut effective = task.clone();
                effective.when = conditions;
                if effective.delegate_to.is_none() {
                    effective.delegate_to = task_scope.delegate_to.clone();
                }
                effective.keywords.environment = task_scope.environment.clone();
                let run = TaskRun {
                    task: &effective,
                    task_name: name,
                    host,
                    vars,
                    templar: &templar,
                    connection_for: &lookup,
                    check_mode,
                    diff_mode,
                    verbosity: self.options.verbosity,
                    become_,
                    search_path: &search_path,
                    no_log,
                    ignore_errors,
                    ignore_unreachable,
                    delegate_facts,
                    interrupt: &self.interrupt,
                    module_defaults: task_scope.module_defaults.clone(),
                    timeout,
                };
                (host.clone(), run.run().await)
            }
        });
        let outcomes = self.bounded_to(runs, throttle).await;
        self.task_times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.clone(), started.elapsed().as_secs_f64()));
        self.report_notices();
        let mut failed = BTreeSet::new();
        let mut unreachable = false;
        let mut meta_actions = Vec::new();
        let any_errors_fatal = self.truthy(task_scope.any_errors_fatal.as_ref());
        for (host, outcome) in &outcomes {
            if is_meta && outcome.status != Status::Failed {
                if let Some(meta) = outcome.meta {
                    meta_actions.push((host.clone(), meta));
                }
                continue;
            }
            for event in &outcome.events {
                self.report(event);
            }
            self.record(host, task, outcome, scope.rescuable);
            if outcome.status == Status::Failed && !outcome.ignored {
                failed.insert(host.clone());
            }
            unreachable |= outcome.status == Status::Unreachable && !outcome.ignored;
            if let Some(meta) = outcome.meta {
                meta_actions.push((host.clone(), meta));
            }
        }
        if run_once && !is_meta {
            // A run_once result counts for every host of the batch: registered vars and facts included,
            // and so does a failure (Ansible fails every host, though the recap counts one failure).
            if let Some((_, outcome)) = outcomes.first() {
                for host in hosts.iter().skip(1) {
                    self.apply_vars(host, task, outcome);
                }
            }
            if !failed.is_empty() {
                failed.extend(hosts.iter().cloned());
            }
        }
        if any_errors_fatal && !failed.is_empty() && !scope.rescuable {
            context.abort = true;
            context.broken = true;
        } else if any_errors_fatal && unreachable && !scope.rescuable {
            // Ansible's linear strategy counts an unreachable host as fatal too: the play stops and every
            // other host is failed for the rest of the playbook, but (unlike a failure) without a
            // failure in the recap, without "NO MORE HOSTS LEFT", and later plays still start (with
            // no host left to run on).
            context.abort = true;
            context.fatal_unreachable = true;
            for host in hosts {
                self.with_host(host, |h| h.failed = true);
            }
        }
        if !failed.is_empty()
            && !scope.rescuable
            && self.max_fail_exceeded(context.play, &context.batch, &failed)
        {
            context.abort = true;
            context.broken = true;
        }
        if context.abort && !context.fatal_unreachable && !is_meta {
            self.report(&Event::NoMoreHosts);
        }
        // Actions for the whole batch (flush_handlers, end_play) happen once, whichever hosts asked.
        let mut done_once: Vec<MetaAction> = Vec::new();
        for (host, meta) in meta_actions {
            let batch_wide = matches!(
                meta,
                MetaAction::FlushHandlers | MetaAction::EndPlay | MetaAction::EndBatch
            );
            if batch_wide && done_once.contains(&meta) {
                continue;
            }
            done_once.push(meta);
            self.meta(&host, meta, hosts, scope, context).await;
        }
        failed
    }

    fn truthy(&self, value: Option<&Value>) -> bool {
        match value {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_bool_str(s).unwrap_or(false),
            _ => false,
        }
    }

    /// An integer keyword (`timeout`, `throttle`), templated when written as a template.
    fn int(&self, value: Option<&Value>, vars: &VarMap, templar: &Templar) -> Option<i64> {
        let value = templar.template_value(value?, vars).ok()?;
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    }

    /// A boolean keyword, templated when written as a template.
    fn flag(&self, value: Option<&Value>, vars: &VarMap, templar: &Templar) -> Option<bool> {
        let value = value?;
        let value = templar.template_value(value, vars).ok()?;
        match value {
            Value::Bool(b) => Some(b),
            Value::String(s) => parse_bool_str(&s),
            Value::Number(n) => Some(n.as_f64() != Some(0.0)),
            _ => None,
        }
    }

    /// The task's privilege escalation. As in Ansible, the connection variables (`ansible_become_user`,
    /// `ansible_become_method`, ...) override the keywords, which override the command line. A method
    /// ply cannot run is an error for the task, never a silent sudo.
    fn become_for(
        &self,
        scope: &Inherited,
        vars: &VarMap,
        templar: &Templar,
    ) -> Result<Option<Become>, String> {
        let enabled = self
            .flag(vars.get("ansible_become"), vars, templar)
            .or_else(|| self.flag(scope.become_.as_ref(), vars, templar))
            .unwrap_or(self.options.become_);
        if !enabled {
            return Ok(None);
        }
        let text = |key: &str| {
            vars.get(key)
                .and_then(|v| templar.template_value(v, vars).ok())
                .map(|v| value_text(&v))
        };
        let keyword = |value: &Option<String>| {
            value.as_ref().and_then(|v| {
                templar
                    .template_value(&Value::String(v.clone()), vars)
                    .ok()
                    .map(|v| value_text(&v))
            })
        };
        let user = text("ansible_become_user")
            .or_else(|| keyword(&scope.become_user))
            .or_else(|| self.options.become_user.clone())
            .unwrap_or_else(|| "root".into());
        let password = text("ansible_become_password")
            .or_else(|| text("ansible_become_pass"))
            .map(Secret::new)
            .or_else(|| self.options.become_password.clone());
        let method = text("ansible_become_method").or_else(|| keyword(&scope.become_method));
        let method = match method.as_deref() {
            None | Some("sudo" | "ansible.builtin.sudo") => BecomeMethod::Sudo,
            Some("su" | "ansible.builtin.su") => BecomeMethod::Su,
            Some(other) => {
                return Err(format!(
                    "the become method '{other}' is not supported by ply (use sudo or su)"
                ))
            }
        };
        Ok(Some(Become {
            user,
            method,
            password,
            flags: text("ansible_become_flags").or_else(|| keyword(&scope.become_flags)),
            exe: text("ansible_become_exe").or_else(|| keyword(&scope.become_exe)),
        }))
    }

    /// The variables a task sees on one host.
    fn task_vars(
        &self,
        host: &str,
        task: &Task,
        scope: &Inherited,
        context: &PlayContext<'_>,
    ) -> VarMap {
        let empty = VarMap::new();
        let (facts, include_vars, set_facts) = self.with_host(host, |s| {
            (s.facts.clone(), s.include_vars.clone(), s.set_facts.clone())
        });
        let mut magic = context.magic.get(host).cloned().unwrap_or_default();
        if let Some(role) = &task.role {
            magic.insert("role_name".into(), json!(role.name));
            magic.insert(
                "role_path".into(),
                json!(std::fs::canonicalize(&role.path)
                    .unwrap_or_else(|_| role.path.clone())
                    .display()
                    .to_string()),
            );
        }
        let block_vars: Vec<&VarMap> = scope.vars.iter().collect();
        assemble(&VarSources {
            play_role_defaults: &context.role_defaults,
            play_role_vars: &context.role_vars,
            inventory: context.inventory_vars.get(host).unwrap_or(&empty),
            facts: &facts,
            play_vars: &context.play.keywords.vars,
            vars_files: context.vars_files.get(host).unwrap_or(&empty),
            role: task.role.as_deref(),
            block_vars: &block_vars,
            task_vars: &task.keywords.vars,
            include_vars: &include_vars,
            set_facts: &set_facts,
            include_params: &scope.include_params,
            extra_vars: &self.options.extra_vars,
            magic: &magic,
        })
    }

    /// Stats, registered variables, facts and notifications from one host's result.
    fn record(&self, host: &str, task: &Task, outcome: &TaskOutcome, rescuable: bool) {
        self.count(
            host,
            outcome.status,
            outcome.ignored,
            outcome.changed(),
            rescuable,
        );
        self.apply_vars(host, task, outcome);
        if outcome.changed() {
            self.with_host(host, |s| s.notified.extend(task.notify.iter().cloned()));
        }
        if outcome.status == Status::Unreachable && !outcome.ignored {
            self.with_host(host, |s| s.unreachable = true);
        }
        if outcome.status == Status::Failed && !outcome.ignored {
            self.with_host(host, |s| {
                s.set_facts.insert("ansible_failed_result".into(), outcome.result.clone());
                s.set_facts.insert("ansible_failed_task".into(), json!({"name": task.name.clone().unwrap_or_default(), "action": task.action.written}));
            });
        }
    }

    fn apply_vars(&self, host: &str, task: &Task, outcome: &TaskOutcome) {
        let facts_host = outcome.facts_host.as_deref().unwrap_or(host);
        self.with_host(facts_host, |s| {
            for (level, facts) in &outcome.facts {
                match level {
                    FactLevel::SetFact => s.set_facts.extend(facts.clone()),
                    FactLevel::IncludeVars => s.include_vars.extend(facts.clone()),
                }
            }
        });
        self.with_host(host, |s| {
            if let Some(name) = &task.register {
                s.set_facts.insert(name.clone(), outcome.result.clone());
            }
        });
    }

    fn count(&self, host: &str, status: Status, ignored: bool, changed: bool, rescuable: bool) {
        self.with_host(host, |s| {
            let stats = &mut s.stats;
            match status {
                Status::Skipped => stats.skipped += 1,
                // ignore_unreachable: Ansible counts the result ok and ignored.
                Status::Unreachable if ignored => {
                    stats.ok += 1;
                    stats.ignored += 1;
                }
                Status::Unreachable => stats.unreachable += 1,
                Status::Failed if ignored => {
                    stats.ok += 1;
                    stats.ignored += 1;
                }
                // A failure a rescue section handles counts as rescued, once the rescue succeeds.
                Status::Failed if rescuable => {}
                Status::Failed => stats.failed += 1,
                Status::Ok | Status::Changed => {
                    stats.ok += 1;
                    if changed {
                        stats.changed += 1;
                    }
                }
            }
        });
    }

    async fn meta(
        &self,
        host: &str,
        action: MetaAction,
        hosts: &[String],
        scope: &Inherited,
        context: &mut PlayContext<'_>,
    ) {
        match action {
            MetaAction::FlushHandlers => {
                let batch = context.batch.clone();
                self.flush_handlers(&batch, scope, context).await;
            }
            MetaAction::EndHost => self.with_host(host, |s| s.ended = true),
            MetaAction::EndPlay | MetaAction::EndBatch => {
                for h in hosts {
                    self.with_host(h, |s| s.ended = true);
                }
                if action == MetaAction::EndPlay {
                    context.abort = true;
                }
            }
            MetaAction::ClearFacts => self.with_host(host, |s| s.facts.clear()),
            MetaAction::ClearHostErrors => self.with_host(host, |s| s.failed = false),
            MetaAction::RefreshInventory | MetaAction::ResetConnection | MetaAction::Noop => {}
        }
    }

    /// Runs notified handlers, in the order they are defined, once per host, until none is pending.
    fn flush_handlers<'s>(
        &'s self,
        hosts: &'s [String],
        scope: &'s Inherited,
        context: &'s mut PlayContext<'_>,
    ) -> futures::future::BoxFuture<'s, ()>
    where
        'a: 's,
    {
        Box::pin(async move {
            let mut handlers: Vec<Task> = Vec::new();
            each_task(&context.play.handlers, &mut |t| handlers.push(t.clone()));
            each_task(&context.extra_handlers, &mut |t| handlers.push(t.clone()));
            // force_handlers: a host that failed still runs the handlers it notified (not one that is
            // unreachable or ended).
            let forced = self.truthy(context.play.force_handlers.as_ref());
            let runs_handlers = |h: &String| {
                self.host_active(h)
                    || (forced && self.with_host(h, |s| s.failed && !s.unreachable && !s.ended))
            };
            loop {
                // Take this round's notifications first, so every handler listening to a topic sees it.
                let pending: HashMap<String, BTreeSet<String>> = hosts
                    .iter()
                    .filter(|h| runs_handlers(h))
                    .map(|h| {
                        (
                            h.clone(),
                            self.with_host(h, |s| std::mem::take(&mut s.notified)),
                        )
                    })
                    .filter(|(_, names)| !names.is_empty())
                    .collect();
                if pending.is_empty() {
                    break;
                }
                for handler in &handlers {
                    let mut names = handler.listen.clone();
                    if let Some(name) = &handler.name {
                        names.push(name.clone());
                        if let Some(role) = &handler.role {
                            names.push(format!("{} : {name}", role.name));
                        }
                    }
                    let notified: Vec<String> = hosts
                        .iter()
                        .filter(|h| runs_handlers(h))
                        .filter(|h| {
                            pending
                                .get(*h)
                                .is_some_and(|set| names.iter().any(|n| set.contains(n)))
                        })
                        .cloned()
                        .collect();
                    if notified.is_empty() {
                        continue;
                    }
                    let failed = self
                        .run_task_item(handler, &notified, scope, context, true)
                        .await;
                    for host in failed {
                        self.with_host(&host, |s| s.failed = true);
                    }
                }
            }
        })
    }

    /// `include_tasks` and `include_role`: resolved per host at run time, then run like their contents.
    /// As in Ansible, the include shows as a task of its own (`included: FILE for HOSTS`), and hosts that
    /// include the same file with the same arguments run its tasks together.
    async fn run_include(
        &self,
        task: &Task,
        hosts: &[String],
        scope: &Inherited,
        context: &mut PlayContext<'_>,
    ) -> BTreeSet<String> {
        let search_path = search_path(task.role.as_deref(), context.playbook);
        let templar = self.step_templar(search_path, context);
        let name = task.display_name();
        self.report(&Event::TaskStart {
            name: name.clone(),
            handler: false,
            path: task.loc.to_string(),
            hosts: hosts.to_vec(),
        });
        let mut groups: Vec<(String, VarMap, Vec<String>)> = Vec::new();
        let mut failed = BTreeSet::new();
        for host in hosts {
            let vars = self.task_vars(host, task, scope, context);
            let mut conditions = scope.when.clone();
            conditions.extend(task.when.iter().cloned());
            let included = conditions
                .iter()
                .all(|c| templar.eval_condition(&c.expr, &vars).unwrap_or(false));
            if !included {
                self.count(host, Status::Skipped, false, false, scope.rescuable);
                self.report(&Event::HostResult(simple_result(
                    host,
                    Status::Skipped,
                    json!({"changed": false, "skip_reason": "Conditional result was False"}),
                )));
                continue;
            }
            let args = match templar.template_value(&Value::Object(task.action.args.clone()), &vars)
            {
                Ok(Value::Object(args)) => args,
                _ => VarMap::new(),
            };
            let key = serde_json::to_string(&args).unwrap_or_default();
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, group_hosts)) => group_hosts.push(host.clone()),
                None => groups.push((key, args, vec![host.clone()])),
            }
        }
        let mut loaded_groups = Vec::new();
        // The included tasks sit one level below the include; the loader checks the blocks they hold.
        let depth = scope.depth + 1;
        for (_, args, group_hosts) in groups {
            let loaded = match task.action.module {
                _ if depth > TASK_MAX_DEPTH => Err(include_limit(task, scope)),
                "include_tasks" | "import_tasks" => {
                    let file = args
                        .get("_raw_params")
                        .or_else(|| args.get("file"))
                        .map(value_text)
                        .unwrap_or_default();
                    context
                        .playbook
                        .include_tasks(&file, task, depth)
                        .map(|(path, items)| {
                            let shown = std::fs::canonicalize(&path)
                                .unwrap_or(path)
                                .display()
                                .to_string();
                            (items, Vec::new(), shown)
                        })
                }
                _ => context
                    .playbook
                    .include_role(task, &args, depth)
                    .map(|(items, handlers)| {
                        let name = args.get("name").map(value_text).unwrap_or_default();
                        (items, handlers, name)
                    }),
            };
            match loaded {
                Ok((items, handlers, shown)) => {
                    // Ansible announces included files; an included role shows only through its tasks.
                    if task.action.module != "include_role" {
                        self.report(&Event::Included {
                            file: shown,
                            hosts: group_hosts.clone(),
                        });
                    }
                    for host in &group_hosts {
                        self.count(host, Status::Ok, false, false, scope.rescuable);
                    }
                    loaded_groups.push((args, group_hosts, items, handlers));
                }
                Err(error) => {
                    for host in group_hosts {
                        self.count(&host, Status::Failed, false, false, scope.rescuable);
                        let message = crate::diagnostic::render(&error);
                        self.report(&Event::HostResult(simple_result(
                            &host,
                            Status::Failed,
                            json!({"changed": false, "msg": message.trim_end()}),
                        )));
                        failed.insert(host);
                    }
                }
            }
        }
        for (args, group_hosts, items, handlers) in loaded_groups {
            // A role included again brings no second copy of its handlers.
            for handler in handlers {
                if !has_handler(&context.play.handlers, &handler)
                    && !has_handler(&context.extra_handlers, &handler)
                {
                    context.extra_handlers.push(handler);
                }
            }
            let mut inner = scope.clone();
            inner.depth = depth;
            inner.includes.push(task.loc.clone());
            if !task.keywords.vars.is_empty() {
                inner.vars.push(task.keywords.vars.clone());
            }
            let params: VarMap = args
                .iter()
                .filter(|(k, _)| !INCLUDE_OPTIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            inner.include_params.extend(params);
            failed.extend(self.run_list(&items, &group_hosts, &inner, context).await);
        }
        failed
    }
}

/// The failure of an include that would nest deeper than [`TASK_MAX_DEPTH`]: a file that includes itself
/// whose `when` never ends the recursion, most likely. Names the chain of includes that led here.
fn include_limit(task: &Task, scope: &Inherited) -> Error {
    let steps = scope
        .includes
        .iter()
        .chain([&task.loc])
        .map(|loc| format!("{}:{}", loc.file.display(), loc.line));
    Error::parse(
        task.loc.clone(),
        format!(
            "include recursion limit reached: blocks and includes would nest more than {TASK_MAX_DEPTH} levels deep, \
             through the includes {}",
            crate::diagnostic::chain(steps)
        ),
    )
    .with_hint("a file or role that includes itself needs a `when` that ends the recursion")
}

/// Whether `items` already holds this handler (same role folder and name).
fn has_handler(items: &[TaskItem], handler: &TaskItem) -> bool {
    let TaskItem::Task(wanted) = handler else {
        return false;
    };
    let mut found = false;
    each_task(items, &mut |t| {
        let same_role = t.role.as_ref().map(|r| &r.path) == wanted.role.as_ref().map(|r| &r.path);
        found |= same_role && t.name == wanted.name && t.loc == wanted.loc;
    });
    found
}

/// Arguments of include_tasks/include_role that are options, not variables for the included tasks.
const INCLUDE_OPTIONS: &[&str] = &[
    "name",
    "file",
    "_raw_params",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "apply",
    "public",
    "allow_duplicates",
    "rolespec_validate",
];

/// A result the engine itself produces (includes, fact gathering), with no module behind it.
fn simple_result(host: &str, status: Status, result: Value) -> HostResult {
    HostResult {
        host: host.to_string(),
        delegated_to: None,
        status,
        ignored: false,
        item_label: None,
        loop_summary: false,
        result,
        diff: Vec::new(),
        verbose_always: false,
        duration: std::time::Duration::ZERO,
    }
}

/// Where a task's relative files are looked for: its role's folder, then the playbook's.
pub(crate) fn search_path(role: Option<&Role>, playbook: &Playbook) -> Vec<PathBuf> {
    let mut path = Vec::new();
    if let Some(role) = role {
        path.push(role.path.clone());
    }
    let dir = playbook.dir();
    path.push(std::fs::canonicalize(&dir).unwrap_or(dir));
    path
}

/// How a play ended: `Broken` stops the playbook.
#[derive(Debug, PartialEq, Eq)]
enum PlayEnd {
    Completed,
    Broken,
}

fn collect_role_vars(items: &[TaskItem], defaults: &mut VarMap, vars: &mut VarMap) {
    for item in items {
        if let TaskItem::Block(block) = item {
            if let Some(role) = &block.role {
                defaults.extend(role.defaults.clone());
                vars.extend(role.vars.clone());
            }
            collect_role_vars(&block.block, defaults, vars);
        }
    }
}

/// `serial: 2`, `"30%"` or a list of sizes (the last repeats), like Ansible's batching.
fn serial_batches(hosts: &[String], serial: &[Value]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let size_of = |value: &Value| -> usize {
        let size = match value {
            Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
            Value::String(s) if s.trim().ends_with('%') => {
                let pct: f64 = s
                    .trim()
                    .trim_end_matches('%')
                    .trim()
                    .parse()
                    .unwrap_or(100.0);
                // Ansible's pct_to_int: a percentage never rounds down to an empty batch.
                (((hosts.len() as f64) * pct / 100.0) as usize).max(1)
            }
            Value::String(s) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        if size == 0 {
            hosts.len().max(1)
        } else {
            size
        }
    };
    let mut batches = Vec::new();
    let mut rest = hosts;
    let mut index = 0;
    while !rest.is_empty() {
        let size = size_of(&serial[index.min(serial.len() - 1)])
            .max(1)
            .min(rest.len());
        batches.push(rest[..size].to_vec());
        rest = &rest[size..];
        index += 1;
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_batches_like_ansible() {
        let hosts: Vec<String> = (1..=10).map(|i| format!("h{i}")).collect();
        let sizes = |serial: Value| -> Vec<usize> {
            let list = match serial {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            serial_batches(&hosts, &list).iter().map(Vec::len).collect()
        };
        assert_eq!(sizes(Value::Null), vec![10]);
        assert_eq!(sizes(json!(3)), vec![3, 3, 3, 1]);
        assert_eq!(sizes(json!("30%")), vec![3, 3, 3, 1]);
        assert_eq!(sizes(json!([1, 5, "100%"])), vec![1, 5, 4]);
        assert_eq!(sizes(json!("5%")), vec![1; 10]);
    }
}
