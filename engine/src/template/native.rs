//! Native evaluation: a string that is exactly one `{{ expr }}` yields the expression's own value
//! (list, int, dict ...) instead of its rendering, as ansible-core does since native mode became
//! the only mode.

use super::is_templated;
use minijinja::{Environment, Error, Value};

/// The inner expression if `s` is one `{{ ... }}` block and nothing else but whitespace.
pub(crate) fn strip_expression_braces(s: &str) -> Option<&str> {
    let trimmed = s.trim();
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
pub(crate) fn eval_string(env: &Environment<'static>, s: &str, ctx: Value) -> Result<Value, Error> {
    if let Some(expr) = strip_expression_braces(s) {
        // Dict literals like "{{ {'a': 1} }}" strip fine; anything the expression parser rejects
        // (e.g. a trailing filter block oddity) falls back to rendering.
        if let Ok(compiled) = env.compile_expression_owned(expr.to_owned()) {
            return compiled.eval(ctx);
        }
    }
    env.render_str(s, ctx).map(Value::from)
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
