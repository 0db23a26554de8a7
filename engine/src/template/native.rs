//! Native evaluation: a string that is exactly one `{{ expr }}` yields the expression's own value
//! (list, int, dict ...) instead of its rendering, as ansible-core does since native mode became
//! the only mode.

use super::lazy::LazyVars;
use super::{errors, is_templated, Core};
use minijinja::{Error, ErrorKind, Value};

/// The inner expression if `s` is one `{{ ... }}` block and nothing else but whitespace.
pub(crate) fn strip_expression_braces(s: &str) -> Option<&str> {
    // Spaces around one expression still make it a single expression, but a newline is text: Ansible
    // keeps `"{{ x }}\n"` as the string "value\n" (a YAML block scalar's final newline survives).
    let trimmed = s.trim_matches([' ', '\t']);
    let inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    // "{{ a }} and {{ b }}" also starts and ends with braces; so does a dict literal's "}}".
    if inner.contains("{{")
        || inner.contains("{%")
        || inner.contains("{#")
        || has_unquoted_close(inner)
    {
        return None;
    }
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner)
}

/// Whether `}}` occurs outside string literals (so the braces we stripped were not one block).
fn has_unquoted_close(inner: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut prev = '\0';
    let mut escaped = false;
    for c in inner.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '}' && prev == '}' {
                    return true;
                }
            }
        }
        prev = c;
    }
    false
}

/// Whether `s` is one `{{ expr }}` that evaluates natively.
pub fn is_single_expression(s: &str) -> bool {
    strip_expression_braces(s).is_some()
}

/// Templates one string: natively for a single expression, otherwise by rendering it.
pub(crate) fn eval_string(core: &Core, s: &str, ctx: Value) -> Result<Value, Error> {
    if let Some(expr) = strip_expression_braces(s) {
        // Anything the expression parser rejects falls back to rendering, which reports the
        // syntax error against the whole string.
        if core
            .strict_env
            .compile_expression_owned(expr.to_owned())
            .is_ok()
        {
            return eval_expression(core, expr, ctx);
        }
    }
    core.env
        .render_str(s, ctx)
        .map(|text| literal_or_text(&text))
}

/// ansible-core's `ansible_eval_concat`: a template of several parts renders as text, and text that
/// starts like a list or a dict, or is `True`/`False`, becomes that value when it parses as a Python
/// literal (`{% for %}...{{ rows }}` builds a list this way); anything else stays text.
fn literal_or_text(text: &str) -> Value {
    if text.starts_with(['[', '{']) || text == "True" || text == "False" {
        if let Some(value) = crate::pyliteral::literal_eval(text) {
            return super::convert::from_json(&value);
        }
    }
    Value::from(text)
}

/// Evaluates a bare expression with Ansible's strict undefined: first in the strict
/// environment, which fails on any use of an undefined value; if that trips over an undefined,
/// again chainably, where `x.y is defined` and `x.y | default(z)` work even when `x` is missing,
/// and the result is accepted only if every missing variable is used under such a guard.
pub(crate) fn eval_expression(core: &Core, expr: &str, ctx: Value) -> Result<Value, Error> {
    let strict = core.strict_env.compile_expression_owned(expr.to_owned())?;
    match strict.eval(ctx.clone()) {
        Err(err) if err.kind() == ErrorKind::UndefinedError => {
            let chainable = core.env.compile_expression_owned(expr.to_owned())?;
            let is_defined = |name: &str| {
                ctx.downcast_object_ref::<LazyVars>()
                    .is_some_and(|vars| vars.has(name))
                    || core.env.globals().any(|(global, _)| global == name)
            };
            if let Some(name) = errors::unguarded_missing(&chainable, expr, &is_defined) {
                return Err(Error::new(
                    ErrorKind::UndefinedError,
                    format!("'{name}' is undefined"),
                ));
            }
            chainable.eval(ctx)
        }
        other => other,
    }
}

/// Whether any string inside `value` needs templating.
pub(crate) fn contains_template(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_templated(s),
        serde_json::Value::Array(items) => items.iter().any(contains_template),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| is_templated(k) || contains_template(v)),
        _ => false,
    }
}
