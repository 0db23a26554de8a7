//! lineinfile's decisions on a file's lines, with no I/O: Ansible's `present()` and `absent()` step for
//! step, so that every quirk (which match wins, where a line goes, when a separator is added) is the same.
//!
//! Lines are bytes and keep their line ends, as Python's `readlines()` on a binary file gives them: a
//! line ends after each `\n`, so a `\r` stays inside the line and the last line may have no end.

use super::pyre::PyRegex;

/// What lineinfile appends to a line: `os.linesep`, which is `\n` on every POSIX host, whatever line ends
/// the file already uses.
pub const LINESEP: &[u8] = b"\n";

/// `readlines()` of a binary file.
pub fn split_lines(content: &[u8]) -> Vec<Vec<u8>> {
    content
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// `line.rstrip(b'\r\n')`: every trailing `\r` and `\n`, in any order.
fn strip_eol(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &line[..end]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Python truthiness of an optional string: `None` and `''` are false.
fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// The arguments of `present()`, after main() defaulted `insertafter` to `EOF` when neither insert
/// option was given.
pub struct Present<'a> {
    pub regexp: Option<&'a PyRegex>,
    pub search_string: Option<&'a [u8]>,
    pub line: &'a [u8],
    pub insertafter: Option<&'a str>,
    pub insertbefore: Option<&'a str>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub lines: Vec<Vec<u8>>,
    pub changed: bool,
    pub msg: String,
}

/// The pattern `insertafter`/`insertbefore` give, if any: `BOF` and `EOF` are positions, not patterns,
/// and `insertafter` wins when (against the mutual exclusion) both would apply.
pub fn insert_pattern<'a>(
    insertafter: Option<&'a str>,
    insertbefore: Option<&'a str>,
) -> Option<&'a str> {
    match (insertafter, insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(a),
        (_, Some(b)) if b != "BOF" => Some(b),
        _ => None,
    }
}

