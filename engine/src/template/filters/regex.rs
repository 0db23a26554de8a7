//! regex_replace, regex_search, regex_findall and regex_escape with Python `re` semantics.

use crate::template::pyregex::{self, Flags};
use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter(
        "regex_escape",
        |text: String, re_type: Option<String>| -> Result<String, Error> {
            match re_type.as_deref().unwrap_or("python") {
                "python" => Ok(python_escape(&text)),
                "posix_basic" => Ok(text.chars().fold(String::new(), |mut out, c| {
                    if ".[]\\*^$".contains(c) {
                        out.push('\\');
                    }
                    out.push(c);
                    out
                })),
                other => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("regex_escape: regex type '{other}' is not supported"),
                )),
            }
        },
    );
}

fn flags(
    kwargs: &Kwargs,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
) -> Result<Flags, Error> {
    Ok(Flags {
        ignorecase: match ignorecase {
            Some(b) => b,
            None => kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        },
        multiline: match multiline {
            Some(b) => b,
            None => kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false),
        },
    })
}

/// Python's `re.escape` (3.7+): only characters with a meaning in patterns are escaped.
fn python_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn text_of(value: &Value) -> String {
    if value.is_none() || value.is_undefined() {
        String::new()
    } else {
        super::python_str(value)
    }
}

/// `regex_replace(pattern='', replacement='', ignorecase=False, multiline=False, count=0,
/// mandatory_count=0)`, positionally or by keyword.
fn regex_replace(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let positional = |i: usize| args.get(i).cloned();
    let string_arg = |i: usize, name: &str| -> Result<String, Error> {
        match positional(i) {
            Some(v) => Ok(super::python_str(&v)),
            None => Ok(kwargs.get::<Option<String>>(name)?.unwrap_or_default()),
        }
    };
    let bool_arg = |i: usize, name: &str| -> Result<Option<bool>, Error> {
        match positional(i) {
            Some(v) => Ok(Some(v.is_true())),
            None => kwargs.get::<Option<bool>>(name),
        }
    };
    let count_arg = |i: usize, name: &str| -> Result<usize, Error> {
        match positional(i) {
            Some(v) => usize::try_from(v),
            None => Ok(kwargs.get::<Option<usize>>(name)?.unwrap_or(0)),
        }
    };
    let pattern = string_arg(0, "pattern")?;
    let replacement = string_arg(1, "replacement")?;
    let flags = flags(
        &kwargs,
        bool_arg(2, "ignorecase")?,
        bool_arg(3, "multiline")?,
    )?;
    let count = count_arg(4, "count")?;
    let mandatory_count = count_arg(5, "mandatory_count")?;
    kwargs.assert_all_used()?;
    let re = pyregex::compile(&pattern, flags)?;
    let (out, done) = pyregex::sub(&re, &replacement, &text_of(&value), count)?;
    if mandatory_count > 0 && done != mandatory_count {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("'{pattern}' should match {mandatory_count} times, but matches {done} times"),
        ));
    }
    Ok(out)
}

/// `regex_search(regex, *groups, ignorecase=False, multiline=False)`: the match, or with group
/// arguments (`'\\1'`, `'\\g<name>'`) a list of those groups; None when nothing matches.
fn regex_search(
    value: Value,
    pattern: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let flags = flags(&kwargs, None, None)?;
    kwargs.assert_all_used()?;
    let re = pyregex::compile(&pattern, flags)?;
    let text = text_of(&value);
    let Some(caps) = pyregex::search(&re, &text)? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for group in groups.iter() {
        let m = if let Some(name) = group.strip_prefix("\\g<").and_then(|g| g.strip_suffix('>')) {
            match name.parse::<usize>() {
                Ok(n) => caps.get(n),
                Err(_) => caps.name(name),
            }
        } else if let Some(n) = group
            .strip_prefix('\\')
            .and_then(|g| g.parse::<usize>().ok())
        {
            caps.get(n)
        } else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("Unknown argument '{group}' to regex_search"),
            ));
        };
        out.push(m.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// `regex_findall(regex, multiline=False, ignorecase=False)` with `re.findall`'s shapes: whole
/// matches without groups, the group with one, lists of groups with several.
fn regex_findall(
    value: Value,
    pattern: String,
    multiline: Option<bool>,
    ignorecase: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let flags = flags(&kwargs, ignorecase, multiline)?;
    kwargs.assert_all_used()?;
    let re = pyregex::compile(&pattern, flags)?;
    let text = text_of(&value);
    let mut out = Vec::new();
    for caps in pyregex::find_all(&re, &text)? {
        let item = match caps.len() {
            1 => Value::from(caps.get(0).map_or("", |m| m.as_str())),
            2 => Value::from(caps.get(1).map_or("", |m| m.as_str())),
            n => Value::from(
                (1..n)
                    .map(|i| Value::from(caps.get(i).map_or("", |m| m.as_str())))
                    .collect::<Vec<_>>(),
            ),
        };
        out.push(item);
    }
    Ok(Value::from(out))
}
