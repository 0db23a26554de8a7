//! The `module: k=v k2="v 2"` argument form (Ansible's `parse_kv` and `split_args`).

use crate::vars::VarMap;
use serde_json::Value;

/// Keys that free-form modules (command, shell, ...) take out of their command line.
const FREE_FORM_PARAMS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "argv",
];

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum KvError {
    /// `at` is the character offset of the quote that is never closed.
    #[error("unbalanced quote in module arguments")]
    UnbalancedQuotes { at: usize },
    #[error("unbalanced jinja2 block or quotes in module arguments")]
    UnbalancedJinja,
    #[error("expected key=value arguments, got '{0}'")]
    NotKeyValue(String),
}

/// Splits on whitespace outside quotes and outside `{{ }}`/`{% %}`, keeping quotes in the tokens.
/// A newline outside quotes ends the token before it and is kept at that token's end (as Ansible's
/// `split_args` does), so a multi-line `shell: |` script keeps its lines.
fn split_args(text: &str) -> Result<Vec<String>, KvError> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut quote_start = 0;
    let mut jinja_depth = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match quote {
            Some(q) => {
                if c == '\\' && next.is_some() {
                    current.push(c);
                    current.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => {
                if c == '{' && matches!(next, Some('{' | '%' | '#')) {
                    jinja_depth += 1;
                    current.push(c);
                    current.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if jinja_depth > 0 && matches!(c, '}' | '%' | '#') && next == Some('}') {
                    jinja_depth -= 1;
                    current.push(c);
                    current.push('}');
                    i += 2;
                    continue;
                }
                if (c == '"' || c == '\'') && jinja_depth == 0 {
                    quote = Some(c);
                    quote_start = i;
                    current.push(c);
                } else if c.is_whitespace() && jinja_depth == 0 {
                    if !current.is_empty() {
                        tokens.push(std::mem::take(&mut current));
                    }
                    if c == '\n' {
                        if let Some(last) = tokens.last_mut() {
                            last.push('\n');
                        }
                    }
                } else {
                    current.push(c);
                }
            }
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(KvError::UnbalancedQuotes { at: quote_start });
    }
    if jinja_depth > 0 {
        return Err(KvError::UnbalancedJinja);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

/// Removes one level of surrounding quotes and the escapes inside them.
fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        let quote = value.chars().next().unwrap_or('"');
        let inner = &value[1..value.len() - 1];
        inner.replace(&format!("\\{quote}"), &quote.to_string())
    } else {
        value.to_string()
    }
}

/// Finds the `=` of a `key=value` token: the key must be a plain identifier before any quote or brace.
fn key_value(token: &str) -> Option<(&str, &str)> {
    let (key, value) = token.split_once('=')?;
    let is_identifier =
        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_identifier.then_some((key, value))
}

/// Parses `k=v` arguments. Free-form modules keep every other token, in order, as `_raw_params`.
pub fn parse_kv(text: &str, free_form: bool) -> Result<VarMap, KvError> {
    let mut args = VarMap::new();
    let mut raw: Vec<String> = Vec::new();
    for token in split_args(text)? {
        match key_value(token.trim_end_matches('\n')) {
            Some((key, value)) if !free_form || FREE_FORM_PARAMS.contains(&key) => {
                args.insert(key.to_string(), Value::String(unquote(value)));
            }
            _ if free_form => raw.push(token),
            _ => return Err(KvError::NotKeyValue(token.trim_end().to_string())),
        }
    }
    if free_form && !raw.is_empty() {
        args.insert("_raw_params".into(), Value::String(join_args(&raw)));
    }
    Ok(args)
}

/// Joins free-form tokens with one space, or with nothing after a token that ends a line.
fn join_args(tokens: &[String]) -> String {
    let mut joined = String::new();
    for token in tokens {
        if !joined.is_empty() && !joined.ends_with('\n') {
            joined.push(' ');
        }
        joined.push_str(token);
    }
    joined.trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_key_value_strings() {
        let cases: &[(&str, bool, Value)] = &[
            (
                "path=/etc/x line='a b' state=present",
                false,
                json!({"path": "/etc/x", "line": "a b", "state": "present"}),
            ),
            (
                "msg=\"say \\\"hi\\\"\"",
                false,
                json!({"msg": "say \"hi\""}),
            ),
            (
                "msg={{ a ~ ' b' }}",
                false,
                json!({"msg": "{{ a ~ ' b' }}"}),
            ),
            (
                "ls -l /tmp chdir=/ creates=/x",
                true,
                json!({"chdir": "/", "creates": "/x", "_raw_params": "ls -l /tmp"}),
            ),
            (
                "echo a=b 'c d'",
                true,
                json!({"_raw_params": "echo a=b 'c d'"}),
            ),
            (
                "set -e\nif true; then\n    echo  'a\nb'\nfi\n\necho done chdir=/\n",
                true,
                json!({"chdir": "/", "_raw_params": "set -e\nif true; then\necho 'a\nb'\nfi\n\necho done"}),
            ),
            ("", false, json!({})),
        ];
        for (text, free_form, expected) in cases {
            assert_eq!(
                Value::Object(parse_kv(text, *free_form).unwrap()),
                *expected,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_strings() {
        assert_eq!(
            parse_kv("msg='open", false),
            Err(KvError::UnbalancedQuotes { at: 4 })
        );
        assert_eq!(parse_kv("msg={{ x", false), Err(KvError::UnbalancedJinja));
        assert_eq!(
            parse_kv("path=/x oops", false),
            Err(KvError::NotKeyValue("oops".into()))
        );
    }
}
