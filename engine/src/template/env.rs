//! Building the minijinja environment with Ansible's settings, filters, tests and lookups.

use super::header::Overrides;
use super::{filters, lookups, tests, TemplarOptions, OMIT_TOKEN};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) fn build(
    options: &Arc<TemplarOptions>,
    overrides: &Overrides,
    strict: bool,
) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(syntax_config(overrides)?);
    // Chainable keeps `a.b is defined` and `a.b | default(x)` working; the formatter makes
    // printing an undefined value an error, which is what StrictUndefined does for Ansible.
    env.set_undefined_behavior(if strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Chainable
    });
    env.set_formatter(format_value);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_debug(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    minijinja_contrib::add_to_environment(&mut env);
    let search_path = Arc::new(options.search_path.clone());
    env.set_loader(move |name| load_template(&search_path, name));
    env.add_global("omit", Value::from(OMIT_TOKEN));
    filters::register(&mut env);
    tests::register(&mut env);
    lookups::register(&mut env, options.clone());
    Ok(env)
}

/// The delimiters and whitespace rules of templates with `overrides` (a `#jinja2:` header, or none).
pub(crate) fn syntax_config(overrides: &Overrides) -> Result<SyntaxConfig, Error> {
    // Ansible's template action: trim_blocks on, lstrip_blocks off, and every trailing newline of
    // the source kept.
    let mut syntax = SyntaxConfig::builder();
    syntax
        .trim_blocks(overrides.trim_blocks.unwrap_or(true))
        .lstrip_blocks(overrides.lstrip_blocks.unwrap_or(false))
        .keep_trailing_newline(overrides.keep_trailing_newline.unwrap_or(true));
    let pick = |value: &Option<String>, default: &'static str| {
        value.clone().unwrap_or_else(|| default.to_owned())
    };
    if overrides.block != (None, None) {
        syntax.block_delimiters(
            pick(&overrides.block.0, "{%"),
            pick(&overrides.block.1, "%}"),
        );
    }
    if overrides.variable != (None, None) {
        syntax.variable_delimiters(
            pick(&overrides.variable.0, "{{"),
            pick(&overrides.variable.1, "}}"),
        );
    }
    if overrides.comment != (None, None) {
        syntax.comment_delimiters(
            pick(&overrides.comment.0, "{#"),
            pick(&overrides.comment.1, "#}"),
        );
    }
    syntax.build()
}

fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_undefined() {
        // get_attr on an undefined fails with an error that remembers the undefined's origin;
        // minijinja turns that into "`name` is undefined".
        return Err(value
            .get_attr("")
            .err()
            .unwrap_or_else(|| Error::new(ErrorKind::UndefinedError, "undefined value")));
    }
    if value.is_none() {
        // Jinja2 prints Python's None as "None".
        return out.write_str("None").map_err(Error::from);
    }
    if value.kind() == minijinja::value::ValueKind::Number && !value.is_integer() {
        if let Ok(f) = f64::try_from(value.clone()) {
            return out
                .write_str(&filters::python_float(f))
                .map_err(Error::from);
        }
    }
    if value.kind() == minijinja::value::ValueKind::Bool {
        return out
            .write_str(if value.is_true() { "True" } else { "False" })
            .map_err(Error::from);
    }
    if !value.is_safe()
        && matches!(
            value.kind(),
            minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq
        )
    {
        // Containers print as Python reprs ({'a': 1}, ['x', True]) like Jinja2 does.
        return out
            .write_str(&filters::python_repr(value))
            .map_err(Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// Finds `name` on the search path: each directory, then its `templates/` subdirectory.
fn load_template(search_path: &[PathBuf], name: &str) -> Result<Option<String>, Error> {
    match find_file(search_path, name, "templates") {
        Some(path) => std::fs::read_to_string(&path).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("could not read template {}: {e}", path.display()),
            )
        }),
        None => Ok(None),
    }
}

/// Resolves a possibly relative path against the search path, trying `dir/subdir/name` before
/// `dir/name` (Ansible prefers the role's `templates/`/`files/`).
pub(crate) fn find_file(search_path: &[PathBuf], name: &str, subdir: &str) -> Option<PathBuf> {
    let path = std::path::Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    for dir in search_path {
        for candidate in [dir.join(subdir).join(name), dir.join(name)] {
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    if search_path.is_empty() && path.is_file() {
        return Some(path.to_path_buf());
    }
    None
}
