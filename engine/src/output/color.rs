//! Ansible's colours (`constants.COLOR_CODES` with the `[colors]` defaults) and `stringc`.

pub const OK: &str = "0;32"; // green
pub const CHANGED: &str = "0;33"; // yellow
pub const SKIP: &str = "0;36"; // cyan
pub const INCLUDED: &str = "0;36"; // cyan
pub const ERROR: &str = "0;31"; // red
pub const UNREACHABLE: &str = "1;31"; // bright red
pub const WARN: &str = "1;35"; // bright purple
pub const DEBUG: &str = "1;30"; // dark gray
pub const DIFF_ADD: &str = "0;32"; // green
pub const DIFF_REMOVE: &str = "0;31"; // red
pub const DIFF_LINES: &str = "0;36"; // cyan

/// Ansible's `stringc`: every line is wrapped on its own (so a trailing newline leaves an empty coloured
/// segment behind it, exactly as Ansible emits it).
pub fn stringc(text: &str, code: &str) -> String {
    text.split('\n')
        .map(|line| format!("\x1b[{code}m{line}\x1b[0m"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_wrapped() {
        assert_eq!(
            stringc("a\nb", OK),
            "\x1b[0;32ma\x1b[0m\n\x1b[0;32mb\x1b[0m"
        );
        assert_eq!(
            stringc("-x\n", ERROR),
            "\x1b[0;31m-x\x1b[0m\n\x1b[0;31m\x1b[0m"
        );
    }
}
