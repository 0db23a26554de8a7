//! Quoting for commands sent to a host's `sh`. Every module and connection builds command lines with
//! these, so arguments holding quotes, `$()`, backticks, globs, newlines or leading dashes arrive literally.

use std::borrow::Cow;

/// One word for `sh`: left bare when it holds only characters `sh` never interprets, else single-quoted.
pub fn shell_quote(word: &str) -> Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// An argument vector as one shell command line.
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each hostile word must come back from a real `sh` exactly as it went in.
    #[test]
    fn words_survive_a_real_shell() {
        let words = [
            "plain",
            "with space",
            "it's",
            "$(touch /tmp/ply-quote-pwned)",
            "`id`",
            "*",
            "a\nb",
            "-rf",
            "",
            "\"double\"",
            "back\\slash",
            "tab\there",
            "$HOME",
            "!bang",
            "semi;colon",
        ];
        for word in words {
            let script = format!("printf %s {}", shell_quote(word));
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("sh runs");
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                word,
                "script: {script}"
            );
        }
        assert!(!std::path::Path::new("/tmp/ply-quote-pwned").exists());
        assert_eq!(command_line(&["echo", "a b", "c"]), "echo 'a b' c");
    }
}
