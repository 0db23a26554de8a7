//! Python `re` on bytes, as lineinfile uses it: patterns compiled from `to_bytes(regexp)`, searched in
//! lines read as bytes, and `match.expand(line)` for backrefs.
//!
//! fancy-regex gives look-around and back-references; in its ASCII bytes mode `.` matches any byte and
//! `\d`, `\w`, `\s`, `\b` and case folding are ASCII-only, which is exactly Python's bytes semantics. What
//! still differs is syntax, so a Python pattern is rewritten first: `$` also matches before a final newline,
//! `\Z` is the absolute end, `{` that starts no quantifier is a literal, an escaped punctuation character is
//! that character, `\0`/`\NNN` are octal, a `[` inside a class is literal, and non-ASCII characters stand
//! for their UTF-8 bytes.

use fancy_regex::{BytesMode, Captures, Regex, RegexBuilder};

/// A compiled Python bytes pattern.
#[derive(Debug)]
pub struct PyRegex {
    regex: Regex,
}

impl PyRegex {
    /// Compiles `pattern` as Python's `re.compile(pattern.encode())` would. The error reads like Python's
    /// `re.error`.
    pub fn new(pattern: &str) -> Result<PyRegex, String> {
        let translated = translate(pattern)?;
        let regex = RegexBuilder::new(&translated)
            .bytes_mode(BytesMode::Ascii)
            // Python's engine backtracks without limit; give fancy-regex plenty of room so that only
            // pathological patterns fail.
            .backtrack_limit(10_000_000)
            .build()
            .map_err(|e| format!("{e}"))?;
        Ok(PyRegex { regex })
    }

    /// `re.search(line)`: the captures of the first match anywhere in `line`.
    pub fn search<'t>(&self, line: &'t [u8]) -> Result<Option<Captures<'t, [u8]>>, String> {
        self.regex.captures(line).map_err(|e| e.to_string())
    }

    /// The number of the group called `name`, as `pattern.groupindex` has it.
    fn group_index(&self, name: &str) -> Option<usize> {
        self.regex
            .capture_names()
            .enumerate()
            .find(|(_, n)| *n == Some(name))
            .map(|(i, _)| i)
    }

    /// The number of groups, `pattern.groups` (not counting the whole match).
    fn groups(&self) -> usize {
        self.regex.captures_len().saturating_sub(1)
    }

    /// `match.expand(template)` with Python's template rules: `\1`..`\99` and `\g<N>`/`\g<name>` are
    /// groups (empty when the group did not take part), `\0` and three octal digits are octal escapes,
    /// `\n`, `\t` and the other C escapes are characters, an escaped ASCII letter without meaning is an
    /// error, and any other escaped character keeps its backslash.
    pub fn expand(&self, caps: &Captures<'_, [u8]>, template: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(template.len());
        let mut i = 0;
        let group = |index: usize, at: usize, out: &mut Vec<u8>| -> Result<(), String> {
            if index > self.groups() {
                return Err(format!("invalid group reference {index} at position {at}"));
            }
            if let Some(m) = caps.get(index) {
                out.extend_from_slice(m.as_bytes());
            }
            Ok(())
        };
        let is_oct = |b: Option<&u8>| matches!(b, Some(b'0'..=b'7'));
        while i < template.len() {
            let c = template[i];
            if c != b'\\' {
                out.push(c);
                i += 1;
                continue;
            }
            let start = i;
            let Some(&e) = template.get(i + 1) else {
                return Err(format!("bad escape (end of pattern) at position {start}"));
            };
            i += 2;
            match e {
                b'g' => {
                    if template.get(i) != Some(&b'<') {
                        return Err(format!("missing < at position {i}"));
                    }
                    let name_start = i + 1;
                    let Some(len) = template[name_start..].iter().position(|&b| b == b'>') else {
                        return Err(format!(
                            "missing >, unterminated name at position {name_start}"
                        ));
                    };
                    let name = String::from_utf8_lossy(&template[name_start..name_start + len]);
                    i = name_start + len + 1;
                    if name.is_empty() {
                        return Err(format!("missing group name at position {name_start}"));
                    }
                    let index = if is_identifier(&name) {
                        self.group_index(&name)
                            .ok_or_else(|| format!("unknown group name '{name}'"))?
                    } else if name.bytes().all(|b| b.is_ascii_digit()) {
                        name.parse::<usize>()
                            .map_err(|_| format!("invalid group reference {name}"))?
                    } else {
                        return Err(format!(
                            "bad character in group name '{name}' at position {name_start}"
                        ));
                    };
                    group(index, name_start, &mut out)?;
                }
                b'0' => {
                    // Up to two more octal digits.
                    let mut value = 0u32;
                    for _ in 0..2 {
                        if is_oct(template.get(i)) {
                            value = value * 8 + u32::from(template[i] - b'0');
                            i += 1;
                        }
                    }
                    out.push((value & 0xff) as u8);
                }
                b'1'..=b'9' => {
                    let next = template.get(i).copied();
                    match next {
                        Some(d) if d.is_ascii_digit() => {
                            i += 1;
                            if e <= b'7' && d <= b'7' && is_oct(template.get(i)) {
                                let third = template[i];
                                i += 1;
                                let value = u32::from(e - b'0') * 64
                                    + u32::from(d - b'0') * 8
                                    + u32::from(third - b'0');
                                if value > 0o377 {
                                    return Err(format!(
                                        "octal escape value \\{}{}{} outside of range 0-0o377 at position {start}",
                                        e as char, d as char, third as char
                                    ));
                                }
                                out.push(value as u8);
                            } else {
                                let index = usize::from(e - b'0') * 10 + usize::from(d - b'0');
                                group(index, start + 1, &mut out)?;
                            }
                        }
                        _ => group(usize::from(e - b'0'), start + 1, &mut out)?,
                    }
                }
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(0x0b),
                b'\\' => out.push(b'\\'),
                e if e.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{} at position {start}", e as char));
                }
                e => {
                    out.push(b'\\');
                    out.push(e);
                }
            }
        }
        Ok(out)
    }
}

