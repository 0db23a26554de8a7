//! Tasks, blocks and how they are read from YAML.

use super::fields::{self, Condition};
use super::keyword_set::Keywords;
use super::keywords;
use super::kv_args::{parse_kv, KvError};
use super::loader::{Loader, Scope};
use super::role::Role;
use crate::error::{Error, Result};
use crate::location::Location;
use crate::suggest;
use crate::vars::VarMap;
use crate::yaml::{Node, NodeValue};
use serde_json::Value;
use std::sync::Arc;

/// An entry of a task list.
#[derive(Clone, Debug)]
pub enum TaskItem {
    // Boxed: a task is large and lists of them are walked far more than they are built.
    Task(Box<Task>),
    Block(Box<Block>),
}

/// Why a block exists: written by the user, or made by the loader to hold an import or a role.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockOrigin {
    Written,
    ImportTasks(std::path::PathBuf),
    Role,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub loc: Location,
    pub name: Option<String>,
    pub origin: BlockOrigin,
    pub keywords: Keywords,
    pub when: Vec<Condition>,
    pub delegate_to: Option<String>,
    pub ignore_errors: Option<Value>,
    pub notify: Vec<String>,
    pub block: Vec<TaskItem>,
    pub rescue: Vec<TaskItem>,
    pub always: Vec<TaskItem>,
    /// The role whose tasks these are, for role variables and `role : task` names.
    pub role: Option<Arc<Role>>,
}

/// The module a task runs and its arguments.
#[derive(Clone, Debug)]
pub struct Action {
    /// Canonical short name (`copy` for `ansible.builtin.copy`).
    pub module: &'static str,
    /// The name as written, for messages.
    pub written: String,
    pub args: VarMap,
    pub loc: Location,
    /// Where the arguments are written (the value after the module name).
    pub args_loc: Location,
    /// Where each argument written as a mapping key is (module mapping, `args:`, `action:` mapping), so
    /// that a message about one argument points at it. `k=v` arguments are found by [`Action::arg_location`].
    pub arg_locs: Vec<(String, Location)>,
}

impl Action {
    /// Where argument `key` is written: its mapping key, else its `key=` in a one-line `k=v` string, else
    /// the start of the arguments.
    pub fn arg_location(&self, key: &str) -> Location {
        if let Some((_, loc)) = self.arg_locs.iter().find(|(k, _)| k == key) {
            return loc.clone();
        }
        kv_key_location(&self.args_loc, key).unwrap_or_else(|| self.args_loc.clone())
    }
}

/// The column of `key=` on the line where a `k=v` string starts. Positions inside YAML scalars are not
/// kept, and only the first line is searched: a folded string's later lines may be re-indented, so a
/// key found there could not be pointed at reliably. Read on the error path only.
pub(crate) fn kv_key_location(start: &Location, key: &str) -> Option<Location> {
    let text = std::fs::read_to_string(start.path()).ok()?;
    let line = text.lines().nth(start.line.checked_sub(1)?)?;
    let chars: Vec<char> = line.chars().collect();
    let needle: Vec<char> = format!("{key}=").chars().collect();
    let from = start.column.saturating_sub(1);
    (from..chars.len()).find_map(|i| {
        let boundary = i == from || matches!(chars[i - 1], ' ' | '\t' | '"' | '\'');
        (boundary && chars[i..].starts_with(&needle)).then(|| {
            let mut loc = start.clone();
            loc.column = i + 1;
            loc
        })
    })
}

