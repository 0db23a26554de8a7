//! Small pieces of Python behaviour that Ansible's results depend on.

use chrono::{DateTime, Local, TimeDelta};
use serde_json::Value;

/// Python's `str.splitlines()`, which Ansible uses for `stdout_lines`: it also breaks on `\r`, `\v`, `\f`,
/// the file/group/record separators and the Unicode line separators, and drops the line ends.
pub fn splitlines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut line));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                lines.push(std::mem::take(&mut line));
            }
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

pub fn lines_value(text: &str) -> Value {
    Value::Array(splitlines(text).into_iter().map(Value::String).collect())
}

/// Python's `shlex.split()` (POSIX mode, no comments), which the command module applies to its free form.
pub fn shlex_split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash escapes only these.
                        Some('\\') => match chars.next() {
                            Some(c @ ('\\' | '"' | '$' | '`' | '\n')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("No escaped character".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `str(datetime.now())`: microseconds are left out when they are zero, as Python does.
pub fn py_datetime(at: &DateTime<Local>) -> String {
    if at.timestamp_subsec_micros() == 0 {
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// `str(timedelta)`: `0:00:00.002345`, `0:00:01`, `1 day, 2:03:04`.
pub fn py_timedelta(delta: TimeDelta) -> String {
    let micros_total = delta.num_microseconds().unwrap_or(i64::MAX).max(0);
    let micros = micros_total % 1_000_000;
    let seconds_total = micros_total / 1_000_000;
    let days = seconds_total / 86_400;
    let rest = seconds_total % 86_400;
    let mut out = String::new();
    if days == 1 {
        out.push_str("1 day, ");
    } else if days > 1 {
        out.push_str(&format!("{days} days, "));
    }
    out.push_str(&format!(
        "{}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ));
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_like_python() {
        assert_eq!(splitlines("a\nb\r\nc\rd\x0be\n"), ["a", "b", "c", "d", "e"]);
        assert_eq!(splitlines(""), Vec::<String>::new());
        assert_eq!(splitlines("\n\nx"), ["", "", "x"]);
    }

    #[test]
    fn shlex_like_python() {
        let cases: &[(&str, &[&str])] = &[
            ("echo hello world", &["echo", "hello", "world"]),
            ("echo 'a b' \"c d\"", &["echo", "a b", "c d"]),
            (r#"echo "a\"b" a\ b"#, &["echo", "a\"b", "a b"]),
            (r#"printf "x\ny""#, &["printf", "x\\ny"]),
            ("ab'cd'ef \"\"", &["abcdef", ""]),
            ("  spaced   out  ", &["spaced", "out"]),
        ];
        for (input, expected) in cases {
            assert_eq!(shlex_split(input).unwrap(), *expected, "{input}");
        }
        assert_eq!(
            shlex_split("echo 'open").unwrap_err(),
            "No closing quotation"
        );
    }

    #[test]
    fn timedelta_like_python() {
        assert_eq!(
            py_timedelta(TimeDelta::microseconds(2345)),
            "0:00:00.002345"
        );
        assert_eq!(py_timedelta(TimeDelta::seconds(1)), "0:00:01");
        assert_eq!(py_timedelta(TimeDelta::seconds(3723)), "1:02:03");
        assert_eq!(
            py_timedelta(TimeDelta::seconds(86_400 + 5)),
            "1 day, 0:00:05"
        );
        assert_eq!(
            py_timedelta(TimeDelta::seconds(2 * 86_400)),
            "2 days, 0:00:00"
        );
    }
}