/// Python's `str.isidentifier()`, for the ASCII names that matter here (a non-ASCII name cannot name a
/// group of a bytes pattern anyway).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Characters that fancy-regex reads as syntax, so a literal one must be escaped.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// Writes a literal character: syntax characters escaped, anything else that could be read differently
/// (whitespace in verbose mode, non-ASCII) as hex escapes of its UTF-8 bytes, which the bytes mode
/// matches byte by byte as Python does.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' {
        out.push(c);
    } else if is_meta(c) {
        out.push('\\');
        out.push(c);
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// Rewrites a Python pattern into fancy-regex syntax with the same meaning on bytes.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut multiline = false;
    let mut verbose = false;

    // Global flags: Python (3.11) only accepts them at the start. `a` and `L` mean nothing for bytes
    // patterns here (ASCII is the bytes default), so they are dropped.
    while chars.get(i) == Some(&'(') && chars.get(i + 1) == Some(&'?') {
        let mut j = i + 2;
        let mut flags = String::new();
        while let Some(&c) = chars.get(j) {
            if "aiLmsux".contains(c) {
                flags.push(c);
                j += 1;
            } else {
                break;
            }
        }
        if flags.is_empty() || chars.get(j) != Some(&')') {
            break;
        }
        if flags.contains('u') {
            return Err("bad inline flags: cannot use 'u' flag with a bytes pattern".into());
        }
        multiline |= flags.contains('m');
        verbose |= flags.contains('x');
        let kept: String = flags.chars().filter(|c| "imsx".contains(*c)).collect();
        if !kept.is_empty() {
            out.push_str(&format!("(?{kept})"));
        }
        i = j + 1;
    }

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                i = escape(&chars, i, false, &mut out)?;
                continue;
            }
            '[' => {
                i = class(&chars, i, verbose, &mut out)?;
                continue;
            }
            '$' if !multiline => out.push_str(r"(?:\z|(?=\n\z))"),
            '{' => match quantifier(&chars, i) {
                Some((text, end)) => {
                    out.push_str(&text);
                    i = end;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' => out.push_str(r"\}"),
            '#' if verbose => {
                // A comment runs to the end of the line; copy it as is.
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'#') => {
                // A comment group: dropped, as Python ignores it.
                match chars[i..].iter().position(|&c| c == ')') {
                    Some(len) => i += len + 1,
                    None => return Err("missing ), unterminated comment".into()),
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) != Some(&'P') => {
                // Scoped flags `(?i:...)` / `(?-i:...)`: drop `a` and `L`, which fancy-regex lacks.
                let mut j = i + 2;
                let mut flags = String::new();
                while let Some(&f) = chars.get(j) {
                    if "aiLmsux-".contains(f) {
                        flags.push(f);
                        j += 1;
                    } else {
                        break;
                    }
                }
                if !flags.is_empty() && chars.get(j) == Some(&':') {
                    let kept: String = flags.chars().filter(|c| "imsx-".contains(*c)).collect();
                    out.push_str("(?");
                    out.push_str(&kept);
                    out.push(':');
                    i = j + 1;
                    continue;
                }
                out.push_str("(?");
                i += 2;
                continue;
            }
            ']' => out.push_str(r"\]"),
            c if c.is_ascii() => out.push(c),
            c => push_literal(&mut out, c),
        }
        i += 1;
    }
    Ok(out)
}