#[derive(Clone, Debug)]
pub struct TaskLoop {
    /// `loop` or the `with_*` keyword used.
    pub keyword: String,
    pub value: Value,
    pub loc: Location,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoopControl {
    pub loop_var: String,
    pub index_var: Option<String>,
    pub label: Option<String>,
    pub pause: Option<Value>,
    pub extended: Option<Value>,
    /// `extended_allitems: false` leaves `ansible_loop.allitems` out (it copies every item per item).
    pub extended_allitems: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub loc: Location,
    pub name: Option<String>,
    pub action: Action,
    pub keywords: Keywords,
    pub when: Vec<Condition>,
    pub loop_: Option<TaskLoop>,
    pub loop_control: Option<LoopControl>,
    pub register: Option<String>,
    pub notify: Vec<String>,
    /// Where `notify` is written, for "handler not found" errors.
    pub notify_loc: Option<Location>,
    pub listen: Vec<String>,
    pub changed_when: Vec<Condition>,
    pub failed_when: Vec<Condition>,
    pub until: Vec<Condition>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub delegate_to: Option<String>,
    pub delegate_facts: Option<Value>,
    pub async_: Option<Value>,
    pub poll: Option<Value>,
    pub role: Option<Arc<Role>>,
}

impl Task {
    /// The name Ansible shows in `TASK [...]` and `--list-tasks`: `role : name`, or the action when unnamed.
    pub fn display_name(&self) -> String {
        let own = self
            .name
            .clone()
            .unwrap_or_else(|| self.action.written.clone());
        match &self.role {
            Some(role) => format!("{} : {own}", role.name),
            None => own,
        }
    }
}

impl Loader {
    /// Reads a list of tasks (a `tasks:` section, a block's parts, or a task file).
    pub(crate) fn task_list(
        &mut self,
        key: &str,
        node: &Node,
        scope: &Scope,
    ) -> Result<Vec<TaskItem>> {
        let mut items = Vec::new();
        for entry in fields::sequence(key, node)? {
            if entry.is_null() {
                continue;
            }
            items.extend(self.task_item(entry, scope)?);
        }
        Ok(items)
    }

    /// One entry of a task list. Imports expand here, so one entry may become a block of many tasks.
    fn task_item(&mut self, node: &Node, scope: &Scope) -> Result<Vec<TaskItem>> {
        let entries = node.as_map().ok_or_else(|| {
            Error::parse(
                node.loc.clone(),
                format!("a task must be a mapping, got {}", node.kind_name()),
            )
            .with_hint("each task is a `- name: ...` entry with a module such as `debug: msg=hi`")
        })?;
        if node.get("block").is_some() {
            return Ok(vec![TaskItem::Block(self.block(node, entries, scope)?)]);
        }
        self.task_or_import(node, entries, scope)
    }

    /// A task, or the blocks an import expands to. Blocks and imports recurse through `task_item`, whose
    /// frame every level of nesting pays for, so what is large (a task, a block) is built in frames of
    /// its own and boxed: in a debug build, building them inline costs tens of kilobytes per level.
    fn task_or_import(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        scope: &Scope,
    ) -> Result<Vec<TaskItem>> {
        let task = self.boxed_task(node, entries, scope)?;
        match task.action.module {
            "import_tasks" => Ok(vec![TaskItem::Block(Box::new(
                self.import_tasks(task, scope)?,
            ))]),
            "import_role" => Ok(self
                .import_role(task, scope)?
                .into_iter()
                .map(|b| TaskItem::Block(Box::new(b)))
                .collect()),
            _ => Ok(vec![TaskItem::Task(task)]),
        }
    }

    fn boxed_task(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        scope: &Scope,
    ) -> Result<Box<Task>> {
        self.task(node, entries, scope).map(Box::new)
    }

    fn block(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        scope: &Scope,
    ) -> Result<Box<Block>> {
        self.nest(&node.loc)?;
        let mut block = Box::new(Block {
            loc: node.loc.clone(),
            name: None,
            origin: BlockOrigin::Written,
            keywords: Keywords::default(),
            when: Vec::new(),
            delegate_to: None,
            ignore_errors: None,
            notify: Vec::new(),
            block: Vec::new(),
            rescue: Vec::new(),
            always: Vec::new(),
            role: scope.role.clone(),
        });
        for (key_node, value) in entries {
            let key = key_node.key_text();
            if block.keywords.read(&key, value)? {
                if key == "name" {
                    block.name = Some(fields::string(&key, value)?);
                }
                continue;
            }
            match key.as_str() {
                "block" => block.block = self.task_list(&key, value, scope)?,
                "rescue" => block.rescue = self.task_list(&key, value, scope)?,
                "always" => block.always = self.task_list(&key, value, scope)?,
                "when" => block.when = fields::conditions(&key, value)?,
                "delegate_to" => block.delegate_to = Some(fields::string(&key, value)?),
                "ignore_errors" => block.ignore_errors = Some(fields::boolish(&key, value)?),
                "notify" => block.notify = fields::string_list(&key, value, false)?,
                "delegate_facts" => {
                    return Err(super::unsupported::refuse(
                        "delegate_facts",
                        key_node.loc.clone(),
                    ))
                }
                _ => {
                    let mut error = Error::parse(
                        key_node.loc.clone(),
                        format!("unknown block keyword '{key}'"),
                    );
                    error = match suggest::hint(&key, keywords::all(keywords::BLOCK)) {
                        Some(hint) => error.with_hint(hint),
                        None if modules::find(&key).is_some() => error.with_hint(
                            "a block holds its tasks under `block:`; move the module into a task inside it",
                        ),
                        None => error.with_hint("a block accepts block, rescue, always and the task keywords"),
                    };
                    return Err(error);
                }
            }
        }
        self.unnest();
        Ok(block)
    }

