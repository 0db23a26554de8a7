//! Path and shell filters with Python's `posixpath` and `shlex.quote` semantics.

use minijinja::value::Value;
use minijinja::Environment;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("basename", |path: String| basename(&path).to_owned());
    env.add_filter("dirname", |path: String| dirname(&path));
    env.add_filter("splitext", |path: String| {
        let (root, ext) = splitext(&path);
        Value::from(vec![Value::from(root), Value::from(ext)])
    });
    env.add_filter("quote", |value: Value| {
        let text = if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            super::python_str(&value)
        };
        shell_quote(&text)
    });
    env.add_filter("expanduser", |path: String| expanduser(&path));
    env.add_filter("realpath", |path: String| {
        std::fs::canonicalize(&path).map_or(path, |p| p.to_string_lossy().into_owned())
    });
}

/// `posixpath.basename`: everything after the last slash.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, tail)| tail)
}

/// `posixpath.dirname`: everything before the last slash, trailing slashes removed unless the
/// head is only slashes.
pub(crate) fn dirname(path: &str) -> String {
    let Some(idx) = path.rfind('/') else {
        return String::new();
    };
    let head = &path[..=idx];
    if head.chars().all(|c| c == '/') {
        head.to_owned()
    } else {
        head.trim_end_matches('/').to_owned()
    }
}

/// `posixpath.splitext`: leading dots of the basename do not start an extension.
pub(crate) fn splitext(path: &str) -> (String, String) {
    let base_start = path.rfind('/').map_or(0, |i| i + 1);
    let base = &path[base_start..];
    let leading_dots = base.len() - base.trim_start_matches('.').len();
    match base[leading_dots..].rfind('.') {
        Some(dot) => {
            let split = base_start + leading_dots + dot;
            (path[..split].to_owned(), path[split..].to_owned())
        }
        None => (path.to_owned(), String::new()),
    }
}

/// `shlex.quote`.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || "@%+=:,./-".contains(c));
    if safe {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn expanduser(path: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if path == "~" {
        home
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        path.to_owned()
    }
}
