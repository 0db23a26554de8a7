//! Host ranges such as `db[01:10].example.com`, `web[a:f]` and `node[1:9:2]` (Ansible's
//! `expand_hostname_range`), expanded left to right so several ranges in one name multiply.

use crate::diagnostic::shorten;
use crate::limits::HOST_RANGE_MAX_HOSTS;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

pub fn has_range(name: &str) -> bool {
    name.contains('[')
}

/// Expands every `[begin:end(:step)]` in `name`. Error texts are Ansible's, but for the limit on how many
/// hosts one pattern may produce ([`HOST_RANGE_MAX_HOSTS`]), which is checked before any host is made.
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let (ranges, last) = parse(name)?;
    let count = ranges
        .iter()
        .fold(1u128, |total, range| total.saturating_mul(range.len()));
    if count > HOST_RANGE_MAX_HOSTS as u128 {
        return Err(format!(
            "host range limit: '{}' would expand to {count} hosts, more than the {HOST_RANGE_MAX_HOSTS} one \
             pattern may",
            shorten(name)
        ));
    }
    // Several ranges multiply, the leftmost varying slowest, as Ansible's recursion does.
    let mut hosts = vec![String::new()];
    for range in &ranges {
        let items = range.items();
        hosts = hosts
            .iter()
            .flat_map(|prefix| {
                items
                    .iter()
                    .map(move |item| format!("{prefix}{}{item}", range.head))
            })
            .collect();
    }
    for host in &mut hosts {
        host.push_str(last);
    }
    Ok(hosts)
}

/// One `[begin:end(:step)]` of a name and the literal text before it. Bounds are `i128` so that Python's
/// `range(begin, end + 1, step)` cannot overflow at `i64::MAX`.
struct Range<'a> {
    head: &'a str,
    begin: i128,
    stop: i128,
    step: i128,
    letters: bool,
    /// A leading zero asks for zero padding to the width of `begin`.
    pad: Option<usize>,
}

impl Range<'_> {
    /// The length of Python's `range(begin, stop, step)`.
    fn len(&self) -> u128 {
        let (span, step) = if self.step > 0 {
            (self.stop - self.begin, self.step)
        } else {
            (self.begin - self.stop, -self.step)
        };
        if span <= 0 {
            0
        } else {
            span.unsigned_abs().div_ceil(step.unsigned_abs())
        }
    }

    fn items(&self) -> Vec<String> {
        let mut items = Vec::new();
        let mut i = self.begin;
        while (self.step > 0 && i < self.stop) || (self.step < 0 && i > self.stop) {
            let item = if self.letters {
                // In bounds: begin and stop came from LETTERS, and the step moves toward stop.
                let index = i as usize;
                LETTERS[index..=index].to_string()
            } else {
                i.to_string()
            };
            items.push(match self.pad {
                Some(width) => zfill(&item, width),
                None => item,
            });
            i += self.step;
        }
        items
    }
}

/// The ranges of `name`, left to right, and the text after the last one. Like Ansible, the text after
/// an empty range is not looked at.
fn parse(name: &str) -> Result<(Vec<Range<'_>>, &str), String> {
    let mut ranges = Vec::new();
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let head = &rest[..open];
        let inside = &rest[open + 1..];
        let close = inside.find(']').ok_or_else(|| {
            format!(
                "host range in '{}' is missing its closing ']'",
                shorten(name)
            )
        })?;
        let inner = &inside[..close];
        let tail = &inside[close + 1..];
        if tail.contains(']') && !tail.contains('[') {
            // Python's split('|') would produce more than three pieces and fail to unpack.
            return Err(format!(
                "host range in '{}' has an unmatched ']'",
                shorten(name)
            ));
        }
        let range = bounds(head, inner)?;
        let empty = range.len() == 0;
        ranges.push(range);
        rest = tail;
        if empty {
            break;
        }
    }
    Ok((ranges, rest))
}

/// The `begin:end(:step)` between brackets.
fn bounds<'a>(head: &'a str, inner: &str) -> Result<Range<'a>, String> {
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
    let pad = if begin.starts_with('0') && begin.len() > 1 {
        if begin.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".into());
        }
        Some(begin.len())
    } else {
        None
    };
    let (first, last, letters) = match (letter_index(begin), letter_index(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err("host range must have begin <= end".into());
            }
            (b as i128, e as i128, true)
        }
        _ => (python_int(begin)?.into(), python_int(end)?.into(), false),
    };
    Ok(Range {
        head,
        begin: first,
        stop: last + 1,
        step: step.into(),
        letters,
        pad,
    })
}

fn letter_index(text: &str) -> Option<usize> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => LETTERS.find(c),
        _ => None,
    }
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
    fn patterns_past_the_host_range_limit_are_refused_before_expanding() {
        let cases = [
            ("web[1:50000000]", "50000000"),
            ("r[1:1000]-[1:1000]", "1000000"),
            ("h[0:9223372036854775807]", "9223372036854775808"),
            (
                "h[-9223372036854775808:9223372036854775807]",
                "18446744073709551616",
            ),
            ("h[a:Z][1:1000000000][1:1000000000]", "52000000000000000000"),
        ];
        for (pattern, count) in cases {
            let error = expand(pattern).unwrap_err();
            assert!(error.starts_with("host range limit:"), "{pattern}: {error}");
            assert!(
                error.contains(&format!("'{pattern}' would expand to {count} hosts")),
                "{pattern}: {error}"
            );
        }
        assert_eq!(ok("h[1:100000]").len(), HOST_RANGE_MAX_HOSTS);
        assert_eq!(ok("h[9223372036854775806:9223372036854775807]").len(), 2);
        assert_eq!(ok("h[5:3][1:100000000]"), Vec::<String>::new());
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