    fn task(&mut self, node: &Node, entries: &[(Node, Node)], scope: &Scope) -> Result<Task> {
        let mut keywords = Keywords::default();
        let mut name = None;
        let mut action: Option<Action> = None;
        let mut extra_args: Option<(VarMap, &Node)> = None;
        let mut task = Task {
            loc: node.loc.clone(),
            name: None,
            action: Action {
                module: "meta",
                written: String::new(),
                args: VarMap::new(),
                loc: node.loc.clone(),
                args_loc: node.loc.clone(),
                arg_locs: Vec::new(),
            },
            keywords: Keywords::default(),
            when: Vec::new(),
            loop_: None,
            loop_control: None,
            register: None,
            notify: Vec::new(),
            notify_loc: None,
            listen: Vec::new(),
            changed_when: Vec::new(),
            failed_when: Vec::new(),
            until: Vec::new(),
            retries: None,
            delay: None,
            ignore_errors: None,
            delegate_to: None,
            delegate_facts: None,
            async_: None,
            poll: None,
            role: scope.role.clone(),
        };
        for (key_node, value) in entries {
            let key = key_node.key_text();
            if keywords.read(&key, value)? {
                if key == "name" {
                    name = Some(fields::string(&key, value)?);
                }
                continue;
            }
            match key.as_str() {
                "when" => task.when = fields::conditions(&key, value)?,
                "changed_when" => task.changed_when = fields::conditions(&key, value)?,
                "failed_when" => task.failed_when = fields::conditions(&key, value)?,
                "until" => task.until = fields::conditions(&key, value)?,
                "register" => task.register = Some(self.register_name(value)?),
                "notify" => {
                    task.notify = fields::string_list(&key, value, false)?;
                    task.notify_loc = Some(value.loc.clone());
                }
                "listen" => task.listen = fields::string_list(&key, value, false)?,
                "retries" => task.retries = Some(fields::int_or_template(&key, value)?),
                "delay" => task.delay = Some(fields::int_or_template(&key, value)?),
                "async" => {
                    let seconds = fields::int_or_template(&key, value)?;
                    if seconds != serde_json::json!(0) {
                        return Err(super::unsupported::refuse("async", key_node.loc.clone()));
                    }
                    task.async_ = Some(seconds);
                }
                "poll" => task.poll = Some(fields::int_or_template(&key, value)?),
                "ignore_errors" => task.ignore_errors = Some(fields::boolish(&key, value)?),
                "delegate_to" => task.delegate_to = Some(fields::string(&key, value)?),
                "delegate_facts" => task.delegate_facts = Some(fields::boolish(&key, value)?),
                "loop_control" => task.loop_control = Some(loop_control(value)?),
                "args" => {
                    let args = fields::var_map(&key, value)?;
                    extra_args = Some((args, value));
                }
                "loop" => set_loop(&mut task, key_node, value)?,
                k if k.starts_with("with_") => set_loop(&mut task, key_node, value)?,
                "action" | "local_action" => {
                    let parsed = action_keyword(key_node, value)?;
                    if key == "local_action" {
                        task.delegate_to = Some("localhost".into());
                    }
                    set_action(&mut action, parsed, key_node)?;
                }
                _ => {
                    let parsed = module_key(key_node, value, entries)?;
                    set_action(&mut action, parsed, key_node)?;
                }
            }
        }
        let mut action = action.ok_or_else(|| {
            Error::parse(node.loc.clone(), "no module/action detected in task")
                .with_hint("add a module such as `debug: msg=...` or `command: ...` to the task")
        })?;
        if let Some((args, node)) = extra_args {
            for (key_node, _) in node.as_map().unwrap_or_default() {
                let key = key_node.key_text();
                if !action.args.contains_key(&key) {
                    action.arg_locs.push((key, key_node.loc.clone()));
                }
            }
            for (k, v) in args {
                action.args.entry(k).or_insert(v);
            }
        }
        super::validate::module_arguments(&action)?;
        task.name = name;
        task.keywords = keywords;
        task.action = action;
        Ok(task)
    }

