//! Rendering an [`Error`] the way a compiler does: message, `--> file:line:column`, the source line with a
//! caret under the column, and the hint. A long source line is quoted only around the column.

use crate::error::Error;
use crate::limits::QUOTE_WIDTH;
use std::borrow::Cow;
use std::fmt::Write;

/// Marks where quoted text was cut.
const ELLIPSIS: char = '\u{2026}';

/// The full text shown for an error (without colour, which the caller may add).
pub fn render(error: &Error) -> String {
    let mut out = format!("ERROR! {error}\n");
    if let Some(location) = error.location() {
        let _ = writeln!(out, "  --> {location}");
        if let Some(line) = source_line(location.path(), location.line) {
            let (line, column) = excerpt(&line, location.column);
            let number = location.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = line
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {line}");
            let _ = writeln!(out, "{pad} | {caret_at}^");
        }
    }
    if let Some(hint) = error.hint() {
        let _ = writeln!(out, "  = hint: {hint}");
    }
    out
}

fn source_line(path: &std::path::Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.trim_end().to_string())
}

/// The part of `line` to quote for an error at the 1-based `column`: all of it when it is short, else
/// [`QUOTE_WIDTH`] characters around the column with an ellipsis on each side that was cut. Returns the
/// text and the column's position in it.
pub fn excerpt(line: &str, column: usize) -> (Cow<'_, str>, usize) {
    let length = line.chars().count();
    if length <= QUOTE_WIDTH {
        return (Cow::Borrowed(line), column);
    }
    let at = column.saturating_sub(1).min(length);
    // Centre the column, but show a full window at either end of the line.
    let end = (at.saturating_sub(QUOTE_WIDTH / 2) + QUOTE_WIDTH).min(length);
    let start = end - QUOTE_WIDTH;
    let byte = |index: usize| {
        line.char_indices()
            .nth(index)
            .map_or(line.len(), |(b, _)| b)
    };
    let mut quoted = String::with_capacity(QUOTE_WIDTH * 4 + 6);
    if start > 0 {
        quoted.push(ELLIPSIS);
    }
    quoted.push_str(&line[byte(start)..byte(end)]);
    if end < length {
        quoted.push(ELLIPSIS);
    }
    (Cow::Owned(quoted), at - start + 1 + usize::from(start > 0))
}

/// Steps joined by ` -> ` (an import cycle, a chain of includes); a long chain keeps its first and last
/// three steps, which show where it starts and what repeats.
pub fn chain(steps: impl IntoIterator<Item = String>) -> String {
    let steps: Vec<String> = steps.into_iter().collect();
    if steps.len() <= 8 {
        return steps.join(" -> ");
    }
    let (head, tail) = (&steps[..3], &steps[steps.len() - 3..]);
    format!(
        "{} -> {ELLIPSIS} ({} more) -> {}",
        head.join(" -> "),
        steps.len() - 6,
        tail.join(" -> ")
    )
}

/// Input quoted inside a message (Ansible's "got: LINE" texts): at most [`QUOTE_WIDTH`] characters.
pub fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(QUOTE_WIDTH) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}{ELLIPSIS}", &text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::Location;

    #[test]
    fn shows_location_snippet_caret_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.yml");
        std::fs::write(
            &file,
            "- hosts: all\n  tasks:\n    - linein_file: path=/x\n",
        )
        .unwrap();
        let error = Error::parse(Location::new(&file, 3, 7), "unknown module 'linein_file'")
            .with_hint("did you mean 'lineinfile'?");
        let expected = format!(
            "ERROR! unknown module 'linein_file'\n  --> {}:3:7\n  |\n3 |     - linein_file: path=/x\n  |       ^\n  = hint: did you mean 'lineinfile'?\n",
            file.display()
        );
        assert_eq!(render(&error), expected);
    }

    #[test]
    fn long_lines_are_quoted_around_the_column() {
        let long = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let window = |text: &str| text.trim_matches(ELLIPSIS).chars().count();
        // (line, column, what the excerpt starts and ends with, where the column lands in it)
        let cases: Vec<(&str, usize, &str, &str, usize)> = vec![
            ("short line", 3, "short line", "short line", 3),
            (&long, 1001, "\u{2026}aaa", "bbb\u{2026}", 42),
            (&long, 1, "aaa", "aaa\u{2026}", 1),
            (&long, 2001, "\u{2026}bbb", "bbb", 81),
            (&long, 5000, "\u{2026}bbb", "bbb", 82),
        ];
        for (line, column, starts, ends, at) in cases {
            let (quoted, quoted_column) = excerpt(line, column);
            assert!(
                quoted.starts_with(starts) && quoted.ends_with(ends),
                "{column}: {quoted}"
            );
            assert!(window(&quoted) <= QUOTE_WIDTH, "{column}: {quoted}");
            assert_eq!(quoted_column, at, "{column}: {quoted}");
        }
        let (quoted, at) = excerpt(&long, 1001);
        assert_eq!(quoted.chars().nth(at - 1), Some('X'));
    }

    #[test]
    fn a_syntax_error_at_the_end_of_a_long_line_quotes_a_window() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("long.yml");
        let line = format!("x: {}", "é".repeat(100_000));
        std::fs::write(&file, format!("{line}\n")).unwrap();
        let error = Error::parse(Location::new(&file, 1, line.chars().count()), "bad");
        let rendered = render(&error);
        assert!(rendered.len() < 1000, "{rendered}");
        assert!(rendered.contains("\u{2026}éé"), "{rendered}");
    }

    #[test]
    fn long_chains_keep_their_ends() {
        let steps = |n: usize| (1..=n).map(|i| format!("s{i}"));
        assert_eq!(chain(steps(3)), "s1 -> s2 -> s3");
        assert_eq!(
            chain(steps(8)),
            "s1 -> s2 -> s3 -> s4 -> s5 -> s6 -> s7 -> s8"
        );
        assert_eq!(
            chain(steps(64)),
            "s1 -> s2 -> s3 -> \u{2026} (58 more) -> s62 -> s63 -> s64"
        );
    }

    #[test]
    fn shortened_input_is_cut_with_an_ellipsis() {
        assert_eq!(shorten("web1"), "web1");
        let long = "h".repeat(QUOTE_WIDTH + 1);
        assert_eq!(
            shorten(&long),
            format!("{}\u{2026}", "h".repeat(QUOTE_WIDTH))
        );
    }
}
