//! Variables that no scope defines (`'pg_prot' is undefined in every scope`), found before the run instead
//! of on the first host that reaches the task.
//!
//! The rule leans hard towards silence, because a false alarm stops a playbook that would have worked:
//! - Every name any scope may define is collected over the whole run: the inventory (any host or group,
//!   `group_vars/`/`host_vars/`), extra vars, play `vars`/`vars_files`/`vars_prompt`, role defaults, vars
//!   and parameters, block and task `vars`, `register`, `set_fact`, `include_vars`, loop variables, magic
//!   variables, every `ansible_*` name and the template globals. A name defined anywhere counts as defined
//!   everywhere: facts and registered values outlive their play, and telling the other scopes apart is not
//!   worth a false alarm.
//! - A name used under a guard anywhere (`x is defined`, `x | default(..)`, see `template::analysis`) is
//!   taken as meant to be optional everywhere: `when: x is defined` on a block guards its tasks, and a
//!   `when:` list stops at its first false condition.
//! - Only uses that are evaluated whenever their template is are reported: not those in `{% if %}` or
//!   `{% for %}` bodies, conditional expressions, the right side of `and`/`or` or filter arguments
//!   (`template::analysis`), since the playbook may rely on them being skipped. A task's own `when:`
//!   does not count as such a guard: a name defined nowhere is a mistake in every task that uses it.
//! - Only what this run would evaluate is read: tasks its `--tags`/`--skip-tags` select (so a `never`
//!   task that expects `-e` is left alone), handlers that such a task notifies, and the value of a
//!   variable (play, block, task, role) only when something read surely reads that variable, as values
//!   are templated lazily.
//! - When some definition cannot be known before the run (templated `include_vars`, `include_tasks`,
//!   `include_role` or `vars_files` names, `include_vars` of a folder, templated `set_fact` keys, a file
//!   that cannot be read), any name might come from there, so nothing is reported at all.
//! - Only template expressions are read (`{{ }}`, `{% %}`, and the bare expressions of `when`-like
//!   keywords and `assert`'s `that`). Task names (shown as written when they do not template) and
//!   `debug: var=x` (which prints undefined variables) are left alone.

use super::loader::Playbook;
use super::play::Play;
use super::tags::should_run;
use super::task::{Task, TaskItem};
use super::Condition;
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::limits::TASK_MAX_DEPTH;
use crate::location::Location;
use crate::template::{is_templated, Templar, TEMPLATE_MODULE_VARS};
use crate::vars::{VarMap, MAGIC_NAMES};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// Globals of Ansible's template environment (Jinja2's and Ansible's own), whether or not ply's
/// registers them all: a playbook using one is not using an undefined variable.
const ANSIBLE_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "lookup",
    "query",
    "q",
    "now",
    "undef",
];

/// Names Jinja itself defines inside templates (loops, macros), should minijinja report them as free.
const JINJA_IMPLICIT: &[&str] = &["loop", "caller", "varargs", "kwargs", "self"];

/// How many uses of one name are kept for confirmation (see [`check`]).
const USES_KEPT: usize = 8;

/// The tags a run selects, as `--tags`/`--skip-tags` give them (`["all"]` when none).
pub struct TagSelection<'a> {
    pub only: &'a [String],
    pub skip: &'a [String],
}