/// A Python quantifier `{m}`, `{m,}`, `{,n}` or `{m,n}` at `i`, rewritten (`{,n}` is `{0,n}`), and the
/// index after it. `None` when the brace is a literal, as Python then reads it.
fn quantifier(chars: &[char], i: usize) -> Option<(String, usize)> {
    let close = i + chars[i..].iter().position(|&c| c == '}')?;
    let inner: String = chars[i + 1..close].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(lo) || !hi.is_none_or(digits) || (lo.is_empty() && hi.is_none()) {
        return None;
    }
    let lo = if lo.is_empty() { "0" } else { lo };
    let text = match hi {
        None => format!("{{{lo}}}"),
        Some(hi) => format!("{{{lo},{hi}}}"),
    };
    Some((text, close + 1))
}

/// An escape at `i` (a backslash), outside or inside a class; returns the index after it.
fn escape(chars: &[char], i: usize, in_class: bool, out: &mut String) -> Result<usize, String> {
    let Some(&e) = chars.get(i + 1) else {
        return Err(format!("bad escape (end of pattern) at position {i}"));
    };
    let is_oct = |k: usize| matches!(chars.get(k), Some('0'..='7'));
    let mut end = i + 2;
    match e {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 'r' | 't' | 'f' | 'v' | 'a' => {
            out.push('\\');
            out.push(e);
        }
        'b' if in_class => out.push_str(r"\x08"),
        'A' | 'b' | 'B' if !in_class => {
            out.push('\\');
            out.push(e);
        }
        'Z' if !in_class => out.push_str(r"\z"),
        'x' => {
            let hex: String = chars.iter().skip(i + 2).take(2).collect();
            if hex.len() != 2 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("incomplete escape \\x{hex} at position {i}"));
            }
            out.push_str(&format!("\\x{hex}"));
            end = i + 4;
        }
        // `\0`, and any octal digit inside a class: an octal escape of up to three digits.
        '0'..='7' if e == '0' || in_class => {
            let mut value = 0u32;
            end = i + 1;
            while end < i + 4 && is_oct(end) {
                value = value * 8 + chars[end].to_digit(8).unwrap_or(0);
                end += 1;
            }
            if value > 0o377 {
                return Err(format!(
                    "octal escape value \\{} outside of range 0-0o377 at position {i}",
                    chars[i + 1..end].iter().collect::<String>()
                ));
            }
            out.push_str(&format!("\\x{value:02x}"));
        }
        '1'..='9' if !in_class => {
            if is_oct(i + 1) && is_oct(i + 2) && is_oct(i + 3) {
                let value = chars[i + 1..i + 4]
                    .iter()
                    .fold(0u32, |v, c| v * 8 + c.to_digit(8).unwrap_or(0));
                if value > 0o377 {
                    return Err(format!(
                        "octal escape value \\{} outside of range 0-0o377 at position {i}",
                        chars[i + 1..i + 4].iter().collect::<String>()
                    ));
                }
                out.push_str(&format!("\\x{value:02x}"));
                end = i + 4;
            } else {
                let mut digits = e.to_string();
                if let Some(d @ '0'..='9') = chars.get(i + 2) {
                    digits.push(*d);
                    end += 1;
                }
                // In a group, so that a digit written after it cannot lengthen the number.
                out.push_str(&format!("(?:\\{digits})"));
            }
        }
        e if e.is_ascii_alphanumeric() => {
            return Err(format!("bad escape \\{e} at position {i}"));
        }
        e => push_literal(out, e),
    }
    Ok(end)
}

