//! Templating on minijinja with Ansible's semantics.
//!
//! One [`Templar`] per run owns one minijinja environment with every Ansible filter, test and lookup
//! registered. Variables are handed over raw (they may themselves contain `{{ }}`) and are templated
//! lazily when a template touches them, like Ansible's `AnsibleJ2Vars`.

mod analysis;
mod convert;
mod env;
mod errors;
mod filters;
mod header;
mod lazy;
mod lookups;
mod native;
mod pyregex;
mod tests;

use crate::error::{Error, Result};
use minijinja::{Environment, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use analysis::{FreeName, TEMPLATE_MODULE_VARS};
pub(crate) use native::contains_template;
pub use native::is_single_expression;

/// Variables as the engine stores them: raw, so strings may still contain `{{ }}`.
pub use crate::vars::VarMap;

/// The value `omit` evaluates to. Ansible uses a similar placeholder string and drops module
/// arguments equal to it; a string (not an object) survives `default(omit)`, JSON round trips and
/// native evaluation unchanged.
const OMIT_TOKEN: &str = "__omit_place_holder__ply__";

pub fn omit_token() -> &'static str {
    OMIT_TOKEN
}

/// Whether `s` needs templating at all: it contains `{{`, `{%` or `{#`.
pub fn is_templated(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'))
}

#[derive(Clone, Debug, Default)]
pub struct TemplarOptions {
    /// Directories for `lookup('file'|'template')` and template includes. Each directory is tried
    /// as is, then its `files/` (file lookups) or `templates/` (templates) subdirectory.
    pub search_path: Vec<PathBuf>,
}

/// Shared by the templar and the lazily templated variable objects.
pub(crate) struct Core {
    /// Chainable undefined; renders templates and evaluates guarded expressions.
    pub(crate) env: Environment<'static>,
    /// Strict undefined; expressions are evaluated here first (see `native::eval_expression`).
    pub(crate) strict_env: Environment<'static>,
    pub(crate) options: Arc<TemplarOptions>,
    /// Environments for `#jinja2:` header overrides, keyed by their syntax settings. Almost every
    /// template uses the main environment; the few that override get one cached environment each.
    header_envs: Mutex<HashMap<header::Overrides, Arc<Environment<'static>>>>,
}

pub struct Templar {
    core: Arc<Core>,
    /// Read-only variables every templating call sees after its own (see [`Templar::with_shared`]).
    shared: Option<Arc<VarMap>>,
}

impl Templar {
    pub fn new(options: TemplarOptions) -> Templar {
        let options = Arc::new(options);
        let env = env::build(&options, &header::Overrides::default(), false)
            .expect("the default syntax configuration is valid");
        let strict_env = env::build(&options, &header::Overrides::default(), true)
            .expect("the default syntax configuration is valid");
        Templar {
            core: Arc::new(Core {
                env,
                strict_env,
                options,
                header_envs: Mutex::new(HashMap::new()),
            }),
            shared: None,
        }
    }

    /// The same templar with `shared` variables (the executor's `hostvars`), read after each call's
    /// own variables. They are built once per task step and shared by reference, where copying them
    /// into every host's variables would cost O(hosts²) per step.
    pub fn with_shared(&self, shared: Arc<VarMap>) -> Templar {
        Templar {
            core: self.core.clone(),
            shared: Some(shared),
        }
    }

    /// Renders template text, as the template module and `lookup('template')` do.
    pub fn render_str(&self, source: &str, vars: &VarMap) -> Result<String> {
        let (overrides, body) = header::parse(source)?;
        let scope = lazy::Scope::new(&self.core, vars, self.shared.as_ref());
        let result = if overrides.is_default() {
            self.core.env.render_str(body, scope.context())
        } else {
            let env = self.header_env(&overrides)?;
            env.render_str(body, scope.context())
        };
        let result = result.map_err(|err| errors::convert(err, body, vars));
        scope.finish();
        let mut out = result?;
        if let Some(newline) = overrides.newline_sequence.as_deref() {
            if newline != "\n" {
                out = out.replace('\n', newline);
            }
        }
        Ok(out)
    }