/// Checks every template expression the run would evaluate for variables that no scope defines.
///
/// Each string is parsed once (`Templar::variable_uses`); only a name that ends up undefined is confirmed
/// with minijinja's own free-variable analysis (`Templar::is_free`) on the strings that use it, so a run
/// with nothing to report pays one parse per string.
pub fn check(
    playbooks: &[Playbook],
    inventory: &Inventory,
    extra_vars: &VarMap,
    templar: &Templar,
    tags: &TagSelection<'_>,
) -> Result<()> {
    let mut defined: HashSet<String> = inventory.variable_names();
    defined.extend(extra_vars.keys().cloned());
    defined.extend(templar.global_names());
    let builtin = MAGIC_NAMES
        .iter()
        .chain(ANSIBLE_GLOBALS)
        .chain(JINJA_IMPLICIT)
        .chain(TEMPLATE_MODULE_VARS);
    defined.extend(builtin.map(|n| (*n).to_string()));
    let mut scan = Scan {
        templar,
        tags,
        defined,
        guarded: HashSet::new(),
        read: IndexSet::new(),
        frames: Vec::new(),
        values: HashMap::new(),
        sources: Vec::new(),
        uses: IndexMap::new(),
        dynamic: false,
        seen_roles: HashSet::new(),
        seen_files: HashSet::new(),
        depth: 0,
    };
    for playbook in playbooks {
        for play in &playbook.plays {
            scan.play(play, playbook);
            if scan.dynamic {
                return Ok(());
            }
        }
    }
    for (name, uses) in scan.candidates() {
        if scan.defined.contains(&name) || scan.guarded.contains(&name) {
            continue;
        }
        let confirmed = uses.iter().find(|(source, _)| {
            let (text, bare) = &scan.sources[*source];
            templar.is_free(text, *bare, &name)
        });
        let Some((_, place)) = confirmed else {
            continue;
        };
        let error = Error::parse(
            place.location(&name),
            format!("'{name}' is undefined in every scope"),
        );
        // Sorted, so that the suggestion does not depend on hashing order.
        let mut known: Vec<&str> = scan.defined.iter().map(String::as_str).collect();
        known.sort_unstable();
        let hint = crate::suggest::hint(&name, known).unwrap_or_else(|| {
            "define it (inventory, group_vars, vars, role defaults, -e), or guard it with \
                 `is defined` or `| default(...)`"
                .to_string()
        });
        return Err(error.with_hint(hint));
    }
    Ok(())
}

/// Where a use is reported. Finding a position inside a file is left for the one use that is reported.
#[derive(Clone, Debug)]
enum Place {
    /// A value (a condition, a loop) or a mapping (a task) that holds the use.
    At(Location),
    /// Exactly here (inside a template file).
    Exact(Location),
    /// Argument `key` of a task's action (see `Action::arg_location`).
    Arg {
        args_loc: Location,
        exact: Option<Location>,
        key: String,
    },
    /// The variable `key` of the mapping that starts at this location (play, block or task `vars`).
    VarOf(Location, String),
    /// The variable `key` in one of a role's defaults or vars files.
    InFiles(Vec<PathBuf>, String),
}

impl Place {
    /// Where `name` is used: the key or value that holds it, then the name itself when it can be found
    /// in the lines that value spans.
    fn location(&self, name: &str) -> Location {
        let (base, is_key) = match self {
            Place::Exact(loc) => return loc.clone(),
            Place::At(loc) => (loc.clone(), false),
            Place::Arg {
                exact: Some(loc), ..
            } => (loc.clone(), true),
            Place::Arg { args_loc, key, .. } => match super::task::kv_key_location(args_loc, key) {
                Some(loc) => (loc, true),
                None => (args_loc.clone(), false),
            },
            Place::VarOf(owner, key) => match key_in_mapping(owner, key) {
                Some(loc) => (loc, true),
                None => (owner.clone(), false),
            },
            Place::InFiles(files, key) => {
                match files
                    .iter()
                    .find_map(|f| key_in_mapping(&Location::file_start(f), key))
                {
                    Some(loc) => (loc, true),
                    None => match files.first() {
                        Some(file) => (Location::file_start(file), false),
                        None => return Location::file_start(""),
                    },
                }
            }
        };
        word_in_value(&base, is_key, name).unwrap_or(base)
    }
}