/// A character class at `i` (its `[`); returns the index after its `]`.
fn class(chars: &[char], i: usize, verbose: bool, out: &mut String) -> Result<usize, String> {
    out.push('[');
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    // A `]` first is a literal.
    if chars.get(j) == Some(&']') {
        out.push_str(r"\]");
        j += 1;
    }
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(format!("unterminated character set at position {i}"));
        };
        match c {
            ']' => {
                out.push(']');
                return Ok(j + 1);
            }
            '\\' => {
                j = escape(chars, j, true, out)?;
                continue;
            }
            // A range dash stays; a dash that cannot make a range (first or last) is escaped by
            // push_literal so that `--` never reads as a class difference.
            '-' if j > i + 1
                && chars.get(j + 1).is_some_and(|&n| n != ']')
                && chars.get(j - 1) != Some(&'-') =>
            {
                out.push('-')
            }
            c if verbose && c.is_whitespace() => push_literal(out, c),
            c if c.is_ascii_alphanumeric() || (c.is_ascii() && !is_meta(c) && c != ' ') => {
                out.push(c)
            }
            c => push_literal(out, c),
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, line: &[u8]) -> bool {
        PyRegex::new(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .search(line)
            .unwrap()
            .is_some()
    }

    #[test]
    fn python_search_semantics_on_bytes() {
        // (pattern, line, whether Python's re.search finds it)
        let cases: &[(&str, &[u8], bool)] = &[
            ("foo$", b"foo\n", true),
            ("foo$", b"foo\r\n", false),
            ("foo\\r$", b"foo\r\n", true),
            ("^foo\n$", b"foo\n", true),
            ("^$", b"\n", true),
            ("^$", b"a\n", false),
            ("foo\\Z", b"foo\n", false),
            ("foo\\Z", b"foo", true),
            ("(?m)^b", b"a\nb", true),
            ("(?<=a)b", b"ab\n", true),
            ("(?<!a)b", b"ab\n", false),
            ("(a)\\1", b"aa\n", true),
            ("(?P<x>a)(?P=x)", b"aa\n", true),
            ("a{", b"a{\n", true),
            ("a{x}", b"a{x}\n", true),
            ("a{2}", b"aa\n", true),
            ("a{,2}b", b"b\n", true),
            ("\\<x\\>", b"<x>\n", true),
            ("[[]", b"[\n", true),
            ("[]a]", b"]\n", true),
            ("[a-c]+", b"xbx", true),
            ("[a\\-c]", b"-", true),
            ("[a&&b]", b"&", true),
            ("\\w", "é".as_bytes(), false),
            ("(?i)É", "é".as_bytes(), false),
            ("é", "café\n".as_bytes(), true),
            ("caf.\\xa9", "café\n".as_bytes(), true),
            ("\\x41", b"A", true),
            ("\\101", b"A", true),
            ("\\b", b"x", true),
            (".", b"\x80", true),
            ("\\s", b"\x0b", true),
            ("(?x) a b # comment", b"ab", true),
            ("(?i)ABC", b"abc", true),
            ("a(?#comment)b", b"ab", true),
            ("", b"anything", true),
        ];
        for (pattern, line, expected) in cases {
            assert_eq!(
                matches(pattern, line),
                *expected,
                "{pattern:?} on {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn bad_patterns_fail_like_python() {
        assert!(PyRegex::new("\\q").unwrap_err().contains("bad escape \\q"));
        assert!(PyRegex::new("(").is_err());
        assert!(PyRegex::new("[a").is_err());
    }

    fn expand(pattern: &str, line: &[u8], template: &str) -> Result<String, String> {
        let re = PyRegex::new(pattern).unwrap();
        let caps = re.search(line).unwrap().expect("match");
        re.expand(&caps, template.as_bytes())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    #[test]
    fn expand_follows_python_templates() {
        let p = r"(?P<key>\w+)=(\w+)(x)?";
        let line = b"name=value\n";
        assert_eq!(expand(p, line, r"\1: \2").unwrap(), "name: value");
        assert_eq!(expand(p, line, r"\g<2>\g<key>").unwrap(), "valuename");
        assert_eq!(expand(p, line, r"[\3]").unwrap(), "[]");
        assert_eq!(expand(p, line, r"\1\t\n\\").unwrap(), "name\t\n\\");
        assert_eq!(expand(p, line, r"\.\-").unwrap(), r"\.\-");
        assert_eq!(expand(p, line, r"\0\101").unwrap(), "\0A");
        assert_eq!(
            expand(p, line, r"\10").unwrap_err(),
            "invalid group reference 10 at position 1"
        );
        assert!(expand(p, line, r"\g<nope>")
            .unwrap_err()
            .contains("unknown group name"));
        assert!(expand(p, line, r"\q")
            .unwrap_err()
            .contains("bad escape \\q"));
        assert!(expand(p, line, "end\\")
            .unwrap_err()
            .contains("bad escape (end of pattern)"));
    }
}