    fn register_name(&self, value: &Node) -> Result<String> {
        let name = fields::string("register", value)?;
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::parse(
                value.loc.clone(),
                format!("'{name}' is not a valid variable name for 'register'"),
            )
            .with_hint(
                "variable names use letters, digits and underscores and do not start with a digit",
            ));
        }
        Ok(name)
    }
}

fn set_loop(task: &mut Task, key_node: &Node, value: &Node) -> Result<()> {
    let keyword = key_node.key_text();
    if let Some(existing) = &task.loop_ {
        return Err(Error::parse(
            key_node.loc.clone(),
            format!(
                "the task contains both '{}' and '{keyword}'",
                existing.keyword
            ),
        )
        .with_hint("use only one loop keyword per task: keep `loop:` and drop the other"));
    }
    task.loop_ = Some(TaskLoop {
        keyword,
        value: value.to_json(),
        loc: value.loc.clone(),
    });
    Ok(())
}

fn loop_control(node: &Node) -> Result<LoopControl> {
    let mut control = LoopControl {
        loop_var: "item".into(),
        index_var: None,
        label: None,
        pause: None,
        extended: None,
        extended_allitems: None,
    };
    for (key_node, value) in fields::mapping("'loop_control'", node)? {
        let key = key_node.key_text();
        match key.as_str() {
            "loop_var" => control.loop_var = fields::string(&key, value)?,
            "index_var" => control.index_var = Some(fields::string(&key, value)?),
            "label" => control.label = Some(fields::string(&key, value)?),
            "pause" => control.pause = Some(value.to_json()),
            "extended" => control.extended = Some(fields::boolish(&key, value)?),
            "extended_allitems" => control.extended_allitems = Some(fields::boolish(&key, value)?),
            _ => {
                let error = Error::parse(
                    key_node.loc.clone(),
                    format!("unknown loop_control keyword '{key}'"),
                );
                return Err(
                    match suggest::hint(&key, keywords::LOOP_CONTROL.iter().copied()) {
                        Some(hint) => error.with_hint(hint),
                        None => error.with_hint(format!(
                            "loop_control accepts {}",
                            keywords::LOOP_CONTROL.join(", ")
                        )),
                    },
                );
            }
        }
    }
    Ok(control)
}

fn set_action(slot: &mut Option<Action>, parsed: Action, key_node: &Node) -> Result<()> {
    if let Some(existing) = slot {
        return Err(Error::parse(
            key_node.loc.clone(),
            format!(
                "conflicting action statements: {}, {}",
                existing.written, parsed.written
            ),
        )
        .with_hint("a task runs one module: split it into two tasks"));
    }
    *slot = Some(parsed);
    Ok(())
}

/// A key that is not a task keyword: a module, or a typo of a keyword or a module.
fn module_key(key_node: &Node, value: &Node, entries: &[(Node, Node)]) -> Result<Action> {
    let key = key_node.key_text();
    let Some(spec) = modules::find(&key) else {
        return Err(unknown_task_key(key_node, entries));
    };
    Ok(Action {
        module: spec.name,
        written: key,
        args: module_args(spec, value)?,
        loc: key_node.loc.clone(),
        args_loc: value.loc.clone(),
        arg_locs: key_locations(value, &[]),
    })
}

