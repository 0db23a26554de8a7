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
}
