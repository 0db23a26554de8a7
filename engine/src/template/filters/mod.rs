//! Ansible's filters, grouped by topic, plus overrides where minijinja's builtins differ from
//! Jinja2 in ways playbooks notice.

mod collections;
mod core;
mod hashing;
mod paths;
mod regex;
mod serialize;

use minijinja::value::{Value, ValueKind};
use minijinja::Environment;

pub(crate) use self::core::python_str;

/// Every filter name, for did-you-mean hints.
pub(crate) const NAMES: &[&str] = &[
    // ours
    "default",
    "d",
    "bool",
    "int",
    "float",
    "string",
    "ternary",
    "mandatory",
    "type_debug",
    "combine",
    "dict2items",
    "items2dict",
    "flatten",
    "union",
    "difference",
    "intersect",
    "symmetric_difference",
    "to_json",
    "to_nice_json",
    "from_json",
    "to_yaml",
    "to_nice_yaml",
    "from_yaml",
    "from_yaml_all",
    "b64encode",
    "b64decode",
    "basename",
    "dirname",
    "splitext",
    "quote",
    "expanduser",
    "realpath",
    "hash",
    "password_hash",
    "checksum",
    "md5",
    "sha1",
    "regex_replace",
    "regex_search",
    "regex_findall",
    "regex_escape",
    "zip_longest",
    "extract",
    "product",
    "log",
    "pow",
    "root",
    // minijinja builtins Ansible playbooks use
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "round",
    "abs",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "tojson",
    "urlencode",
    "truncate",
    "wordcount",
];

pub(crate) fn register(env: &mut Environment<'static>) {
    core::register(env);
    collections::register(env);
    serialize::register(env);
    paths::register(env);
    hashing::register(env);
    regex::register(env);
}

/// Python's `repr()` of a value, which is how Jinja2 prints lists and dicts.
pub(crate) fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value.kind() {
        ValueKind::String => out.push_str(&quote_repr(value.as_str().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&item, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&key, out);
                    out.push_str(": ");
                    write_repr(&value.get_item(&key).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&python_str(value)),
    }
}

/// Python's string repr: single quotes unless the text contains one and no double quote.
fn quote_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`.
pub(crate) fn python_float(f: f64) -> String {
    crate::pyjson::float_repr(f)
}
