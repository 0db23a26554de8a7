//! JSON, YAML and base64 filters, formatted the way Python's `json.dumps` and PyYAML's
//! `yaml.dump` format them, since users diff generated files against Ansible's output.

use super::python_float;
use crate::pyjson::{dumps, JsonOptions};
use crate::template::convert::{from_json, to_json};
use base64::Engine as _;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "to_json",
        |value: Value, kwargs: Kwargs| -> Result<String, Error> {
            let indent = kwargs.get::<Option<usize>>("indent")?;
            let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
            let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
            kwargs.assert_all_used()?;
            let options = JsonOptions {
                indent,
                sort_keys,
                ensure_ascii,
                compact_separators: indent.is_some(),
            };
            Ok(dumps(&to_json(&value)?, &options))
        },
    );
    env.add_filter(
        "to_nice_json",
        |value: Value, indent: Option<usize>, kwargs: Kwargs| -> Result<String, Error> {
            let indent = match indent {
                Some(i) => i,
                None => kwargs.get::<Option<usize>>("indent")?.unwrap_or(4),
            };
            let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
            let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
            kwargs.assert_all_used()?;
            let options = JsonOptions {
                indent: Some(indent),
                sort_keys,
                ensure_ascii,
                compact_separators: true,
            };
            Ok(dumps(&to_json(&value)?, &options))
        },
    );
    env.add_filter("from_json", |text: String| -> Result<Value, Error> {
        let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("from_json: invalid JSON: {e}"),
            )
        })?;
        Ok(from_json(&parsed))
    });
    env.add_filter(
        "to_yaml",
        |value: Value, kwargs: Kwargs| -> Result<String, Error> {
            let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(2);
            kwargs.assert_all_used()?;
            Ok(yaml_dump(&to_json(&value)?, indent.max(2)))
        },
    );
    env.add_filter(
        "to_nice_yaml",
        |value: Value, indent: Option<usize>, kwargs: Kwargs| -> Result<String, Error> {
            let indent = match indent {
                Some(i) => i,
                None => kwargs.get::<Option<usize>>("indent")?.unwrap_or(4),
            };
            kwargs.assert_all_used()?;
            Ok(yaml_dump(&to_json(&value)?, indent.max(2)))
        },
    );
    env.add_filter("from_yaml", |text: String| -> Result<Value, Error> {
        let parsed: serde_json::Value = serde_yaml::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("from_yaml: invalid YAML: {e}"),
            )
        })?;
        Ok(from_json(&parsed))
    });
    env.add_filter("from_yaml_all", |text: String| -> Result<Value, Error> {
        let mut docs = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let parsed: serde_json::Value = serde::Deserialize::deserialize(doc).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("from_yaml_all: invalid YAML: {e}"),
                )
            })?;
            docs.push(from_json(&parsed));
        }
        Ok(Value::from(docs))
    });
    env.add_filter("b64encode", |text: String| {
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    });
    env.add_filter("b64decode", |text: String| -> Result<String, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim().as_bytes())
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("b64decode: invalid base64 input: {e}"),
                )
            })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    });
}

/// PyYAML's `yaml.dump(value, indent=indent, default_flow_style=False, allow_unicode=True)`:
/// sorted keys, block style, sequences in mappings not indented, empty collections in flow style.
pub(crate) fn yaml_dump(value: &serde_json::Value, indent: usize) -> String {
    let mut out = String::new();
    match value {
        serde_json::Value::Array(items) if !items.is_empty() => {
            emit_node(value, 0, indent, true, &mut out)
        }
        serde_json::Value::Object(map) if !map.is_empty() => {
            emit_node(value, 0, indent, true, &mut out)
        }
        other => {
            let (text, plain) = yaml_scalar(other, indent);
            out.push_str(&text);
            out.push('\n');
            // PyYAML ends a document that is a lone plain scalar with an explicit end marker.
            if plain
                && !matches!(
                    other,
                    serde_json::Value::Array(_) | serde_json::Value::Object(_)
                )
            {
                out.push_str("...\n");
            }
        }
    }
    out
}

