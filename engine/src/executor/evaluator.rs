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

    fn render_template(&self, source: &std::path::Path, dest: &str) -> Result<String, String> {
        let bytes = std::fs::read(source)
            .map_err(|e| format!("could not read template {}: {e}", source.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| "Template source files must be utf-8 encoded".to_string())?;
        let mut vars = self.vars.clone();
        for (name, value) in template_vars(source, dest) {
            vars.insert(name.into(), value);
        }
        // The template's own file, so that an error points at the .j2 (its message gives the line).
        self.templar
            .render_str(&text, &vars)
            .map_err(|e| format!("{}: {e}", source.display()))
    }
}

/// The variables Ansible's template action adds (lib/ansible/template/__init__.py
/// `generate_ansible_template_vars`).
fn template_vars(source: &std::path::Path, dest: &str) -> Vec<(&'static str, Value)> {
    let full = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let metadata = std::fs::metadata(source).ok();
    let mtime = metadata
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let uid = {
        use std::os::unix::fs::MetadataExt;
        metadata.map_or(0, |m| m.uid())
    };
    vec![
        ("template_host", Value::String(host)),
        ("template_path", Value::String(source.display().to_string())),
        (
            "template_fullpath",
            Value::String(full.display().to_string()),
        ),
        ("template_mtime", serde_json::json!(mtime)),
        ("template_uid", serde_json::json!(uid)),
        ("template_destpath", Value::String(dest.to_string())),
        ("ansible_managed", Value::String("Ansible managed".into())),
    ]
}