/// The first use of the identifier `name` from `base` on, in the lines of the YAML value that starts
/// there (a key's value: lines indented deeper than the key; a value: lines indented at least as deep).
fn word_in_value(base: &Location, is_key: bool, name: &str) -> Option<Location> {
    let text = std::fs::read_to_string(base.path()).ok()?;
    let indent = base.column.saturating_sub(1);
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    for (number, line) in text.lines().enumerate().skip(base.line.saturating_sub(1)) {
        let first = number + 1 == base.line;
        let trimmed = line.trim_start();
        let at = line.len() - trimmed.len();
        if !first && !trimmed.is_empty() && (at < indent || (is_key && at == indent)) {
            return None;
        }
        let from = if first { indent } else { 0 };
        let chars: Vec<char> = line.chars().collect();
        let word: Vec<char> = name.chars().collect();
        for i in from..chars.len() {
            let before_ok = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '.');
            let after_ok = chars.get(i + word.len()).is_none_or(|c| !is_ident(*c));
            if before_ok && after_ok && chars[i..].starts_with(&word) {
                return Some(Location::new(base.path(), number + 1, i + 1));
            }
        }
    }
    None
}

/// The line of `key:` inside the YAML mapping whose first key is at `owner`: searched from there to where
/// the mapping ends (a line indented less, or the next entry of the same list).
fn key_in_mapping(owner: &Location, key: &str) -> Option<Location> {
    let text = std::fs::read_to_string(owner.path()).ok()?;
    let indent = owner.column.saturating_sub(1);
    for (number, line) in text.lines().enumerate().skip(owner.line.saturating_sub(1)) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = line.len() - trimmed.len();
        let first = number + 1 == owner.line;
        if !first && (at < indent || (at + 2 == indent && trimmed.starts_with("- "))) {
            return None;
        }
        let body = trimmed.strip_prefix("- ").map_or(trimmed, str::trim_start);
        let column = line.chars().count() - body.chars().count();
        let named = [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ];
        if named.iter().any(|n| body.starts_with(n.as_str())) {
            return Some(Location::new(owner.path(), number + 1, column + 1));
        }
    }
    None
}

/// A use of a name that no scope defined when it was met: the string it is in, and where to report it.
type Use = (usize, Place);

/// What the values given to one variable name read, once something reads that variable.
#[derive(Default)]
struct ValueUses {
    /// Every name the values surely read.
    reads: Vec<String>,
    /// The uses among them of names not defined when they were met.
    uses: Vec<(String, Use)>,
}

struct Scan<'a> {
    templar: &'a Templar,
    tags: &'a TagSelection<'a>,
    defined: HashSet<String>,
    guarded: HashSet<String>,
    /// Names that something the run evaluates surely reads, in the order met (which decides the order of
    /// reports).
    read: IndexSet<String>,
    /// The same for each task and block being read, innermost last: their own `vars` are visible only
    /// inside them, so only reads inside them count.
    frames: Vec<HashSet<String>>,
    /// Per variable name, what its values read; only counted once the variable is read.
    values: HashMap<String, ValueUses>,
    /// Each string holding a use worth confirming, and whether it is a bare expression.
    sources: Vec<(String, bool)>,
    /// The first uses of each name not yet defined, in the order the run meets them.
    uses: IndexMap<String, Vec<Use>>,
    /// Some definition is only known at run time: report nothing.
    dynamic: bool,
    /// Roles (by folder and the files read) and files (templates, includes) already scanned.
    seen_roles: HashSet<(PathBuf, Vec<PathBuf>, Vec<PathBuf>)>,
    seen_files: HashSet<PathBuf>,
    /// How many blocks and includes enclose what is being read, as the executor counts them: an include
    /// deeper than [`TASK_MAX_DEPTH`] fails at run time, so it is not read now.
    depth: usize,
}

/// Where an expression is: evaluated as such, or part of the value of a variable.
#[derive(Clone, Copy)]
enum Owner<'n> {
    Evaluated,
    ValueOf(&'n str),
}

