//! Turning minijinja errors into messages that name the culprit, as Ansible's do
//! (`'db_port' is undefined`).
//!
//! minijinja's undefined value carries no name. In debug mode it remembers where it was created,
//! which gives "`db_port` is undefined" in the error detail; where that is missing (the undefined
//! came out of another variable's template) the referenced variables are walked instead.

use super::lazy::VARS_KEY;
use super::{is_templated, VarMap};
use crate::error::Error;
use minijinja::{Environment, ErrorKind, Expression};
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;

thread_local! {
    /// Set by `mandatory` just before it fails, so the final message can read like Ansible's
    /// "Mandatory variable 'x' not defined." once the variable's name is known.
    static MANDATORY_PENDING: RefCell<bool> = const { RefCell::new(false) };
}

pub(crate) fn mark_mandatory_failure() {
    MANDATORY_PENDING.with(|m| *m.borrow_mut() = true);
}

fn take_mandatory_failure() -> bool {
    MANDATORY_PENDING.with(|m| std::mem::take(&mut *m.borrow_mut()))
}

/// Converts a minijinja error raised while templating `source` with `vars`.
pub(crate) fn convert(err: minijinja::Error, source: &str, vars: &VarMap) -> Error {
    let message = describe_with(&err, source, Some(vars));
    let hint = hint_for(&err);
    Error::Template {
        location: None,
        message,
        hint,
    }
}

/// The message for `err`, without access to the variables.
pub(crate) fn describe(err: &minijinja::Error, source: &str) -> String {
    describe_with(err, source, None)
}

