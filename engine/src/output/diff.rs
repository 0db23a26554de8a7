//! `--diff` rendering as Ansible's `CallbackBase._get_diff` does it: Python's `difflib.unified_diff` over
//! `splitlines(keepends=True)`, with `\ No newline at end of file` folded into the last line.
//!
//! The matcher follows difflib's SequenceMatcher (longest matching block first, recursively, with the
//! "popular line" heuristic for inputs of 200+ lines) rather than Myers, so hunks split exactly where
//! ansible-playbook splits them.

use super::color::{stringc, DIFF_ADD, DIFF_LINES, DIFF_REMOVE};
use super::event::FileDiff;
use std::collections::HashMap;

/// Lines of context around each change (Ansible's `[diff] context`, default 3).
pub const DIFF_CONTEXT: usize = 3;

/// The text Ansible displays for one before/after pair: the unified diff followed by an empty line, or
/// nothing when both sides are equal.
pub fn render(diff: &FileDiff, context: usize, color: bool) -> String {
    let before_header = header("before", &diff.before_header);
    let after_header = header("after", &diff.after_header);
    let a = lines_for_diff(&diff.before);
    let b = lines_for_diff(&diff.after);
    let lines = unified_diff(&a, &b, &before_header, &after_header, context);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for line in &lines {
        let code = if line.starts_with('+') {
            Some(DIFF_ADD)
        } else if line.starts_with('-') {
            Some(DIFF_REMOVE)
        } else if line.starts_with("@@") {
            Some(DIFF_LINES)
        } else {
            None
        };
        match code {
            Some(code) if color => out.push_str(&stringc(line, code)),
            _ => out.push_str(line),
        }
    }
    out.push('\n');
    out
}

fn header(side: &str, name: &str) -> String {
    if name.is_empty() {
        side.to_string()
    } else {
        format!("{side}: {name}")
    }
}

fn lines_for_diff(text: &str) -> Vec<String> {
    let mut lines = splitlines_keepends(text);
    if let Some(last) = lines.last_mut() {
        if !last.ends_with('\n') {
            last.push_str("\n\\ No newline at end of file\n");
        }
    }
    lines
}

/// Python's `str.splitlines(True)`: every Unicode line boundary, `\r\n` counted as one.
fn splitlines_keepends(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let boundary = match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    current.push('\n');
                    chars.next();
                }
                true
            }
            '\n' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => true,
            _ => false,
        };
        if boundary {
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Equal,
    Replace,
    Delete,
    Insert,
}

type Opcode = (Tag, usize, usize, usize, usize);

/// `difflib.unified_diff(a, b, fromfile, tofile, n=context)` with empty file dates and `\n` line ends.
fn unified_diff(a: &[String], b: &[String], from: &str, to: &str, context: usize) -> Vec<String> {
    let matcher = Matcher::new(a, b);
    let mut out = Vec::new();
    for group in grouped_opcodes(matcher.opcodes(), context) {
        if out.is_empty() {
            out.push(format!("--- {from}\n"));
            out.push(format!("+++ {to}\n"));
        }
        let (first, last) = (group[0], group[group.len() - 1]);
        out.push(format!(
            "@@ -{} +{} @@\n",
            range_unified(first.1, last.2),
            range_unified(first.3, last.4)
        ));
        for (tag, i1, i2, j1, j2) in group {
            if tag == Tag::Equal {
                out.extend(a[i1..i2].iter().map(|l| format!(" {l}")));
                continue;
            }
            if matches!(tag, Tag::Replace | Tag::Delete) {
                out.extend(a[i1..i2].iter().map(|l| format!("-{l}")));
            }
            if matches!(tag, Tag::Replace | Tag::Insert) {
                out.extend(b[j1..j2].iter().map(|l| format!("+{l}")));
            }
        }
    }
    out
}

fn range_unified(start: usize, stop: usize) -> String {
    let length = stop - start;
    match length {
        1 => format!("{}", start + 1),
        // An empty range names the line just before it.
        0 => format!("{start},0"),
        _ => format!("{},{length}", start + 1),
    }
}

fn grouped_opcodes(mut codes: Vec<Opcode>, n: usize) -> Vec<Vec<Opcode>> {
    if codes.is_empty() {
        codes.push((Tag::Equal, 0, 1, 0, 1));
    }
    if let Some(first) = codes.first_mut() {
        if first.0 == Tag::Equal {
            first.1 = first.1.max(first.2.saturating_sub(n));
            first.3 = first.3.max(first.4.saturating_sub(n));
        }
    }
    if let Some(last) = codes.last_mut() {
        if last.0 == Tag::Equal {
            last.2 = last.2.min(last.1 + n);
            last.4 = last.4.min(last.3 + n);
        }
    }
    let mut groups = Vec::new();
    let mut group = Vec::new();
    for (tag, mut i1, i2, mut j1, j2) in codes {
        // A long unchanged stretch ends one hunk and starts the next.
        if tag == Tag::Equal && i2 - i1 > 2 * n {
            group.push((tag, i1, i2.min(i1 + n), j1, j2.min(j1 + n)));
            groups.push(std::mem::take(&mut group));
            i1 = i1.max(i2.saturating_sub(n));
            j1 = j1.max(j2.saturating_sub(n));
        }
        group.push((tag, i1, i2, j1, j2));
    }
    let only_context = group.len() == 1 && group[0].0 == Tag::Equal;
    if !group.is_empty() && !only_context {
        groups.push(group);
    }
    groups
}