/// Ansible's `present()`: ensures `line` is in `lines`. `insert` is the compiled [`insert_pattern`].
pub fn present(
    mut lines: Vec<Vec<u8>>,
    p: &Present<'_>,
    insert: Option<&PyRegex>,
) -> Result<Outcome, String> {
    // The line the regexp or search_string matched (the last one, or the first with firstmatch).
    let mut found: Option<usize> = None;
    if let Some(re) = p.regexp {
        for (n, cur) in lines.iter().enumerate() {
            if re.search(cur)?.is_some() {
                found = Some(n);
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(needle) = p.search_string {
        for (n, cur) in lines.iter().enumerate() {
            if contains(cur, needle) {
                found = Some(n);
                if p.firstmatch {
                    break;
                }
            }
        }
    }

    // index0: the line to replace; index1: where to insert.
    let mut index0 = found;
    let mut index1: Option<usize> = None;
    if found.is_none() {
        for (n, cur) in lines.iter().enumerate() {
            if strip_eol(cur) == p.line {
                // The last exact copy wins, and it never stops the scan.
                index0 = Some(n);
            } else if let Some(ins) = insert {
                if ins.search(cur)?.is_some() {
                    // Ansible tests the options' truthiness here, so an empty pattern (which matches
                    // every line) sets no position at all and the line goes to the end.
                    if truthy(p.insertafter) {
                        index1 = Some(n + 1);
                        if p.firstmatch {
                            break;
                        }
                    }
                    if truthy(p.insertbefore) {
                        index1 = Some(n);
                        if p.firstmatch {
                            break;
                        }
                    }
                }
            }
        }
    }

    let with_sep = |line: &[u8]| {
        let mut l = line.to_vec();
        l.extend_from_slice(LINESEP);
        l
    };
    let added = |lines: Vec<Vec<u8>>| Outcome {
        lines,
        changed: true,
        msg: "line added".into(),
    };
    let unchanged = |lines: Vec<Vec<u8>>| Outcome {
        lines,
        changed: false,
        msg: String::new(),
    };

    if let Some(i0) = index0 {
        // A match or an exact copy: replace that line unless it is already byte for byte the new one
        // (so an exact copy ending in `\r\n` or lacking its `\n` is rewritten with `\n`).
        let mut new_line = match (p.backrefs, found, p.regexp) {
            (true, Some(_), Some(re)) => {
                let caps = re
                    .search(&lines[i0])?
                    .ok_or_else(|| "the matched line no longer matches".to_string())?;
                re.expand(&caps, p.line)?
            }
            _ => p.line.to_vec(),
        };
        if !new_line.ends_with(LINESEP) {
            new_line.extend_from_slice(LINESEP);
        }
        if lines[i0] == new_line {
            return Ok(unchanged(lines));
        }
        lines[i0] = new_line;
        return Ok(Outcome {
            lines,
            changed: true,
            msg: "line replaced".into(),
        });
    }
    if p.backrefs {
        // Without a match there is nothing to build the line from: leave the file alone.
        return Ok(unchanged(lines));
    }
    if p.insertbefore == Some("BOF") || p.insertafter == Some("BOF") {
        lines.insert(0, with_sep(p.line));
        return Ok(added(lines));
    }
    let Some(i1) = index1.filter(|_| p.insertafter != Some("EOF")) else {
        // EOF, asked for or because the insert pattern matched nowhere: a last line without a line end
        // gets one first.
        if lines
            .last()
            .is_some_and(|l| !l.ends_with(b"\n") && !l.ends_with(b"\r"))
        {
            lines.push(LINESEP.to_vec());
        }
        lines.push(with_sep(p.line));
        return Ok(added(lines));
    };
    if truthy(p.insertafter) {
        // Not when the line is already right there. After the last line nothing is added in between,
        // even when that line has no line end (Ansible's behaviour: the two lines then run together).
        if i1 == lines.len() {
            if strip_eol(&lines[i1 - 1]) == p.line {
                return Ok(unchanged(lines));
            }
            lines.push(with_sep(p.line));
        } else {
            if strip_eol(&lines[i1]) == p.line {
                return Ok(unchanged(lines));
            }
            lines.insert(i1, with_sep(p.line));
        }
        return Ok(added(lines));
    }
    // insertbefore matched (and neither regexp nor search_string did).
    lines.insert(i1, with_sep(p.line));
    Ok(added(lines))
}

/// What `absent()` looks for in each line.
pub enum Absent<'a> {
    Regexp(&'a PyRegex),
    SearchString(&'a [u8]),
    Line(&'a [u8]),
}

/// Ansible's `absent()`: removes every line that matches; returns the lines kept and how many went.
pub fn absent(lines: Vec<Vec<u8>>, what: &Absent<'_>) -> Result<(Vec<Vec<u8>>, usize), String> {
    let mut kept = Vec::with_capacity(lines.len());
    let mut removed = 0;
    for cur in lines {
        let hit = match what {
            Absent::Regexp(re) => re.search(&cur)?.is_some(),
            Absent::SearchString(needle) => contains(&cur, needle),
            Absent::Line(line) => strip_eol(&cur) == *line,
        };
        if hit {
            removed += 1;
        } else {
            kept.push(cur);
        }
    }
    Ok((kept, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_readlines() {
        assert_eq!(
            split_lines(b"a\r\nb\n\nc"),
            vec![
                b"a\r\n".to_vec(),
                b"b\n".to_vec(),
                b"\n".to_vec(),
                b"c".to_vec()
            ]
        );
        assert!(split_lines(b"").is_empty());
        assert_eq!(strip_eol(b"x\r\r\n\n"), b"x");
        assert_eq!(strip_eol(b"\r\n"), b"");
    }

    #[test]
    fn insert_pattern_skips_positions() {
        assert_eq!(insert_pattern(Some("EOF"), None), None);
        assert_eq!(insert_pattern(Some("BOF"), None), None);
        assert_eq!(insert_pattern(Some("^x"), None), Some("^x"));
        assert_eq!(insert_pattern(None, Some("BOF")), None);
        assert_eq!(insert_pattern(None, Some("")), Some(""));
    }
}