impl Scan<'_> {
    /// The uses to report, once every variable that is read has had its values' uses added.
    fn candidates(&mut self) -> IndexMap<String, Vec<Use>> {
        let mut candidates = std::mem::take(&mut self.uses);
        let mut queue: VecDeque<String> = self.read.iter().cloned().collect();
        let mut reached: HashSet<String> = queue.iter().cloned().collect();
        while let Some(var) = queue.pop_front() {
            let Some(value) = self.values.remove(&var) else {
                continue;
            };
            for name in value.reads {
                if reached.insert(name.clone()) {
                    queue.push_back(name);
                }
            }
            for (name, found) in value.uses {
                candidates.entry(name).or_default().push(found);
            }
        }
        candidates
    }

    fn expression(&mut self, text: &str, bare: bool, place: &Place) {
        self.uses_in(text, bare, place, None, Owner::Evaluated);
    }

    /// Records the uses in `text`; inside a template `file`, each at its own position.
    fn uses_in(
        &mut self,
        text: &str,
        bare: bool,
        place: &Place,
        file: Option<&Path>,
        owner: Owner<'_>,
    ) {
        if !bare && !is_templated(text) {
            return;
        }
        let mut source = None;
        for name in self.templar.variable_uses(text, bare) {
            if name.guarded {
                self.guarded.insert(name.name);
                continue;
            }
            if !name.certain {
                continue;
            }
            match owner {
                Owner::Evaluated => {
                    self.read.insert(name.name.clone());
                    for frame in &mut self.frames {
                        frame.insert(name.name.clone());
                    }
                }
                Owner::ValueOf(var) => {
                    let value = self.values.entry(var.to_string()).or_default();
                    value.reads.push(name.name.clone());
                }
            }
            if self.defined.contains(&name.name) || name.name.starts_with("ansible_") {
                continue;
            }
            let kept = match owner {
                Owner::Evaluated => self.uses.get(&name.name).map_or(0, Vec::len),
                Owner::ValueOf(var) => self.values[var].uses.len(),
            };
            if kept >= USES_KEPT {
                continue;
            }
            let id = *source.get_or_insert_with(|| {
                self.sources.push((text.to_string(), bare));
                self.sources.len() - 1
            });
            let at = match file {
                Some(path) => Place::Exact(Location::new(path, name.line, name.column)),
                None => place.clone(),
            };
            match owner {
                Owner::Evaluated => self.uses.entry(name.name).or_default().push((id, at)),
                Owner::ValueOf(var) => {
                    if let Some(value) = self.values.get_mut(var) {
                        value.uses.push((name.name, (id, at)));
                    }
                }
            }
        }
    }

    /// Every string inside `value` (mapping keys too) that is a template.
    fn value(&mut self, value: &Value, place: &Place, owner: Owner<'_>) {
        match value {
            Value::String(s) => self.uses_in(s, false, place, None, owner),
            Value::Array(items) => items.iter().for_each(|v| self.value(v, place, owner)),
            Value::Object(map) => {
                for (k, v) in map {
                    self.uses_in(k, false, place, None, owner);
                    self.value(v, place, owner);
                }
            }
            _ => {}
        }
    }

    fn conditions(&mut self, conditions: &[Condition]) {
        for condition in conditions {
            let bare = !is_templated(&condition.expr);
            self.expression(&condition.expr, bare, &Place::At(condition.loc.clone()));
        }
    }

    /// Variables defined by a play's `vars:`, and what their values read once a task reads them.
    fn vars(&mut self, vars: &VarMap, owner: &Location) {
        for (name, value) in vars {
            self.defined.insert(name.clone());
            let place = Place::VarOf(owner.clone(), name.clone());
            self.value(value, &place, Owner::ValueOf(name));
        }
    }

    fn play(&mut self, play: &Play, playbook: &Playbook) {
        self.vars(&play.keywords.vars, &play.loc);
        for entry in &play.vars_prompt {
            match entry.get("name").and_then(Value::as_str) {
                Some(name) => {
                    self.defined.insert(name.to_string());
                }
                None => self.dynamic = true,
            }
        }
        for entry in &play.vars_files {
            self.vars_file(entry, playbook);
        }
        self.expression(
            &play.hosts,
            false,
            &Place::VarOf(play.loc.clone(), "hosts".into()),
        );
        self.conditions(&play.import_when);
        let tags: BTreeSet<String> = play.keywords.tags.iter().cloned().collect();
        let mut notified = Notified::default();
        for (_, section) in play.sections() {
            self.items(section, playbook, &tags, Some(&mut notified));
        }
        self.handlers(&play.handlers, playbook, notified);
    }

    /// The handlers that a selected task notifies (or a notified handler does), until no more are.
    fn handlers(&mut self, handlers: &[TaskItem], playbook: &Playbook, mut notified: Notified) {
        let mut all: Vec<&Task> = Vec::new();
        super::each_task(handlers, &mut |t| all.push(t));
        for handler in &all {
            if let Some(role) = &handler.role {
                self.role(role, &handler.loc);
            }
            self.definitions(handler, playbook);
        }
        let mut done = vec![false; all.len()];
        loop {
            let due: Vec<usize> = (0..all.len())
                .filter(|&i| !done[i] && notified.reaches(all[i]))
                .collect();
            if due.is_empty() || self.dynamic {
                return;
            }
            for i in due {
                done[i] = true;
                // A handler runs whatever the tags once it is notified.
                self.selected_task(all[i], playbook, &BTreeSet::new(), None);
                notified.add(&all[i].notify);
            }
        }
    }

    /// One `vars_files` entry: a file, or a list of alternatives of which the first that exists is read.
    fn vars_file(&mut self, entry: &Value, playbook: &Playbook) {
        let candidates = match entry {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for candidate in &candidates {
            match candidate.as_str() {
                Some(name) if !is_templated(name) => {
                    let path = playbook.dir().join(name);
                    if path.is_file() {
                        self.define_from_file(&path);
                        return;
                    }
                }
                _ => break,
            }
        }
        self.dynamic = true;
    }

    /// The top-level keys of a YAML vars file; a file that cannot be read leaves the run undecidable.
    fn define_from_file(&mut self, path: &Path) {
        match crate::yaml::load_file(path) {
            Ok(docs) => {
                for doc in docs {
                    match doc.to_json() {
                        Value::Object(map) => self.defined.extend(map.keys().cloned()),
                        Value::Null => {}
                        _ => self.dynamic = true,
                    }
                }
            }
            Err(_) => self.dynamic = true,
        }
    }

    /// What the values of a task's or block's own `vars` read, for the variables that its expressions
    /// (`reads`) read, and then for the ones those values read.
    fn local_vars(&mut self, vars: &VarMap, owner: &Location, mut reads: HashSet<String>) {
        let mut done: HashSet<&String> = HashSet::new();
        loop {
            let due: Vec<&String> = vars
                .keys()
                .filter(|k| reads.contains(*k) && !done.contains(k))
                .collect();
            if due.is_empty() {
                return;
            }
            self.frames.push(HashSet::new());
            for name in due {
                done.insert(name);
                let place = Place::VarOf(owner.clone(), name.clone());
                self.value(&vars[name], &place, Owner::Evaluated);
            }
            reads.extend(self.frames.pop().unwrap_or_default());
        }
    }

    /// A task this run selects (or a notified handler): its expressions, what it includes, then the
    /// values of its own vars that those read.
    fn selected_task(
        &mut self,
        task: &Task,
        playbook: &Playbook,
        tags: &BTreeSet<String>,
        notified: Option<&mut Notified>,
    ) {
        self.frames.push(HashSet::new());
        self.task_body(task, playbook);
        self.includes(task, playbook, tags, notified);
        let reads = self.frames.pop().unwrap_or_default();
        self.local_vars(&task.keywords.vars, &task.loc, reads);
    }

    fn role(&mut self, role: &super::Role, loc: &Location) {
        for (name, value) in &role.params {
            self.defined.insert(name.clone());
            self.value(value, &Place::At(loc.clone()), Owner::ValueOf(name));
        }
        let key = (
            role.path.clone(),
            role.defaults_files.clone(),
            role.vars_files.clone(),
        );
        if !self.seen_roles.insert(key) {
            return;
        }
        for (vars, files) in [
            (&role.defaults, &role.defaults_files),
            (&role.vars, &role.vars_files),
        ] {
            for (name, value) in vars {
                self.defined.insert(name.clone());
                let place = Place::InFiles(files.clone(), name.clone());
                self.value(value, &place, Owner::ValueOf(name));
            }
        }
    }

    /// Reads the items of a task list under the inherited `tags`; returns whether any task is selected.
    fn items(
        &mut self,
        items: &[TaskItem],
        playbook: &Playbook,
        tags: &BTreeSet<String>,
        mut notified: Option<&mut Notified>,
    ) -> bool {
        let mut any = false;
        for item in items {
            match item {
                TaskItem::Task(task) => {
                    let mut own = tags.clone();
                    own.extend(task.keywords.tags.iter().cloned());
                    if let Some(role) = &task.role {
                        self.role(role, &task.loc);
                    }
                    self.definitions(task, playbook);
                    if should_run(&own, self.tags.only, self.tags.skip) {
                        any = true;
                        if let Some(notified) = notified.as_deref_mut() {
                            notified.add(&task.notify);
                        }
                        self.selected_task(task, playbook, tags, notified.as_deref_mut());
                    }
                }
                TaskItem::Block(block) => {
                    if let Some(role) = &block.role {
                        self.role(role, &block.loc);
                    }
                    self.defined.extend(block.keywords.vars.keys().cloned());
                    let mut inner = tags.clone();
                    inner.extend(block.keywords.tags.iter().cloned());
                    self.frames.push(HashSet::new());
                    self.depth += 1;
                    let mut selected = false;
                    for part in [&block.block, &block.rescue, &block.always] {
                        selected |= self.items(part, playbook, &inner, notified.as_deref_mut());
                    }
                    self.depth -= 1;
                    if selected {
                        any = true;
                        if let Some(notified) = notified.as_deref_mut() {
                            notified.add(&block.notify);
                        }
                        self.conditions(&block.when);
                        if let Some(delegate) = &block.delegate_to {
                            self.expression(delegate, false, &Place::At(block.loc.clone()));
                        }
                    }
                    let reads = self.frames.pop().unwrap_or_default();
                    if selected {
                        self.local_vars(&block.keywords.vars, &block.loc, reads);
                    }
                }
            }
            if self.dynamic {
                return any;
            }
        }
        any
    }

    /// What a task defines for later tasks, whether or not this run selects it: being lenient about
    /// definitions only ever silences a report.
    fn definitions(&mut self, task: &Task, playbook: &Playbook) {
        self.defined.extend(task.keywords.vars.keys().cloned());
        if let Some(register) = &task.register {
            self.defined.insert(register.clone());
        }
        if let Some(control) = &task.loop_control {
            self.defined.insert(control.loop_var.clone());
            self.defined.extend(control.index_var.iter().cloned());
        }
        match task.action.module {
            "set_fact" => {
                for key in task.action.args.keys() {
                    if is_templated(key) {
                        self.dynamic = true;
                    }
                    self.defined.insert(key.clone());
                }
            }
            "include_vars" => self.include_vars(task, playbook),
            // Arguments that are not the include's options are variables of the included tasks.
            "include_tasks" | "include_role" => {
                self.defined.extend(task.action.args.keys().cloned());
            }
            _ => {}
        }
    }

    /// Every expression a selected task evaluates.
    fn task_body(&mut self, task: &Task, playbook: &Playbook) {
        if let Some(label) = task.loop_control.as_ref().and_then(|c| c.label.as_ref()) {
            self.expression(label, false, &Place::At(task.loc.clone()));
        }
        self.conditions(&task.when);
        self.conditions(&task.changed_when);
        self.conditions(&task.failed_when);
        self.conditions(&task.until);
        if let Some(task_loop) = &task.loop_ {
            let place = Place::At(task_loop.loc.clone());
            self.value(&task_loop.value, &place, Owner::Evaluated);
        }
        let at_task = Place::At(task.loc.clone());
        let keywords = &task.keywords;
        for value in [
            &keywords.environment,
            &keywords.become_,
            &keywords.no_log,
            &keywords.run_once,
            &keywords.check_mode,
            &keywords.diff,
            &task.ignore_errors,
            &task.retries,
            &task.delay,
        ]
        .into_iter()
        .flatten()
        {
            self.value(value, &at_task, Owner::Evaluated);
        }
        for text in [
            &task.delegate_to,
            &keywords.become_user,
            &keywords.remote_user,
        ]
        .into_iter()
        .flatten()
        {
            self.expression(text, false, &at_task);
        }
        self.arguments(task);
        if task.action.module == "template" {
            self.template_file(task, playbook);
        }
    }

    fn arguments(&mut self, task: &Task) {
        let action = &task.action;
        for (key, value) in &action.args {
            let place = Place::Arg {
                args_loc: action.args_loc.clone(),
                exact: action
                    .arg_locs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, loc)| loc.clone()),
                key: key.clone(),
            };
            self.expression(key, false, &place);
            match (action.module, key.as_str(), value) {
                // debug prints an undefined `var` rather than failing.
                ("debug", "var", _) => {}
                ("assert", "that", Value::String(that)) => {
                    self.expression(that, !is_templated(that), &place);
                }
                ("assert", "that", Value::Array(items)) => {
                    for that in items.iter().filter_map(Value::as_str) {
                        self.expression(that, !is_templated(that), &place);
                    }
                }
                _ => self.value(value, &place, Owner::Evaluated),
            }
        }
    }

    /// Task files and roles a selected task includes at run time.
    fn includes(
        &mut self,
        task: &Task,
        playbook: &Playbook,
        tags: &BTreeSet<String>,
        notified: Option<&mut Notified>,
    ) {
        match task.action.module {
            "include_tasks" => self.include_tasks(task, playbook, tags, notified),
            "include_role" => self.include_role(task, playbook, tags, notified),
            _ => {}
        }
    }

    fn include_vars(&mut self, task: &Task, playbook: &Playbook) {
        let args = &task.action.args;
        if let Some(name) = args.get("name") {
            match name.as_str() {
                Some(name) if !is_templated(name) => {
                    self.defined.insert(name.to_string());
                }
                _ => self.dynamic = true,
            }
            return;
        }
        let file = args.get("file").or_else(|| args.get("_raw_params"));
        match file.and_then(Value::as_str) {
            Some(file) if !is_templated(file) && !args.contains_key("dir") => {
                let search = crate::executor::search_path(task.role.as_deref(), playbook);
                match modules::file_support::find_controller_file(&search, "vars", file) {
                    Ok(path) => self.define_from_file(&path),
                    Err(_) => self.dynamic = true,
                }
            }
            _ => self.dynamic = true,
        }
    }

    /// The file a template task renders, when its name is known now. It sees the task's variables and
    /// the template module's own (`ansible_managed`, `template_path`, ...).
    fn template_file(&mut self, task: &Task, playbook: &Playbook) {
        let Some(src) = task.action.args.get("src").and_then(Value::as_str) else {
            return;
        };
        if is_templated(src) {
            return;
        }
        let search = crate::executor::search_path(task.role.as_deref(), playbook);
        // A missing template fails the task anyway, with its own message.
        let Ok(path) = modules::file_support::find_controller_file(&search, "templates", src)
        else {
            return;
        };
        if !self.seen_files.insert(path.clone()) {
            return;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        // The playbook's folder is searched canonicalized; messages read better relative to where ply runs.
        let path = std::env::current_dir()
            .ok()
            .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or(path);
        let place = Place::At(Location::file_start(&path));
        self.uses_in(&text, false, &place, Some(&path), Owner::Evaluated);
    }

    /// A task file included at run time: read now when its name is known, for what it defines and uses.
    /// Its tasks keep their own tags (include_tasks passes its tags on only through `apply`).
    fn include_tasks(
        &mut self,
        task: &Task,
        playbook: &Playbook,
        tags: &BTreeSet<String>,
        notified: Option<&mut Notified>,
    ) {
        let args = &task.action.args;
        let file = args.get("file").or_else(|| args.get("_raw_params"));
        let Some(file) = file.and_then(Value::as_str).filter(|f| !is_templated(f)) else {
            self.dynamic = true;
            return;
        };
        if self.depth >= TASK_MAX_DEPTH {
            self.dynamic = true;
            return;
        }
        match playbook.include_tasks(file, task, self.depth + 1) {
            Ok((path, items)) => {
                if self.seen_files.insert(path) {
                    self.depth += 1;
                    self.items(&items, playbook, tags, notified);
                    self.depth -= 1;
                }
            }
            Err(_) => self.dynamic = true,
        }
    }

    fn include_role(
        &mut self,
        task: &Task,
        playbook: &Playbook,
        tags: &BTreeSet<String>,
        notified: Option<&mut Notified>,
    ) {
        let args = &task.action.args;
        if crate::template::contains_template(&Value::Object(args.clone())) {
            self.dynamic = true;
            return;
        }
        let key = PathBuf::from(format!(
            "include_role:{}",
            serde_json::to_string(args).unwrap_or_default()
        ));
        if !self.seen_files.insert(key) {
            return;
        }
        if self.depth >= TASK_MAX_DEPTH {
            self.dynamic = true;
            return;
        }
        match playbook.include_role(task, args, self.depth + 1) {
            Ok((blocks, handlers)) => {
                let mut notified = notified;
                self.depth += 1;
                self.items(&blocks, playbook, tags, notified.as_deref_mut());
                self.depth -= 1;
                let local = notified.map(|n| n.clone()).unwrap_or_default();
                self.handlers(&handlers, playbook, local);
            }
            Err(_) => self.dynamic = true,
        }
    }
}