struct Matcher<'a> {
    a: &'a [String],
    b: &'a [String],
    /// Positions of each line of `b`, without the "popular" lines.
    b2j: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Matcher<'a> {
    fn new(a: &'a [String], b: &'a [String]) -> Self {
        let mut b2j: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (j, line) in b.iter().enumerate() {
            b2j.entry(line.as_str()).or_default().push(j);
        }
        // difflib's autojunk: in long inputs, lines making up more than 1% of `b` cannot anchor a match.
        if b.len() >= 200 {
            let limit = b.len() / 100 + 1;
            b2j.retain(|_, positions| positions.len() <= limit);
        }
        Matcher { a, b, b2j }
    }

    fn longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> (usize, usize, usize) {
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for i in alo..ahi {
            let mut next: HashMap<usize, usize> = HashMap::new();
            if let Some(positions) = self.b2j.get(self.a[i].as_str()) {
                for &j in positions {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let k = j
                        .checked_sub(1)
                        .and_then(|p| j2len.get(&p))
                        .copied()
                        .unwrap_or(0)
                        + 1;
                    next.insert(j, k);
                    if k > bestsize {
                        besti = i + 1 - k;
                        bestj = j + 1 - k;
                        bestsize = k;
                    }
                }
            }
            j2len = next;
        }
        // Popular lines were left out of b2j; a match may still grow through them at either end.
        while besti > alo && bestj > blo && self.a[besti - 1] == self.b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            bestsize += 1;
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && self.a[besti + bestsize] == self.b[bestj + bestsize]
        {
            bestsize += 1;
        }
        (besti, bestj, bestsize)
    }

    fn matching_blocks(&self) -> Vec<(usize, usize, usize)> {
        let mut queue = vec![(0, self.a.len(), 0, self.b.len())];
        let mut blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let (i, j, k) = self.longest_match(alo, ahi, blo, bhi);
            if k > 0 {
                blocks.push((i, j, k));
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        blocks.sort_unstable();
        let mut merged: Vec<(usize, usize, usize)> = Vec::new();
        for (i, j, k) in blocks {
            match merged.last_mut() {
                Some(last) if last.0 + last.2 == i && last.1 + last.2 == j => last.2 += k,
                _ => merged.push((i, j, k)),
            }
        }
        merged.push((self.a.len(), self.b.len(), 0));
        merged
    }

    fn opcodes(&self) -> Vec<Opcode> {
        let (mut i, mut j) = (0, 0);
        let mut codes = Vec::new();
        for (ai, bj, size) in self.matching_blocks() {
            let tag = match (i < ai, j < bj) {
                (true, true) => Some(Tag::Replace),
                (true, false) => Some(Tag::Delete),
                (false, true) => Some(Tag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                codes.push((tag, i, ai, j, bj));
            }
            i = ai + size;
            j = bj + size;
            if size > 0 {
                codes.push((Tag::Equal, ai, i, bj, j));
            }
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(before: &str, after: &str) -> String {
        let d = FileDiff {
            before_header: "/etc/motd".into(),
            after_header: "/etc/motd".into(),
            before: before.into(),
            after: after.into(),
        };
        render(&d, DIFF_CONTEXT, false)
    }

    #[test]
    fn one_line_changed() {
        assert_eq!(
            diff("a\nb\nc\n", "a\nB\nc\n"),
            "--- before: /etc/motd\n+++ after: /etc/motd\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\n"
        );
    }

    #[test]
    fn new_file_and_missing_newline() {
        assert_eq!(
            diff("", "x\ny"),
            "--- before: /etc/motd\n+++ after: /etc/motd\n@@ -0,0 +1,2 @@\n+x\n+y\n\\ No newline at end of file\n\n"
        );
    }

    #[test]
    fn equal_sides_render_nothing() {
        assert_eq!(diff("same\n", "same\n"), "");
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let lines: Vec<String> = (1..=20).map(|i| format!("line {i}\n")).collect();
        let before = lines.concat();
        let mut changed = lines.clone();
        changed[1] = "second\n".into();
        changed[18] = "nineteenth\n".into();
        let out = diff(&before, &changed.concat());
        let hunks: Vec<&str> = out.lines().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(hunks, ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"], "{out}");
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(
            splitlines_keepends("a\r\nb\rc\u{2028}d"),
            vec!["a\r\n", "b\r", "c\u{2028}", "d"]
        );
    }
}