fn is_block(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => !items.is_empty(),
        serde_json::Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

fn emit_node(
    value: &serde_json::Value,
    col: usize,
    step: usize,
    at_line_start: bool,
    out: &mut String,
) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 || at_line_start {
                    out.push_str(&" ".repeat(col));
                }
                out.push_str(&yaml_scalar(&serde_json::Value::String(key.clone()), col + step).0);
                out.push(':');
                match item {
                    serde_json::Value::Object(_) if is_block(item) => {
                        out.push('\n');
                        emit_node(item, col + step, step, true, out);
                    }
                    serde_json::Value::Array(_) if is_block(item) => {
                        out.push('\n');
                        emit_node(item, col, step, true, out);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&yaml_scalar(scalar, col + step).0);
                        out.push('\n');
                    }
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 || at_line_start {
                    out.push_str(&" ".repeat(col));
                }
                out.push('-');
                if is_block(item) {
                    out.push_str(&" ".repeat(step - 1));
                    emit_node(item, col + step, step, false, out);
                } else {
                    out.push(' ');
                    out.push_str(&yaml_scalar(item, col + step).0);
                    out.push('\n');
                }
            }
        }
        scalar => {
            out.push_str(&yaml_scalar(scalar, col).0);
            out.push('\n');
        }
    }
}

/// A scalar's YAML text and whether it is plain (unquoted).
fn yaml_scalar(value: &serde_json::Value, continuation_indent: usize) -> (String, bool) {
    match value {
        serde_json::Value::Null => ("null".into(), true),
        serde_json::Value::Bool(b) => ((if *b { "true" } else { "false" }).into(), true),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let text = match python_float(f).as_str() {
                    "nan" => ".nan".to_owned(),
                    "inf" => ".inf".to_owned(),
                    "-inf" => "-.inf".to_owned(),
                    other if other.contains('e') && !other.contains('.') => {
                        let (m, e) = other.split_once('e').unwrap_or((other, ""));
                        format!("{m}.0e{e}")
                    }
                    other => other.to_owned(),
                };
                (text, true)
            }
            _ => (n.to_string(), true),
        },
        serde_json::Value::String(s) => yaml_string(s, continuation_indent),
        serde_json::Value::Array(_) => ("[]".into(), true),
        serde_json::Value::Object(_) => ("{}".into(), true),
    }
}

fn yaml_string(s: &str, continuation_indent: usize) -> (String, bool) {
    if s.chars()
        .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
    {
        return (double_quoted(s), false);
    }
    if s.contains('\n') {
        // PyYAML writes multi-line text single-quoted, each line break as an empty line.
        let indent = " ".repeat(continuation_indent);
        let mut out = String::from("'");
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&indent);
                }
            }
            out.push_str(&line.replace('\'', "''"));
        }
        out.push('\'');
        return (out, false);
    }
    if plain_allowed(s) {
        return (s.to_owned(), true);
    }
    (format!("'{}'", s.replace('\'', "''")), false)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else {
                    out.push_str(&format!("\\u{n:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether PyYAML would write `s` without quotes: it must not start with an indicator, contain
/// `: ` or ` #`, have surrounding spaces, or read back as another type.
fn plain_allowed(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // "-foo" and "?foo" and ":foo" are plain in PyYAML only when followed by a non-space;
        // PyYAML still quotes a leading '-' followed by space. Keep it simple and quote the rest.
        let second = s.chars().nth(1);
        let allowed = matches!(first, '-' | '?' | ':') && second.is_some_and(|c| c != ' ');
        if !allowed {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") {
        return false;
    }
    !resolves_to_non_string(s)
}

/// PyYAML's implicit resolvers (YAML 1.1): booleans, null, numbers, timestamps.
fn resolves_to_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off" | "null" | "~" | "y" | "n"
    ) && (s == lower || s == s.to_ascii_uppercase() || s[..1].to_uppercase() + &s[1..] == s)
    {
        return true;
    }
    if matches!(lower.as_str(), ".inf" | "-.inf" | "+.inf" | ".nan") || s == "=" || s == "<<" {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s).replace('_', "");
    if unsigned.is_empty() {
        return false;
    }
    if unsigned.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    if let Some(hex) = unsigned.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return true;
        }
    }
    if unsigned.contains(':')
        && unsigned
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    let float_like = unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && unsigned.chars().any(|c| c.is_ascii_digit())
        && unsigned.contains('.');
    if float_like && unsigned.parse::<f64>().is_ok() {
        return true;
    }
    // Timestamps: 2001-12-14 and friends.
    let bytes = s.as_bytes();
    bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && s[5..]
            .split(['-', 'T', 't', ' ', ':', '.'])
            .next()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}