/// The handler names and `listen` topics notified so far. A templated notify may reach any handler but
/// need not, so it makes no handler surely run.
#[derive(Clone, Default)]
struct Notified {
    names: HashSet<String>,
}

impl Notified {
    fn add(&mut self, notify: &[String]) {
        self.names.extend(notify.iter().cloned());
    }

    fn reaches(&self, handler: &Task) -> bool {
        let by_name = handler.name.as_ref().is_some_and(|name| {
            self.names.contains(name)
                || handler
                    .role
                    .as_ref()
                    .is_some_and(|r| self.names.contains(&format!("{} : {name}", r.name)))
        });
        by_name || handler.listen.iter().any(|l| self.names.contains(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_variable_key_and_a_use_inside_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.yml");
        std::fs::write(
            &file,
            "- name: one\n  vars:\n    a: 1\n  debug: msg=x\n- name: two\n  vars:\n    b: \"{{ x }}\"\n    c: >-\n      {{ a }}\n      {{ y.z }}\n",
        )
        .unwrap();
        let task = |line| Location::new(&file, line, 3);
        let at = |l: Option<Location>| l.map(|l| (l.line, l.column));
        assert_eq!(at(key_in_mapping(&task(1), "a")), Some((3, 5)));
        // The next list entry ends the mapping: `b` belongs to the second task.
        assert_eq!(at(key_in_mapping(&task(1), "b")), None);
        assert_eq!(at(key_in_mapping(&task(5), "b")), Some((7, 5)));
        let c = key_in_mapping(&task(5), "c").unwrap();
        assert_eq!(at(word_in_value(&c, true, "y")), Some((10, 10)));
        // `.z` is an attribute, not a use of `z`.
        assert_eq!(at(word_in_value(&c, true, "z")), None);
        assert_eq!(at(word_in_value(&task(1), false, "b")), None);
    }
}
