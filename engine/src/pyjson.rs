//! Python's `json.dumps` and `repr(float)`, byte for byte. Ansible prints results, inventories and the
//! `to_json` filters through them, and users diff ply's output against Ansible's.

use serde_json::Value;
use std::fmt::Write;

/// The `json.dumps` options ply needs.
#[derive(Clone, Copy, Debug)]
pub struct JsonOptions {
    pub indent: Option<usize>,
    pub sort_keys: bool,
    pub ensure_ascii: bool,
    /// `(',', ': ')` instead of Python's default `(', ', ': ')`. json.dumps uses the compact item
    /// separator whenever an indent is given.
    pub compact_separators: bool,
}

impl JsonOptions {
    /// How Ansible's callbacks print results: sorted keys, non-ASCII kept, compact or indented.
    pub fn result(indent: Option<usize>) -> Self {
        JsonOptions {
            indent,
            sort_keys: true,
            ensure_ascii: false,
            compact_separators: indent.is_some(),
        }
    }
}

/// `json.dumps(value, ...)`.
pub fn dumps(value: &Value, options: &JsonOptions) -> String {
    let mut out = String::new();
    write_json(value, options, 0, &mut out);
    out
}

fn write_json(value: &Value, options: &JsonOptions, level: usize, out: &mut String) {
    let item_separator = if options.compact_separators {
        ","
    } else {
        ", "
    };
    let newline = |out: &mut String, level: usize| {
        if let Some(indent) = options.indent {
            out.push('\n');
            out.push_str(&" ".repeat(indent * level));
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(n) => match n.as_f64() {
            Some(f) => out.push_str(&json_float(f)),
            None => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(s, options.ensure_ascii, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, level + 1);
                write_json(item, options, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if options.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, level + 1);
                write_string(key, options.ensure_ascii, out);
                out.push_str(": ");
                write_json(item, options, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

fn write_string(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // With ensure_ascii, Python escapes everything outside printable ASCII (space to `~`).
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as json.dumps writes it: `repr`, with the non-finite spelled the way JavaScript does.
pub fn json_float(f: f64) -> String {
    match float_repr(f).as_str() {
        "nan" => "NaN".to_owned(),
        "inf" => "Infinity".to_owned(),
        "-inf" => "-Infinity".to_owned(),
        other => other.to_owned(),
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, positional for exponents in [-4, 16),
/// scientific (`1e+16`, `1.5e-05`) outside it; `inf`, `-inf` and `nan` for the non-finite.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. `-1.5e-5`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let mut int_part = digits.chars().take(int_len).collect::<String>();
            while int_part.len() < int_len {
                int_part.push('0');
            }
            let frac: String = digits.chars().skip(int_len).collect();
            let frac = if frac.is_empty() {
                "0".to_string()
            } else {
                frac
            };
            format!("{sign}{int_part}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_match_python() {
        let v = json!({"msg": "a\"b\u{1}é", "changed": false, "b": [1, 2.5, null], "a": {}});
        assert_eq!(
            dumps(&v, &JsonOptions::result(None)),
            r#"{"a": {}, "b": [1, 2.5, null], "changed": false, "msg": "a\"b\u0001é"}"#
        );
        let v = json!({"msg": "hi", "list": [1, {"z": 1, "y": []}]});
        assert_eq!(
            dumps(&v, &JsonOptions::result(Some(4))),
            "{\n    \"list\": [\n        1,\n        {\n            \"y\": [],\n            \"z\": 1\n        }\n    ],\n    \"msg\": \"hi\"\n}"
        );
    }

    #[test]
    fn ensure_ascii_and_unsorted() {
        let options = JsonOptions {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
            compact_separators: false,
        };
        assert_eq!(
            dumps(&json!({"z": "é😀", "a": 1e20}), &options),
            r#"{"z": "\u00e9\ud83d\ude00", "a": 1e+20}"#
        );
    }

    #[test]
    fn floats_like_python_repr() {
        for (f, want) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (2.5e100, "2.5e+100"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(float_repr(f), want, "{f}");
        }
        assert_eq!(dumps(&json!([1.0]), &JsonOptions::result(None)), "[1.0]");
    }
}
