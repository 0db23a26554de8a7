//! Python's `shlex.split(line, comments=True)` (POSIX mode), which is how INI host lines are tokenised.
//! Ansible users rely on its quirks: `#` starts a comment even in the middle of a word (`pass=ab#cd` is
//! `pass=ab`), quotes can appear mid-token, and `''` is an empty token.

#[derive(Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Character offset of the token's first character in the input.
    pub start: usize,
}

/// Python's error texts: `No closing quotation`, `No escaped character`.
pub fn split(line: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && is_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let start = i;
        let mut text = String::new();
        let mut quoted = false;
        let mut ended_by_comment = false;
        while i < chars.len() {
            let c = chars[i];
            if is_space(c) {
                break;
            }
            if c == '#' {
                ended_by_comment = true;
                break;
            }
            match c {
                '\'' => {
                    quoted = true;
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err("No closing quotation".into()),
                            Some('\'') => break,
                            Some(&q) => text.push(q),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                '"' => {
                    quoted = true;
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err("No closing quotation".into()),
                            Some('"') => break,
                            Some('\\') => match chars.get(i + 1) {
                                None => return Err("No closing quotation".into()),
                                Some(&next @ ('"' | '\\')) => {
                                    text.push(next);
                                    i += 1;
                                }
                                Some(_) => text.push('\\'),
                            },
                            Some(&q) => text.push(q),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                '\\' => match chars.get(i + 1) {
                    None => return Err("No escaped character".into()),
                    Some(&next) => {
                        text.push(next);
                        i += 2;
                    }
                },
                other => {
                    text.push(other);
                    i += 1;
                }
            }
        }
        if !text.is_empty() || quoted {
            tokens.push(Token { text, start });
        }
        if ended_by_comment {
            break;
        }
    }
    Ok(tokens)
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn behaves_like_python_shlex() {
        assert_eq!(texts("h1 a=b#c d=e"), ["h1", "a=b"]);
        assert_eq!(
            texts(r#"h x="a b" y='c d' z=a\ b"#),
            ["h", "x=a b", "y=c d", "z=a b"]
        );
        assert_eq!(texts(r#"h x="a\"b\\c\d""#), ["h", r#"x=a"b\c\d"#]);
        assert_eq!(texts("h x='' # trailing"), ["h", "x="]);
        assert_eq!(texts("h x=\"'03'\""), ["h", "x='03'"]);
        assert_eq!(texts("h x=\"#not a comment\""), ["h", "x=#not a comment"]);
        assert_eq!(split("h  k=v").unwrap()[1].start, 3);
    }

    #[test]
    fn unbalanced_quotes_fail() {
        assert_eq!(split("h x='oops").unwrap_err(), "No closing quotation");
        assert_eq!(split("h x=oops\\").unwrap_err(), "No escaped character");
    }
}
