//! Rendering an [`Error`] the way a compiler does: message, `--> file:line:column`, the source line with a
//! caret under the column, and the hint.

use crate::error::Error;
use std::fmt::Write;

/// The full text shown for an error (without colour, which the caller may add).
pub fn render(error: &Error) -> String {
    let mut out = format!("ERROR! {error}\n");
    if let Some(location) = error.location() {
        let _ = writeln!(out, "  --> {location}");
        if let Some(line) = source_line(location.path(), location.line) {
            let number = location.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = line
                .chars()
                .take(location.column.saturating_sub(1))
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
}
