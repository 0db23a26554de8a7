//! Host ranges such as `db[01:10].example.com`, `web[a:f]` and `node[1:9:2]` (Ansible's
//! `expand_hostname_range`), expanded left to right so several ranges in one name multiply.

use crate::diagnostic::shorten;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

pub fn has_range(name: &str) -> bool {
    name.contains('[')
}

/// Expands every `[begin:end(:step)]` in `name`. Error texts are Ansible's.
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let head = &name[..open];
    let rest = &name[open + 1..];
    let close = rest.find(']').ok_or_else(|| {
        format!(
            "host range in '{}' is missing its closing ']'",
            shorten(name)
        )
    })?;
    let inner = &rest[..close];
    let tail = &rest[close + 1..];
    if tail.contains(']') && !tail.contains('[') {
        // Python's split('|') would produce more than three pieces and fail to unpack.
        return Err(format!(
            "host range in '{}' has an unmatched ']'",
            shorten(name)
        ));
    }

    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".into());
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err("host range must specify end value".into());
    }
    let step_text = bounds.get(2).copied().unwrap_or("1");
    let step = python_int(step_text)?;
    if step == 0 {
        return Err("range() arg 3 must not be zero".into());
    }

    // A leading zero asks for zero padding to the width of `begin`.
    let pad = if begin.starts_with('0') && begin.len() > 1 {
        if begin.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".into());
        }
        Some(begin.len())
    } else {
        None
    };

    let items: Vec<String> = match (letter_index(begin), letter_index(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err("host range must have begin <= end".into());
            }
            python_range(b as i64, e as i64 + 1, step)
                .into_iter()
                .map(|i| LETTERS[i as usize..=i as usize].to_string())
                .collect()
        }
        _ => {
            let b = python_int(begin)?;
            let e = python_int(end)?;
            python_range(b, e + 1, step)
                .into_iter()
                .map(|i| i.to_string())
                .collect()
        }
    };

    let mut hosts = Vec::new();
    for item in items {
        let item = match pad {
            Some(width) => zfill(&item, width),
            None => item,
        };
        let candidate = format!("{head}{item}{tail}");
        if has_range(&candidate) {
            hosts.extend(expand(&candidate)?);
        } else {
            hosts.push(candidate);
        }
    }
    Ok(hosts)
}

fn letter_index(text: &str) -> Option<usize> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => LETTERS.find(c),
        _ => None,
    }
}

/// Python's `range(start, stop, step)`; Python slicing of the letters behaves the same way for positive steps.
fn python_range(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i);
        i += step;
    }
    out
}

fn python_int(text: &str) -> Result<i64, String> {
    let cleaned = text.trim();
    let valid = !cleaned.is_empty()
        && !cleaned.starts_with('_')
        && !cleaned.ends_with('_')
        && !cleaned.contains("__")
        && cleaned
            .trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_');
    valid
        .then(|| cleaned.replace('_', "").parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            format!(
                "invalid literal for int() with base 10: '{}'",
                shorten(text)
            )
        })
}

/// Python's `str.zfill`: pads after the sign.
fn zfill(text: &str, width: usize) -> String {
    if text.len() >= width {
        return text.to_string();
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    format!("{sign}{}{digits}", "0".repeat(width - text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pattern: &str) -> Vec<String> {
        expand(pattern).unwrap()
    }

    #[test]
    fn numeric_letters_steps_and_padding() {
        assert_eq!(ok("db[1:3]"), ["db1", "db2", "db3"]);
        assert_eq!(ok("db[01:03].x"), ["db01.x", "db02.x", "db03.x"]);
        assert_eq!(ok("db[8:11]"), ["db8", "db9", "db10", "db11"]);
        assert_eq!(ok("n[1:9:4]"), ["n1", "n5", "n9"]);
        assert_eq!(ok("n[01:10:3]"), ["n01", "n04", "n07", "n10"]);
        assert_eq!(ok("w[a:c]"), ["wa", "wb", "wc"]);
        assert_eq!(ok("w[x:B]"), ["wx", "wy", "wz", "wA", "wB"]);
        assert_eq!(ok("w[a:e:2]"), ["wa", "wc", "we"]);
        assert_eq!(ok("h[:2]"), ["h0", "h1", "h2"]);
        assert_eq!(ok("plain"), ["plain"]);
        assert_eq!(ok("h[5:3]"), Vec::<String>::new());
    }

    #[test]
    fn several_ranges_multiply() {
        assert_eq!(ok("r[1:2]-[a:b]"), ["r1-a", "r1-b", "r2-a", "r2-b"]);
    }

    #[test]
    fn errors_use_ansible_texts() {
        let cases = [
            ("h[1]", "host range must be begin:end or begin:end:step"),
            (
                "h[1:2:3:4]",
                "host range must be begin:end or begin:end:step",
            ),
            ("h[1:]", "host range must specify end value"),
            (
                "h[01:100]",
                "host range must specify equal-length begin and end formats",
            ),
            ("h[c:a]", "host range must have begin <= end"),
            ("h[1:x]", "invalid literal for int() with base 10: 'x'"),
            ("h[1:3:0]", "range() arg 3 must not be zero"),
        ];
        for (pattern, message) in cases {
            assert_eq!(expand(pattern).unwrap_err(), message, "{pattern}");
        }
    }
}