    /// Templates every string inside `value`. A string that is one `{{ expr }}` keeps the
    /// expression's native type.
    pub fn template_value(
        &self,
        value: &serde_json::Value,
        vars: &VarMap,
    ) -> Result<serde_json::Value> {
        if !native::contains_template(value) {
            return Ok(value.clone());
        }
        let scope = lazy::Scope::new(&self.core, vars, self.shared.as_ref());
        let result = self.template_value_in(value, &scope, vars);
        scope.finish();
        result
    }

    fn template_value_in(
        &self,
        value: &serde_json::Value,
        scope: &lazy::Scope,
        vars: &VarMap,
    ) -> Result<serde_json::Value> {
        Ok(match value {
            serde_json::Value::String(s) if is_templated(s) => {
                let evaluated = native::eval_string(&self.core, s, scope.context())
                    .map_err(|e| errors::convert(e, s, vars))?;
                if evaluated.is_undefined() {
                    return Err(errors::undefined_result(s, vars));
                }
                convert::to_json(&evaluated).map_err(|e| errors::convert(e, s, vars))?
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|item| self.template_value_in(item, scope, vars))
                    .collect::<Result<_>>()?,
            ),
            serde_json::Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (key, item) in map {
                    let key = if is_templated(key) {
                        match self.template_value_in(
                            &serde_json::Value::String(key.clone()),
                            scope,
                            vars,
                        )? {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        }
                    } else {
                        key.clone()
                    };
                    out.insert(key, self.template_value_in(item, scope, vars)?);
                }
                serde_json::Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates a bare conditional (`when`, `that`, `changed_when`, `failed_when`).
    pub fn eval_condition(&self, expr: &str, vars: &VarMap) -> Result<bool> {
        let bare = native::strip_expression_braces(expr).unwrap_or(expr).trim();
        if bare.is_empty() {
            return Ok(true);
        }
        self.eval_bare(bare, vars, |value| Ok(value.is_true()))
    }

    /// Evaluates a bare expression and returns its native value.
    pub fn eval_expr(&self, expr: &str, vars: &VarMap) -> Result<serde_json::Value> {
        let bare = native::strip_expression_braces(expr).unwrap_or(expr).trim();
        self.eval_bare(bare, vars, |value| {
            convert::to_json(value).map_err(|e| errors::convert(e, bare, vars))
        })
    }

    /// Evaluates `expr` and hands the value to `finish` while the variables are still alive
    /// (lazily templated parts of the result need them).
    fn eval_bare<T>(
        &self,
        expr: &str,
        vars: &VarMap,
        finish: impl FnOnce(&Value) -> Result<T>,
    ) -> Result<T> {
        let scope = lazy::Scope::new(&self.core, vars, self.shared.as_ref());
        let result = native::eval_expression(&self.core, expr, scope.context())
            .map_err(|e| errors::convert(e, expr, vars))
            .and_then(|value| {
                if value.is_undefined() {
                    return Err(errors::undefined_result(expr, vars));
                }
                finish(&value)
            });
        scope.finish();
        result
    }

    /// Compiles `source` without rendering it, for `--syntax-check`.
    pub fn check_syntax(&self, source: &str) -> Result<()> {
        let (overrides, body) = header::parse(source)?;
        let compiled = if overrides.is_default() {
            self.core.env.template_from_str(body).map(|_| ())
        } else {
            let env = self.header_env(&overrides)?;
            env.template_from_str(body).map(|_| ())
        };
        compiled.map_err(|e| errors::convert(e, body, &VarMap::new()))
    }

    fn header_env(&self, overrides: &header::Overrides) -> Result<Arc<Environment<'static>>> {
        let mut envs = self
            .core
            .header_envs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(env) = envs.get(overrides) {
            return Ok(env.clone());
        }
        let env =
            env::build(&self.core.options, overrides, false).map_err(|e| Error::Template {
                location: None,
                message: format!("invalid #jinja2: header: {e}"),
                hint: None,
            })?;
        let env = Arc::new(env);
        envs.insert(overrides.clone(), env.clone());
        Ok(env)
    }
}
