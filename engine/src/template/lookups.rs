//! `lookup()`, `query()` and `q()` with the env, file, template, pipe, vars, items, list and
//! first_found plugins. They run on the controller, like Ansible's.

use super::env::find_file;
use super::filters::python_str;
use super::lazy::VARS_KEY;
use super::TemplarOptions;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use std::sync::Arc;

const PLUGINS: &[&str] = &[
    "env",
    "file",
    "template",
    "pipe",
    "vars",
    "items",
    "list",
    "first_found",
    "indexed_items",
];

pub(crate) fn register(env: &mut Environment<'static>, options: Arc<TemplarOptions>) {
    let for_lookup = options.clone();
    env.add_function(
        "lookup",
        move |state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs| {
            call(state, &for_lookup, &name, terms.0, kwargs, false)
        },
    );
    for alias in ["query", "q"] {
        let options = options.clone();
        env.add_function(
            alias,
            move |state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs| {
                call(state, &options, &name, terms.0, kwargs, true)
            },
        );
    }
}

#[derive(PartialEq)]
enum OnError {
    Strict,
    Warn,
    Ignore,
}

fn call(
    state: &State,
    options: &TemplarOptions,
    name: &str,
    terms: Vec<Value>,
    kwargs: Kwargs,
    force_list: bool,
) -> Result<Value, Error> {
    let wantlist = force_list || kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let on_error = match kwargs
        .get::<Option<String>>("errors")?
        .as_deref()
        .unwrap_or("strict")
    {
        "strict" => OnError::Strict,
        "warn" => OnError::Warn,
        "ignore" => OnError::Ignore,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "Invalid value '{other}' for errors, valid values are strict, warn and ignore"
                ),
            ));
        }
    };
    let result = run_plugin(state, options, name, &terms, &kwargs).and_then(|r| {
        kwargs.assert_all_used()?;
        Ok(r)
    });
    let results = match result {
        Ok(results) => results,
        Err(err) if on_error == OnError::Strict || err.kind() == ErrorKind::UnknownFunction => {
            return Err(err);
        }
        Err(err) => {
            if on_error == OnError::Warn {
                tracing::warn!(
                    "An unhandled exception occurred while running the lookup plugin '{name}': {err}"
                );
            }
            return Ok(if wantlist {
                Value::from(Vec::<Value>::new())
            } else {
                Value::from(())
            });
        }
    };
    if wantlist {
        return Ok(Value::from(results));
    }
    // Ansible joins string results with commas; other results come back as they are.
    if results.iter().all(|r| r.kind() == ValueKind::String) {
        let joined: Vec<&str> = results
            .iter()
            .map(|r| r.as_str().unwrap_or_default())
            .collect();
        return Ok(Value::from(joined.join(",")));
    }
    Ok(if results.len() == 1 {
        results.into_iter().next().unwrap_or_default()
    } else {
        Value::from(results)
    })
}

fn flat_terms(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for term in terms {
        match term.kind() {
            ValueKind::Seq | ValueKind::Iterable => {
                out.extend(term.try_iter().into_iter().flatten())
            }
            _ => out.push(term.clone()),
        }
    }
    out
}

fn run_plugin(
    state: &State,
    options: &TemplarOptions,
    name: &str,
    terms: &[Value],
    kwargs: &Kwargs,
) -> Result<Vec<Value>, Error> {
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    match name {
        "env" => {
            let default = kwargs.get::<Option<String>>("default")?.unwrap_or_default();
            Ok(terms
                .iter()
                .map(|t| {
                    Value::from(std::env::var(python_str(t)).unwrap_or_else(|_| default.clone()))
                })
                .collect())
        }
        "file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            let mut out = Vec::new();
            for term in terms {
                let term = python_str(term);
                let path = find_file(&options.search_path, &term, "files").ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("could not locate file in lookup: {term}"),
                    )
                })?;
                let mut content = std::fs::read_to_string(&path).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("could not read file {}: {e}", path.display()),
                    )
                })?;
                if rstrip {
                    content.truncate(content.trim_end().len());
                }
                if lstrip {
                    content = content.trim_start().to_owned();
                }
                out.push(Value::from(content));
            }
            Ok(out)
        }
        "template" => {
            let template_vars = kwargs.get::<Option<Value>>("template_vars")?;
            let _ = kwargs.get::<Option<bool>>("convert_data")?;
            let mut out = Vec::new();
            for term in terms {
                let term = python_str(term);
                let path =
                    find_file(&options.search_path, &term, "templates").ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("the template file {term} could not be found for the lookup"),
                        )
                    })?;
                let source = std::fs::read_to_string(&path).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("could not read template {}: {e}", path.display()),
                    )
                })?;
                let vars = state.lookup(VARS_KEY).unwrap_or_default();
                let ctx = match &template_vars {
                    Some(extra) => minijinja::value::merge_maps([vars, extra.clone()]),
                    None => vars,
                };
                let rendered = state.env().render_str(&source, ctx).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "error rendering template {}: {}",
                            path.display(),
                            super::errors::describe(&e, &source)
                        ),
                    )
                })?;
                out.push(Value::from(rendered));
            }
            Ok(out)
        }
        "pipe" => {
            let mut out = Vec::new();
            for term in terms {
                let command = python_str(term);
                let output = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("lookup_plugin.pipe({command}): {e}"),
                        )
                    })?;
                if !output.status.success() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "lookup_plugin.pipe({command}) returned {}",
                            output
                                .status
                                .code()
                                .map_or_else(|| "a signal".to_owned(), |c| c.to_string())
                        ),
                    ));
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                out.push(Value::from(stdout.trim_end()));
            }
            Ok(out)
        }
        "vars" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            let mut out = Vec::new();
            for term in terms {
                let term = python_str(term);
                match state.lookup(&term).filter(|v| !v.is_undefined()) {
                    Some(v) => out.push(v),
                    None => match &default {
                        Some(d) => out.push(d.clone()),
                        None => {
                            return Err(Error::new(
                                ErrorKind::UndefinedError,
                                format!("No variable found with this name: {term}"),
                            ));
                        }
                    },
                }
            }
            Ok(out)
        }
        "items" | "list" => Ok(if name == "items" {
            flat_terms(terms)
        } else {
            terms.to_vec()
        }),
        "indexed_items" => Ok(flat_terms(terms)
            .into_iter()
            .enumerate()
            .map(|(i, v)| Value::from(vec![Value::from(i), v]))
            .collect()),
        "first_found" => {
            let skip = kwargs.get::<Option<bool>>("skip")?.unwrap_or(false);
            for term in flat_terms(terms) {
                let term = python_str(&term);
                if let Some(path) = find_file(&options.search_path, &term, "files") {
                    return Ok(vec![Value::from(path.to_string_lossy().into_owned())]);
                }
            }
            if skip {
                return Ok(Vec::new());
            }
            Err(Error::new(
                ErrorKind::InvalidOperation,
                "No file was found when using first_found.",
            ))
        }
        other => {
            let mut message = format!("lookup plugin ({other}) not found");
            if let Some(hint) = crate::suggest::hint(other, PLUGINS.iter().copied()) {
                message.push_str(&format!("; {hint}"));
            }
            Err(Error::new(ErrorKind::UnknownFunction, message))
        }
    }
}
