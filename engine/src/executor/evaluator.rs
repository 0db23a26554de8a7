//! Lets modules evaluate expressions (`debug: var=`, `assert: that=`) with the task's variables.

use crate::template::Templar;
use crate::vars::VarMap;
use serde_json::Value;

pub struct TaskEvaluator<'a> {
    pub templar: &'a Templar,
    pub vars: &'a VarMap,
}

impl modules::Evaluator for TaskEvaluator<'_> {
    fn eval_expr(&self, expr: &str) -> Result<Value, String> {
        self.templar
            .eval_expr(expr, self.vars)
            .map_err(|e| e.to_string())
    }

    fn eval_condition(&self, expr: &str) -> Result<bool, String> {
        self.templar
            .eval_condition(expr, self.vars)
            .map_err(|e| e.to_string())
    }

    /// Vars files are YAML 1.1 as Ansible reads them (`yes` is true, `0644` is octal).
    fn load_vars_file(&self, path: &std::path::Path) -> Result<Value, String> {
        let docs = crate::yaml::load_file(path)
            .map_err(|e| crate::diagnostic::render(&e).trim_end().to_string())?;
        Ok(docs.first().map_or(Value::Null, crate::yaml::Node::to_json))
    }
}
