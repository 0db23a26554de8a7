//! Data-driven template tests: each `template-inputs/*.txt` holds a YAML/JSON variables context,
//! a `---` line and a template. The file name's prefix picks the API under test:
//! `native-*` runs every template line through `template_value`, `cond-*` through
//! `eval_condition`, `expr-*` through `eval_expr`, `syntax-*` through `check_syntax`; everything
//! else is rendered with `render_str`. Errors are snapshotted as their message.

use engine::template::{Templar, TemplarOptions, VarMap};
use std::path::Path;

fn templar() -> Templar {
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/template-inputs");
    Templar::new(TemplarOptions {
        search_path: vec![inputs],
    })
}

fn show_error(err: &engine::Error) -> String {
    let shown = match err.hint() {
        Some(hint) => format!("ERROR: {err}\nHINT: {hint}"),
        None => format!("ERROR: {err}"),
    };
    // Snapshots must not depend on where the checkout lives.
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/template-inputs");
    shown.replace(&inputs.display().to_string(), "[inputs]")
}

fn per_line(template: &str, mut run: impl FnMut(&str) -> String) -> String {
    template
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("##"))
        .map(|line| format!("{line}\n  => {}\n", run(line)))
        .collect()
}

#[test]
fn render() {
    let templar = templar();
    insta::glob!("template-inputs/*.txt", |path| {
        let contents = std::fs::read_to_string(path).unwrap();
        let (context, template) = contents
            .split_once("\n---\n")
            .expect("context, '---' line, template");
        let vars: VarMap = serde_yaml::from_str(context).expect("context is a YAML/JSON mapping");
        let name = path.file_name().unwrap().to_string_lossy();
        let output = if name.starts_with("native-") {
            per_line(template, |line| {
                match templar.template_value(&serde_json::Value::String(line.to_owned()), &vars) {
                    Ok(v) => v.to_string(),
                    Err(e) => show_error(&e),
                }
            })
        } else if name.starts_with("cond-") {
            per_line(template, |line| match templar.eval_condition(line, &vars) {
                Ok(v) => v.to_string(),
                Err(e) => show_error(&e),
            })
        } else if name.starts_with("expr-") {
            per_line(template, |line| match templar.eval_expr(line, &vars) {
                Ok(v) => v.to_string(),
                Err(e) => show_error(&e),
            })
        } else if name.starts_with("syntax-") {
            per_line(template, |line| match templar.check_syntax(line) {
                Ok(()) => "ok".to_owned(),
                Err(e) => show_error(&e),
            })
        } else {
            match templar.render_str(template, &vars) {
                // Debug formatting keeps trailing newlines and whitespace visible.
                Ok(s) => format!("{s:?}\n---\n{s}"),
                Err(e) => show_error(&e),
            }
        };
        insta::assert_snapshot!(output);
    });
}
