//! Test support: a real local connection, a minijinja evaluator, and a context builder.

pub mod local;

use modules::{Evaluator, ModuleContext, ModuleResult, VarMap};
use serde_json::Value;
use std::path::PathBuf;

/// Evaluates expressions with minijinja over a fixed set of variables, undefined names being errors (as
/// the engine's templar reports them).
pub struct Vars(pub VarMap);

impl Vars {
    fn env() -> minijinja::Environment<'static> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env
    }
}

impl Evaluator for Vars {
    fn eval_expr(&self, expr: &str) -> Result<Value, String> {
        let env = Self::env();
        let compiled = env.compile_expression(expr).map_err(|e| e.to_string())?;
        let value = compiled
            .eval(minijinja::Value::from(minijinja::value::Serde(&self.0)))
            .map_err(|e| e.to_string())?;
        // A bare undefined name evaluates to Undefined without an error even in strict mode.
        if value.is_undefined() {
            return Err(format!("'{expr}' is undefined"));
        }
        serde_json::to_value(&value).map_err(|e| e.to_string())
    }

    fn eval_condition(&self, expr: &str) -> Result<bool, String> {
        let env = Self::env();
        let compiled = env.compile_expression(expr).map_err(|e| e.to_string())?;
        let value = compiled
            .eval(minijinja::Value::from(minijinja::value::Serde(&self.0)))
            .map_err(|e| e.to_string())?;
        if value.is_undefined() {
            return Err(format!("'{expr}' is undefined"));
        }
        Ok(value.is_true())
    }
}

pub struct Harness {
    pub host: local::LocalConnection,
    pub vars: Vars,
    pub check_mode: bool,
    pub verbosity: u8,
    pub environment: Vec<(String, String)>,
    pub search_path: Vec<PathBuf>,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            host: local::LocalConnection,
            vars: Vars(VarMap::new()),
            check_mode: false,
            verbosity: 0,
            environment: Vec::new(),
            search_path: Vec::new(),
        }
    }

    pub fn ctx(&self) -> ModuleContext<'_> {
        ModuleContext {
            host: &self.host,
            become_: None,
            check_mode: self.check_mode,
            diff_mode: false,
            verbosity: self.verbosity,
            environment: self.environment.clone(),
            evaluator: &self.vars,
            search_path: &self.search_path,
        }
    }

    pub async fn run(&self, module: &str, args: Value) -> ModuleResult {
        let Value::Object(args) = args else {
            panic!("arguments must be a mapping")
        };
        modules::execute(module, &args, &self.ctx()).await
    }
}
