//! `#jinja2: trim_blocks: False, variable_start_string: '[%'` first-line overrides, as Ansible's
//! template action honours them. The header line itself is not part of the output.

use crate::error::{Error, Result};

const PREFIX: &str = "#jinja2:";

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Overrides {
    pub(crate) trim_blocks: Option<bool>,
    pub(crate) lstrip_blocks: Option<bool>,
    pub(crate) keep_trailing_newline: Option<bool>,
    pub(crate) newline_sequence: Option<String>,
    pub(crate) block: (Option<String>, Option<String>),
    pub(crate) variable: (Option<String>, Option<String>),
    pub(crate) comment: (Option<String>, Option<String>),
}

impl Overrides {
    /// Whether the main environment can render the template (newline_sequence is applied after
    /// rendering and needs no environment of its own).
    pub(crate) fn is_default(&self) -> bool {
        Overrides {
            newline_sequence: None,
            ..self.clone()
        } == Overrides::default()
    }
}

/// Splits off a `#jinja2:` header. Returns the overrides and the remaining template text.
pub(crate) fn parse(source: &str) -> Result<(Overrides, &str)> {
    let Some(rest) = source.strip_prefix(PREFIX) else {
        return Ok((Overrides::default(), source));
    };
    let (line, body) = match rest.find('\n') {
        Some(eol) => (&rest[..eol], &rest[eol + 1..]),
        None => (rest, ""),
    };
    let mut overrides = Overrides::default();
    for item in split_items(line) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once(':') else {
            return Err(header_error(format!(
                "expected 'key: value' in #jinja2: header, got '{item}'"
            )));
        };
        let key = key.trim();
        let value = python_literal(value.trim())?;
        let as_bool = || match value.as_str() {
            "True" | "true" => Ok(true),
            "False" | "false" => Ok(false),
            other => Err(header_error(format!(
                "'{key}' in #jinja2: header must be True or False, got '{other}'"
            ))),
        };
        match key {
            "trim_blocks" => overrides.trim_blocks = Some(as_bool()?),
            "lstrip_blocks" => overrides.lstrip_blocks = Some(as_bool()?),
            "keep_trailing_newline" => overrides.keep_trailing_newline = Some(as_bool()?),
            "newline_sequence" => overrides.newline_sequence = Some(unescape(&value)),
            "block_start_string" => overrides.block.0 = Some(value),
            "block_end_string" => overrides.block.1 = Some(value),
            "variable_start_string" => overrides.variable.0 = Some(value),
            "variable_end_string" => overrides.variable.1 = Some(value),
            "comment_start_string" => overrides.comment.0 = Some(value),
            "comment_end_string" => overrides.comment.1 = Some(value),
            other => {
                const KNOWN: &[&str] = &[
                    "trim_blocks",
                    "lstrip_blocks",
                    "keep_trailing_newline",
                    "newline_sequence",
                    "block_start_string",
                    "block_end_string",
                    "variable_start_string",
                    "variable_end_string",
                    "comment_start_string",
                    "comment_end_string",
                ];
                let error = header_error(format!("unknown option '{other}' in #jinja2: header"));
                return Err(match crate::suggest::hint(other, KNOWN.iter().copied()) {
                    Some(hint) => error.with_hint(hint),
                    None => error,
                });
            }
        }
    }
    Ok((overrides, body))
}

/// Splits on commas outside quotes (delimiters such as `'[%,'` could contain one).
fn split_items(line: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => {
                items.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&line[start..]);
    items
}

fn python_literal(value: &str) -> Result<String> {
    for q in ['\'', '"'] {
        if let Some(inner) = value.strip_prefix(q) {
            return inner.strip_suffix(q).map(str::to_owned).ok_or_else(|| {
                header_error(format!("unterminated string {value} in #jinja2: header"))
            });
        }
    }
    Ok(value.to_owned())
}

fn unescape(value: &str) -> String {
    value.replace("\\r", "\r").replace("\\n", "\n")
}

fn header_error(message: String) -> Error {
    Error::Template {
        location: None,
        message,
        hint: None,
    }
}