/// Explains an unknown key. A key that looks like a misspelt keyword is reported as such when the task
/// already has a module; otherwise it is reported as an unknown module.
fn unknown_task_key(key_node: &Node, entries: &[(Node, Node)]) -> Error {
    let key = key_node.key_text();
    let task_keywords: Vec<&str> = keywords::all(keywords::TASK)
        .chain(keywords::WITH_LOOPS.iter().copied())
        .collect();
    let keyword_hint = suggest::hint(&key, task_keywords.iter().copied());
    let module_names: Vec<String> = modules::names().collect();
    let module_hint = suggest::hint(&key, module_names.iter().map(String::as_str));
    let has_module = entries.iter().any(|(k, _)| {
        let k = k.key_text();
        modules::find(&k).is_some() || k == "action" || k == "local_action"
    });
    let keyword_error = |hint: String| {
        Error::parse(
            key_node.loc.clone(),
            format!("unknown task keyword '{key}'"),
        )
        .with_hint(hint)
    };
    match (keyword_hint, module_hint) {
        (Some(hint), _) if has_module => keyword_error(hint),
        (_, Some(hint)) => {
            Error::parse(key_node.loc.clone(), format!("unknown module '{key}'")).with_hint(hint)
        }
        (Some(hint), None) => keyword_error(hint),
        (None, None) if has_module => keyword_error(format!(
            "'{key}' is neither a task keyword nor a module; task keywords are {}",
            keywords::TASK.join(", ")
        )),
        (None, None) => Error::parse(key_node.loc.clone(), format!("unknown module '{key}'"))
            .with_hint("run `ply modules` to list the modules ply provides"),
    }
}

/// `action: copy src=a dest=b` or `action: {module: copy, src: a}`.
fn action_keyword(key_node: &Node, value: &Node) -> Result<Action> {
    let (written, args_node_args) = match &value.value {
        NodeValue::String(text) => {
            let (module, rest) = text
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((text.trim(), ""));
            (module.to_string(), Err(rest.to_string()))
        }
        NodeValue::Map(_) => {
            let module = value.get("module").ok_or_else(|| {
                Error::parse(
                    value.loc.clone(),
                    "'action' needs a 'module' key when written as a mapping",
                )
            })?;
            let mut args = fields::var_map("action", value)?;
            args.remove("module");
            (fields::string("module", module)?, Ok(args))
        }
        _ => {
            return Err(Error::parse(
                value.loc.clone(),
                format!("'{}' must be a string or a mapping", key_node.key_text()),
            ))
        }
    };
    let spec = modules::find(&written).ok_or_else(|| {
        let names: Vec<String> = modules::names().collect();
        let error = Error::parse(value.loc.clone(), format!("unknown module '{written}'"));
        match suggest::hint(&written, names.iter().map(String::as_str)) {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    })?;
    let args = match args_node_args {
        Ok(args) => args,
        Err(text) => parse_kv(&text, spec.free_form)
            .map_err(|e| Error::parse(value.loc.clone(), e.to_string()))?,
    };
    Ok(Action {
        module: spec.name,
        written,
        args,
        loc: key_node.loc.clone(),
        args_loc: value.loc.clone(),
        arg_locs: key_locations(value, &["module"]),
    })
}

/// The keys of a mapping of arguments and where they are; nothing for other forms.
fn key_locations(node: &Node, skip: &[&str]) -> Vec<(String, Location)> {
    node.as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| (k.key_text(), k.loc.clone()))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect()
}

/// A module's arguments: a mapping, a `k=v` string, or nothing.
fn module_args(spec: &modules::ModuleSpec, value: &Node) -> Result<VarMap> {
    match &value.value {
        NodeValue::Null => Ok(VarMap::new()),
        NodeValue::Map(_) => fields::var_map(spec.name, value),
        NodeValue::String(text) => parse_kv(text, spec.free_form).map_err(|e| {
            let mut loc = value.loc.clone();
            if let KvError::UnbalancedQuotes { at } = e {
                loc.column += at;
            }
            Error::parse(loc, format!("{e} for module '{}'", spec.name))
                .with_hint("write the arguments as an indented mapping (`key: value` lines) to avoid quoting problems")
        }),
        NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) if spec.free_form => {
            let mut args = VarMap::new();
            args.insert("_raw_params".into(), Value::String(crate::yaml::scalar_text(&value.to_json())));
            Ok(args)
        }
        _ => Err(Error::parse(
            value.loc.clone(),
            format!("the arguments of module '{}' must be a mapping or a key=value string, got {}", spec.name, value.kind_name()),
        )),
    }
}
