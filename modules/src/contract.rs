//! What the executor and a module exchange. The executor templates the arguments, builds a
//! [`ModuleContext`] for one host, and gets a [`ModuleResult`] back.

use crate::connection::{Become, Connection, ConnectionError};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub type VarMap = Map<String, Value>;

/// Expressions evaluated with the task's variables, for modules whose arguments are expressions
/// (`debug: var=`, `assert: that=`). The engine implements it with its templar.
pub trait Evaluator: Send + Sync {
    fn eval_expr(&self, expr: &str) -> Result<Value, String>;
    fn eval_condition(&self, expr: &str) -> Result<bool, String>;

    /// Reads a variables file on the controller (`include_vars`): YAML or JSON, `Null` for an empty file.
    ///
    /// The engine overrides this with its YAML 1.1 loader so that `yes`/`no`/`on`/`off` are booleans and
    /// `0644` is octal, as Ansible reads vars files; `modules` cannot use that loader itself because
    /// `engine` depends on `modules`. The default reads JSON, and YAML with YAML 1.2 rules.
    fn load_vars_file(&self, path: &Path) -> Result<Value, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_yaml::from_str::<Value>(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Renders a template file on the controller with the task's variables (Ansible's template action
    /// renders on the controller, then copies): `#jinja2:` headers, trim_blocks, trailing newlines kept,
    /// and the template variables (`template_path`, `template_destpath` from `dest`, `ansible_managed`,
    /// ...). The engine implements it; the default has no template engine.
    fn render_template(&self, source: &Path, dest: &str) -> Result<String, String> {
        let _ = dest;
        Err(format!("no template engine to render {}", source.display()))
    }
}

/// Everything a module may use for one host and task.
pub struct ModuleContext<'a> {
    /// The host, already wrapped in the check-mode overlay when the task runs in check mode.
    pub host: &'a dyn Connection,
    /// Privilege escalation for every operation of this task, when `become` is on.
    pub become_: Option<Become>,
    pub check_mode: bool,
    pub diff_mode: bool,
    /// `-v` count, for `debug: verbosity=`.
    pub verbosity: u8,
    /// The task's `environment:`, for commands the module runs.
    pub environment: Vec<(String, String)>,
    pub evaluator: &'a dyn Evaluator,
    /// Controller-side folders to find files named by relative paths (role `files/`/`vars/`, playbook dir).
    pub search_path: &'a [PathBuf],
}

/// A before/after pair, rendered as a unified diff by the output.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FileDiff {
    pub before_header: String,
    pub after_header: String,
    pub before: String,
    pub after: String,
}

/// A control action of `meta:` for the executor to carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaAction {
    FlushHandlers,
    EndPlay,
    EndHost,
    EndBatch,
    ClearFacts,
    ClearHostErrors,
    RefreshInventory,
    ResetConnection,
    Noop,
}

/// Which variable level the facts of a result go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FactLevel {
    /// `set_fact` and other `ansible_facts`: the host's facts (set_fact precedence).
    #[default]
    SetFact,
    /// `include_vars`: include_vars precedence.
    IncludeVars,
}

/// The outcome of a module on one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleResult {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    /// The host could not be reached (a `ConnectionError::Unreachable` during the module): UNREACHABLE.
    pub unreachable: bool,
    /// `msg` when it is a string. A `msg` of another type (`debug: msg=[1, 2]`) is in `values["msg"]`.
    pub msg: Option<String>,
    /// Return values under Ansible's names (`rc`, `stdout`, `stdout_lines`, `cmd`, `delta`, ...).
    pub values: VarMap,
    /// Variables the result defines for the host (`set_fact`, `include_vars`).
    pub facts: VarMap,
    pub fact_level: FactLevel,
    pub diff: Vec<FileDiff>,
    pub warnings: Vec<String>,
    pub meta: Option<MetaAction>,
    /// debug and assert show their result even without `-v` (Ansible's `_ansible_verbose_always`).
    pub verbose_always: bool,
}

impl ModuleResult {
    pub fn ok() -> Self {
        ModuleResult::default()
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleResult {
            failed: true,
            msg: Some(msg.into()),
            ..ModuleResult::default()
        }
    }

    /// The result of a module whose connection to the host failed: unreachable for
    /// `ConnectionError::Unreachable`, failed otherwise.
    pub fn from_connection_error(error: &ConnectionError) -> Self {
        ModuleResult {
            unreachable: error.is_unreachable(),
            failed: !error.is_unreachable(),
            msg: Some(error.to_string()),
            ..ModuleResult::default()
        }
    }

    pub fn skipped(msg: impl Into<String>) -> Self {
        ModuleResult {
            skipped: true,
            msg: Some(msg.into()),
            ..ModuleResult::default()
        }
    }
}
