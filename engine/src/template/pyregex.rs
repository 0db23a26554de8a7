//! Python `re` semantics on top of fancy-regex: pattern spelling differences, flags and the
//! `\1` / `\g<name>` replacement syntax of `re.sub`.

use fancy_regex::{Captures, Regex};
use minijinja::{Error, ErrorKind};

#[derive(Clone, Copy, Default)]
pub(crate) struct Flags {
    pub(crate) ignorecase: bool,
    pub(crate) multiline: bool,
}

/// Compiles a Python regular expression.
pub(crate) fn compile(pattern: &str, flags: Flags) -> Result<Regex, Error> {
    let mut translated = String::with_capacity(pattern.len() + 8);
    if flags.ignorecase || flags.multiline {
        translated.push_str("(?");
        if flags.ignorecase {
            translated.push('i');
        }
        if flags.multiline {
            translated.push('m');
        }
        translated.push(')');
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                // Python's \Z is the absolute end; Rust spells it \z.
                Some('Z') => translated.push_str("\\z"),
                Some(other) => {
                    translated.push('\\');
                    translated.push(other);
                }
                None => translated.push('\\'),
            }
        } else if c == '(' && pattern_continues_with(&mut chars, "?P=") {
            // (?P=name) backreference → \k<name>
            let name: String = chars.by_ref().take_while(|&c| c != ')').collect();
            translated.push_str(&format!("\\k<{name}>"));
        } else {
            translated.push(c);
        }
    }
    Regex::new(&translated).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("invalid regular expression '{pattern}': {e}"),
        )
    })
}

fn pattern_continues_with(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    prefix: &str,
) -> bool {
    let lookahead: String = chars.clone().take(prefix.len()).collect();
    if lookahead == prefix {
        for _ in 0..prefix.len() {
            chars.next();
        }
        true
    } else {
        false
    }
}

fn regex_error(e: fancy_regex::Error) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("regular expression failed: {e}"),
    )
}

/// One piece of a parsed `re.sub` replacement template.
enum Piece {
    Literal(String),
    Group(usize),
    Named(String),
}

/// Parses Python's replacement syntax: `\1`..`\99`, `\g<1>`, `\g<name>`, `\n`-style escapes.
fn parse_replacement(template: &str) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 == chars.len() {
            literal.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        i += 2;
        let flush = |literal: &mut String, pieces: &mut Vec<Piece>| {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(literal)));
            }
        };
        match next {
            '0'..='9' => {
                let mut number = next.to_digit(10).unwrap_or(0) as usize;
                if i < chars.len() && chars[i].is_ascii_digit() {
                    number = number * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
                    i += 1;
                }
                flush(&mut literal, &mut pieces);
                pieces.push(Piece::Group(number));
            }
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "missing < in \\g<name> replacement",
                    ));
                }
                let end = chars[i..].iter().position(|&c| c == '>').ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "missing > in \\g<name> replacement",
                    )
                })?;
                let name: String = chars[i + 1..i + end].iter().collect();
                i += end + 1;
                flush(&mut literal, &mut pieces);
                match name.parse::<usize>() {
                    Ok(n) => pieces.push(Piece::Group(n)),
                    Err(_) => pieces.push(Piece::Named(name)),
                }
            }
            'n' => literal.push('\n'),
            't' => literal.push('\t'),
            'r' => literal.push('\r'),
            'f' => literal.push('\x0c'),
            'v' => literal.push('\x0b'),
            'a' => literal.push('\x07'),
            'b' => literal.push('\x08'),
            '\\' => literal.push('\\'),
            c if c.is_ascii_alphabetic() => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("bad escape \\{c} in replacement"),
                ));
            }
            other => {
                literal.push('\\');
                literal.push(other);
            }
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

fn expand(pieces: &[Piece], caps: &Captures<'_, str>, out: &mut String) -> Result<(), Error> {
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Group(n) => {
                if *n >= caps.len() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("invalid group reference {n}"),
                    ));
                }
                out.push_str(caps.get(*n).map_or("", |m| m.as_str()));
            }
            Piece::Named(name) => out.push_str(caps.name(name).map_or("", |m| m.as_str())),
        }
    }
    Ok(())
}

/// `re.subn(pattern, replacement, value, count)`: the new string and the number of replacements.
pub(crate) fn sub(
    re: &Regex,
    replacement: &str,
    value: &str,
    count: usize,
) -> Result<(String, usize), Error> {
    let pieces = parse_replacement(replacement)?;
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    let mut done = 0;
    for caps in re.captures_iter(value) {
        let caps = caps.map_err(regex_error)?;
        let whole = caps.get(0).expect("group 0 always matches");
        out.push_str(&value[last..whole.start()]);
        expand(&pieces, &caps, &mut out)?;
        last = whole.end();
        done += 1;
        if count > 0 && done == count {
            break;
        }
    }
    out.push_str(&value[last..]);
    Ok((out, done))
}

/// `re.search`: the captures of the first match.
pub(crate) fn search<'t>(re: &Regex, value: &'t str) -> Result<Option<Captures<'t, str>>, Error> {
    re.captures(value).map_err(regex_error)
}

/// Whether `re.match` (anchored at the start) succeeds.
pub(crate) fn matches_at_start(re: &Regex, value: &str) -> Result<bool, Error> {
    let anchored = Regex::new(&format!("^(?:{})", re.as_str())).map_err(regex_error)?;
    anchored.is_match(value).map_err(regex_error)
}

/// All captures, as `re.finditer` would yield them.
pub(crate) fn find_all<'t>(re: &Regex, value: &'t str) -> Result<Vec<Captures<'t, str>>, Error> {
    re.captures_iter(value)
        .map(|c| c.map_err(regex_error))
        .collect()
}