fn describe_with(err: &minijinja::Error, source: &str, vars: Option<&VarMap>) -> String {
    let mandatory = take_mandatory_failure();
    let detail = err.detail().unwrap_or_default();
    // Messages we produced ourselves in nested templating are already final.
    if detail.starts_with('\'')
        && (detail.contains("' is undefined") || detail.contains("' has no attribute '"))
        || detail.starts_with("recursive loop detected")
    {
        return detail.to_owned();
    }
    let undefined = undefined_name(detail)
        .map(|expr| undefined_message(&expr))
        .or_else(|| {
            (err.kind() == ErrorKind::UndefinedError)
                .then(|| vars.and_then(|vars| first_missing(source, vars)))
                .flatten()
        });
    if mandatory {
        let name = undefined_name(detail)
            .or_else(|| span_expression(err, source))
            .unwrap_or_default();
        return format!("Mandatory variable '{name}' not defined.");
    }
    if let Some(message) = undefined {
        return message;
    }
    if err.kind() == ErrorKind::UndefinedError {
        return match span_expression(err, source) {
            Some(expr) => format!("'{expr}' is undefined"),
            None => "an undefined variable was used".to_owned(),
        };
    }
    let mut message = match (err.kind(), err.detail()) {
        (ErrorKind::SyntaxError, Some(detail)) => format!("template syntax error: {detail}"),
        (ErrorKind::UnknownFilter, Some(_)) => {
            format!("no filter named '{}'", unknown_name(detail))
        }
        (ErrorKind::UnknownTest, Some(_)) => format!("no test named '{}'", unknown_name(detail)),
        (ErrorKind::UnknownFunction, Some(d)) if d.starts_with("lookup plugin") => d.to_owned(),
        (ErrorKind::UnknownFunction, Some(_)) => format!("'{}' is undefined", unknown_name(detail)),
        (ErrorKind::InvalidOperation | ErrorKind::UndefinedError, Some(detail)) => {
            detail.to_owned()
        }
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    if let Some(line) = err.line() {
        if source.contains('\n') {
            message.push_str(&format!(" (line {line})"));
        }
    }
    // Like Ansible, show the offending string with syntax errors.
    if err.kind() == ErrorKind::SyntaxError && !source.contains('\n') && source.len() <= 200 {
        message.push_str(&format!(". String: {source}"));
    }
    message
}

/// The name in minijinja's "filter x is unknown" style details.
fn unknown_name(detail: &str) -> &str {
    let words: Vec<&str> = detail.split_whitespace().collect();
    match words.iter().position(|w| *w == "is") {
        Some(i) if i > 0 => words[i - 1],
        _ => detail,
    }
}

/// The expression around an error's span, without its `{{ }}`.
fn span_expression(err: &minijinja::Error, source: &str) -> Option<String> {
    let text = source.get(err.range()?)?.trim();
    let text = text
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(text);
    let text = text.trim_matches(['-', '+']).trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The expression minijinja's debug info names in "`expr` is undefined".
fn undefined_name(detail: &str) -> Option<String> {
    let end = detail.find("` is undefined")?;
    let start = detail[..end].rfind('`')?;
    Some(detail[start + 1..end].to_owned())
}

/// `x['key']` reads like `x.key` in messages.
fn subscript_as_attribute(expr: &str) -> String {
    if let Some(body) = expr.strip_suffix("']").or_else(|| expr.strip_suffix("\"]")) {
        if let Some(open) = body.rfind("['").or_else(|| body.rfind("[\"")) {
            return format!("{}.{}", &body[..open], &body[open + 2..]);
        }
    }
    expr.to_owned()
}

fn undefined_message(expr: &str) -> String {
    if let Some((parent, attr)) = expr.rsplit_once('.') {
        if !attr.is_empty() && attr.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return format!("'{parent}' has no attribute '{attr}'");
        }
    }
    format!("'{expr}' is undefined")
}

fn hint_for(err: &minijinja::Error) -> Option<String> {
    let candidates: Vec<String> = match err.kind() {
        ErrorKind::UnknownFilter => analysis_env_names(Names::Filters),
        ErrorKind::UnknownTest => analysis_env_names(Names::Tests),
        ErrorKind::UnknownFunction => analysis_env_names(Names::Functions),
        _ => return None,
    };
    let name = unknown_name(err.detail()?);
    crate::suggest::hint(name, candidates.iter().map(String::as_str))
}

enum Names {
    Filters,
    Tests,
    Functions,
}

fn analysis_env_names(which: Names) -> Vec<String> {
    let names: &[&str] = match which {
        Names::Filters => super::filters::NAMES,
        Names::Tests => super::tests::NAMES,
        Names::Functions => &["lookup", "query", "q", "range", "dict", "namespace", "omit"],
    };
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// A plain environment for static analysis (undeclared variables) of sources whose own
/// environment is not at hand.
fn analysis_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(Environment::new)
}

/// Variable paths (`a`, `a.b`) referenced by `source`, in order of appearance.
fn referenced(source: &str) -> Vec<String> {
    let env = analysis_env();
    let names: HashSet<String> = if is_templated(source) {
        match env.template_from_str(source) {
            Ok(t) => t.undeclared_variables(true),
            Err(_) => return Vec::new(),
        }
    } else {
        match env.compile_expression(source) {
            Ok(e) => e.undeclared_variables(true),
            Err(_) => return Vec::new(),
        }
    };
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by_key(|n| {
        (
            source
                .find(n.split('.').next().unwrap_or(n))
                .unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
}

/// Finds the first variable `source` uses that is missing, following variables whose values are
/// templates themselves.
pub(crate) fn first_missing(source: &str, vars: &VarMap) -> Option<String> {
    first_missing_depth(source, vars, 0)
}

fn first_missing_depth(source: &str, vars: &VarMap, depth: usize) -> Option<String> {
    if depth > 20 {
        return None;
    }
    for path in referenced(source) {
        let mut segments = path.split('.');
        let first = segments.next()?;
        if first == "vars" || first == VARS_KEY || first == "omit" {
            continue;
        }
        let Some(mut current) = vars.get(first) else {
            return Some(format!("'{first}' is undefined"));
        };
        let mut walked = first.to_owned();
        for segment in segments {
            if let serde_json::Value::String(s) = current {
                if is_templated(s) {
                    break;
                }
            }
            match current.get(segment) {
                Some(next) => current = next,
                None => return Some(format!("'{walked}' has no attribute '{segment}'")),
            }
            walked.push('.');
            walked.push_str(segment);
        }
        if let serde_json::Value::String(s) = current {
            if is_templated(s) {
                if let Some(found) = first_missing_depth(s, vars, depth + 1) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// The error for an expression whose whole result is undefined (`when: foo`, `loop: "{{ x }}"`).
pub(crate) fn undefined_result(expr: &str, vars: &VarMap) -> Error {
    let message = first_missing(expr, vars).unwrap_or_else(|| {
        let bare = super::native::strip_expression_braces(expr)
            .unwrap_or(expr)
            .trim();
        undefined_message(&subscript_as_attribute(bare))
    });
    Error::Template {
        location: None,
        message,
        hint: None,
    }
}

/// After a strict evaluation failed on an undefined value: the first missing variable that
/// `expr` uses without a guard. Tests (`is defined`) and `default`/`mandatory` legitimately take
/// undefined values (`x.y is defined` with `x` missing only works chainably); any other use of a
/// missing variable is an error, as with Ansible's StrictUndefined.
pub(crate) fn unguarded_missing(
    compiled: &Expression<'_, '_>,
    expr: &str,
    is_defined: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut missing: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| name != "vars" && name != VARS_KEY && !is_defined(name))
        .collect();
    missing.sort_by_key(|n| expr.find(n.as_str()).unwrap_or(usize::MAX));
    missing.into_iter().find(|name| {
        let uses = uses_of(expr, name);
        !uses.is_empty() && uses.iter().all(|guarded| !guarded)
    })
}

/// For each use of variable `name` in `expr`: whether a test or filter guards it.
fn uses_of(expr: &str, name: &str) -> Vec<bool> {
    let chars: Vec<char> = expr.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    let mut prev_significant = ' ';
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == '\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == name && prev_significant != '.' {
                out.push(guarded_after(&chars, i));
            }
            prev_significant = 'a';
            continue;
        }
        if !c.is_whitespace() {
            prev_significant = c;
        }
        i += 1;
    }
    out
}

fn guarded_after(chars: &[char], mut i: usize) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        match chars.get(i) {
            Some('.') => {
                i += 1;
                skip_ws(&mut i);
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
            }
            Some('[') => {
                let mut depth = 0;
                while i < chars.len() {
                    match chars[i] {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => break,
        }
    }
    match chars.get(i) {
        Some('|') => {
            let name: String = chars[i + 1..]
                .iter()
                .skip_while(|c| c.is_whitespace())
                .take_while(|c| is_ident(**c))
                .collect();
            matches!(name.as_str(), "default" | "d" | "mandatory")
        }
        Some('i') => {
            chars.get(i + 1) == Some(&'s') && !chars.get(i + 2).is_some_and(|c| is_ident(*c))
        }
        _ => false,
    }
}
