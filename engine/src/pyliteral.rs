//! Python's `ast.literal_eval`, for INI inventory values and for templated strings that render as a
//! list or dict (as ansible-core converts them). INI inventories: the INI plugin evaluates every `key=value` value as a
//! Python literal and keeps the raw string when that fails. So `2222` is an int, `True` a bool, `'03'` the
//! string "03", `[1, 2]` a list, while `03`, `FALSE`, `yes` and `a b` stay strings.

use serde_json::{Map, Number, Value};

/// The INI value: the evaluated literal, or the text itself.
pub fn ini_value(text: &str) -> Value {
    literal_eval(text).unwrap_or_else(|| Value::String(text.to_string()))
}

/// How deeply brackets may nest: CPython's tokenizer (`MAXLEVEL`) refuses the 201st level with "too many
/// nested parentheses", so a deeper value stays a string, as in Ansible. It also bounds this parser's
/// recursion, which a 20,000-deep INI value overflowed.
const MAX_NESTING: usize = 200;

/// `None` wherever Python raises (SyntaxError, ValueError) or produces something JSON cannot hold.
pub fn literal_eval(text: &str) -> Option<Value> {
    // literal_eval strips leading spaces and tabs before parsing.
    let chars: Vec<char> = text.trim_start_matches([' ', '\t']).chars().collect();
    let mut parser = Parser {
        chars,
        pos: 0,
        depth: 0,
    };
    let value = parser.expression()?;
    parser.skip_trivia();
    (parser.pos == parser.chars.len())
        .then(|| value.into_json())
        .flatten()
}

/// Intermediate values: Python distinguishes what may be signed or added (numbers) from containers.
enum Lit {
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(String),
    Bool(bool),
    None,
    Ellipsis,
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

impl Lit {
    fn into_json(self) -> Option<Value> {
        Some(match self {
            Lit::Int(i) => match i64::try_from(i) {
                Ok(small) => Value::from(small),
                Err(_) => match u64::try_from(i) {
                    Ok(big) => Value::from(big),
                    Err(_) => Value::Number(Number::from_f64(i as f64)?),
                },
            },
            Lit::Float(f) => Value::Number(Number::from_f64(f)?),
            // Ansible turns complex numbers (which JSON lacks) back into their Python text.
            Lit::Complex(re, im) => Value::String(complex_str(re, im)),
            Lit::Str(s) | Lit::Bytes(s) => Value::String(s),
            Lit::Bool(b) => Value::Bool(b),
            Lit::None => Value::Null,
            Lit::Ellipsis => Value::String("...".into()),
            Lit::List(items) => Value::Array(
                items
                    .into_iter()
                    .map(Lit::into_json)
                    .collect::<Option<_>>()?,
            ),
            Lit::Dict(pairs) => {
                let mut map = Map::new();
                for (k, v) in pairs {
                    map.insert(json_key(&k)?, v.into_json()?);
                }
                Value::Object(map)
            }
        })
    }
}

/// How `json.dumps` spells a non-string dict key.
fn json_key(key: &Lit) -> Option<String> {
    Some(match key {
        Lit::Str(s) | Lit::Bytes(s) => s.clone(),
        Lit::Int(i) => i.to_string(),
        Lit::Float(f) => python_float_repr(*f),
        Lit::Bool(true) => "true".into(),
        Lit::Bool(false) => "false".into(),
        Lit::None => "null".into(),
        _ => return None,
    })
}

/// How json.dumps writes a float (the inventory's values and keys go through it).
pub fn python_float_repr(f: f64) -> String {
    crate::pyjson::json_float(f)
}

fn complex_component(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{}", f as i64)
    } else {
        python_float_repr(f)
    }
}

fn complex_str(re: f64, im: f64) -> String {
    if re == 0.0 && re.is_sign_positive() {
        format!("{}j", complex_component(im))
    } else {
        let sign = if im < 0.0 || (im == 0.0 && im.is_sign_negative()) {
            "-"
        } else {
            "+"
        };
        format!(
            "({}{sign}{}j)",
            complex_component(re),
            complex_component(im.abs())
        )
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Brackets open around `pos`.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    /// Whitespace and `#` comments, which Python's tokenizer drops (so `8080 # web port` is 8080).
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\x0c' {
                self.pos += 1;
            } else if c == '#' {
                self.pos = self.chars.len();
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_trivia();
        if self.peek() == Some(expected) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Top level: a single value, or a bare tuple `1, 2`.
    fn expression(&mut self) -> Option<Lit> {
        let first = self.sum()?;
        self.skip_trivia();
        if self.peek() != Some(',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(',') {
            self.skip_trivia();
            if self.peek().is_none() {
                break;
            }
            items.push(self.sum()?);
        }
        Some(Lit::List(items))
    }

    /// `a + bj` / `a - bj`: the only binary operation literal_eval accepts.
    fn sum(&mut self) -> Option<Lit> {
        let left = self.signed()?;
        self.skip_trivia();
        let op = match self.peek() {
            Some(op @ ('+' | '-')) => op,
            _ => return Some(left),
        };
        self.pos += 1;
        let right = self.signed()?;
        let real = match left {
            Lit::Int(i) => i as f64,
            Lit::Float(f) => f,
            _ => return None,
        };
        let Lit::Complex(0.0, im) = right else {
            return None;
        };
        Some(Lit::Complex(real, if op == '+' { im } else { -im }))
    }

    /// One optional unary sign directly on a number, as `_convert_signed_num` allows.
    fn signed(&mut self) -> Option<Lit> {
        self.skip_trivia();
        let negative = match self.peek() {
            Some('-') => true,
            Some('+') => false,
            _ => return self.atom(),
        };
        self.pos += 1;
        self.skip_trivia();
        if !matches!(self.peek(), Some('0'..='9' | '.')) {
            return None;
        }
        let number = self.atom()?;
        Some(match (number, negative) {
            (n, false) => n,
            (Lit::Int(i), true) => Lit::Int(-i),
            (Lit::Float(f), true) => Lit::Float(-f),
            (Lit::Complex(re, im), true) => Lit::Complex(-re, -im),
            _ => return None,
        })
    }

    fn atom(&mut self) -> Option<Lit> {
        self.skip_trivia();
        let c = self.peek()?;
        match c {
            '[' | '(' | '{' => {
                if self.depth == MAX_NESTING {
                    return None;
                }
                self.pos += 1;
                self.depth += 1;
                let inside = match c {
                    '[' => self.items(']').map(Lit::List),
                    '(' => self.parenthesised(),
                    _ => self.brace(),
                };
                self.depth -= 1;
                inside
            }
            '.' if self.peek_at(1) == Some('.') && self.peek_at(2) == Some('.') => {
                self.pos += 3;
                Some(Lit::Ellipsis)
            }
            '0'..='9' | '.' => self.number(),
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                if matches!(self.peek(), Some('\'' | '"')) {
                    self.pos = start;
                    return self.strings();
                }
                match word.as_str() {
                    "True" => Some(Lit::Bool(true)),
                    "False" => Some(Lit::Bool(false)),
                    "None" => Some(Lit::None),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn items(&mut self, close: char) -> Option<Vec<Lit>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.sum()?);
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    fn parenthesised(&mut self) -> Option<Lit> {
        if self.eat(')') {
            return Some(Lit::List(Vec::new()));
        }
        let first = self.sum()?;
        if self.eat(')') {
            return Some(first);
        }
        if !self.eat(',') {
            return None;
        }
        let mut rest = self.items(')')?;
        rest.insert(0, first);
        Some(Lit::List(rest))
    }

    /// `{...}`: a dict, or a set (which Ansible turns into a list).
    fn brace(&mut self) -> Option<Lit> {
        if self.eat('}') {
            return Some(Lit::Dict(Vec::new()));
        }
        let first = self.sum()?;
        if !self.eat(':') {
            let mut items = vec![first];
            if self.eat(',') {
                items.extend(self.items('}')?);
            } else if !self.eat('}') {
                return None;
            }
            return Some(Lit::List(items));
        }
        let mut pairs = vec![(first, self.sum()?)];
        loop {
            if self.eat('}') {
                break;
            }
            if !self.eat(',') {
                return None;
            }
            if self.eat('}') {
                break;
            }
            let key = self.sum()?;
            if !self.eat(':') {
                return None;
            }
            pairs.push((key, self.sum()?));
        }
        // Python dicts hold one entry per key (the last value, the first position), and lists are unhashable.
        let mut unique: Vec<(Lit, Lit)> = Vec::new();
        for (key, value) in pairs {
            if matches!(key, Lit::List(_) | Lit::Dict(_)) {
                return None;
            }
            let name = json_key(&key);
            match unique.iter_mut().find(|(k, _)| json_key(k) == name) {
                Some(slot) => slot.1 = value,
                None => unique.push((key, value)),
            }
        }
        Some(Lit::Dict(unique))
    }

    fn digits(&mut self, valid: impl Fn(char) -> bool) -> Option<String> {
        let mut out = String::new();
        let mut last_underscore = true;
        while let Some(c) = self.peek() {
            if valid(c) {
                out.push(c);
                last_underscore = false;
            } else if c == '_' && !last_underscore && self.peek_at(1).is_some_and(&valid) {
                last_underscore = true;
            } else {
                break;
            }
            self.pos += 1;
        }
        (!out.is_empty()).then_some(out)
    }

    fn number(&mut self) -> Option<Lit> {
        if self.peek() == Some('0') {
            let radix = match self.peek_at(1) {
                Some('x' | 'X') => 16,
                Some('o' | 'O') => 8,
                Some('b' | 'B') => 2,
                _ => 0,
            };
            if radix != 0 {
                self.pos += 2;
                if self.peek() == Some('_') {
                    self.pos += 1;
                }
                let digits = self.digits(|c| c.is_digit(radix))?;
                self.no_trailing_word()?;
                return i128::from_str_radix(&digits, radix).ok().map(Lit::Int);
            }
        }
        let whole = self.digits(|c| c.is_ascii_digit());
        let mut is_float = false;
        let mut text = whole.clone().unwrap_or_default();
        if self.peek() == Some('.') {
            self.pos += 1;
            is_float = true;
            text.push('.');
            if let Some(frac) = self.digits(|c| c.is_ascii_digit()) {
                text.push_str(&frac);
            } else if whole.is_none() {
                return None;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            let mut exponent = String::from("e");
            if let Some(sign @ ('+' | '-')) = self.peek() {
                exponent.push(sign);
                self.pos += 1;
            }
            match self.digits(|c| c.is_ascii_digit()) {
                Some(d) => {
                    exponent.push_str(&d);
                    text.push_str(&exponent);
                    is_float = true;
                }
                None => {
                    self.pos = save;
                    return None;
                }
            }
        }
        if matches!(self.peek(), Some('j' | 'J')) {
            self.pos += 1;
            self.no_trailing_word()?;
            let im: f64 = text.parse().ok()?;
            return Some(Lit::Complex(0.0, im));
        }
        self.no_trailing_word()?;
        if is_float {
            let f: f64 = text.parse().ok()?;
            return f.is_finite().then_some(Lit::Float(f));
        }
        // Decimal ints may not have leading zeros unless they are all zeros (`0644` is a SyntaxError).
        if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
            return None;
        }
        text.parse().ok().map(Lit::Int)
    }

    /// `1abc` is a SyntaxError in Python, not `1` followed by a name.
    fn no_trailing_word(&self) -> Option<()> {
        match self.peek() {
            Some(c) if c.is_alphanumeric() || c == '_' => None,
            _ => Some(()),
        }
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Lit> {
        let mut text = String::new();
        let mut bytes: Option<bool> = None;
        loop {
            self.skip_trivia();
            let start = self.pos;
            let mut raw = false;
            let mut is_bytes = false;
            while let Some(c) = self.peek() {
                match c.to_ascii_lowercase() {
                    'r' => raw = true,
                    'b' => is_bytes = true,
                    'u' => {}
                    // f-strings are not literals.
                    'f' => return None,
                    _ => break,
                }
                self.pos += 1;
            }
            let Some(quote @ ('\'' | '"')) = self.peek() else {
                if bytes.is_some() && start == self.pos {
                    break;
                }
                return None;
            };
            if self.pos - start > 2 {
                return None;
            }
            match bytes {
                Some(previous) if previous != is_bytes => return None,
                _ => bytes = Some(is_bytes),
            }
            text.push_str(&self.string_body(quote, raw, is_bytes)?);
            self.skip_trivia();
            if !matches!(
                self.peek(),
                Some('\'' | '"' | 'r' | 'R' | 'b' | 'B' | 'u' | 'U')
            ) {
                break;
            }
        }
        Some(if bytes == Some(true) {
            Lit::Bytes(text)
        } else {
            Lit::Str(text)
        })
    }

    fn string_body(&mut self, quote: char, raw: bool, is_bytes: bool) -> Option<String> {
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote
                && (!triple || (self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote)))
            {
                self.pos += if triple { 3 } else { 1 };
                return Some(out);
            }
            if c == '\n' && !triple {
                return None;
            }
            if c != '\\' {
                out.push(c);
                self.pos += 1;
                continue;
            }
            let next = self.peek_at(1)?;
            if raw {
                out.push('\\');
                out.push(next);
                self.pos += 2;
                continue;
            }
            self.pos += 2;
            match next {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(next),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut value = next.to_digit(8)?;
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                value = value * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(value)?);
                }
                'x' => out.push(self.hex_escape(2)?),
                'u' if !is_bytes => out.push(self.hex_escape(4)?),
                'U' if !is_bytes => out.push(self.hex_escape(8)?),
                // \N{NAME} needs the Unicode name table; treat it as not a literal.
                'N' if !is_bytes => return None,
                other => {
                    // Unknown escapes keep their backslash.
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, len: usize) -> Option<char> {
        let digits: String = self.chars.get(self.pos..self.pos + len)?.iter().collect();
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += len;
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_match_python_literal_eval_with_string_fallback() {
        let cases: Vec<(&str, Value)> = vec![
            ("2222", json!(2222)),
            ("-5", json!(-5)),
            ("+5", json!(5)),
            ("1_000", json!(1000)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("00", json!(0)),
            ("0644", json!("0644")),
            ("03", json!("03")),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            ("5.", json!(5.0)),
            (".5", json!(0.5)),
            ("True", json!(true)),
            ("False", json!(false)),
            ("None", Value::Null),
            ("FALSE", json!("FALSE")),
            ("yes", json!("yes")),
            ("'03'", json!("03")),
            ("\"a b\"", json!("a b")),
            ("'a' \"b\"", json!("ab")),
            ("'a\\nb'", json!("a\nb")),
            ("r'a\\nb'", json!("a\\nb")),
            ("b'x'", json!("x")),
            ("'\\x41\\u00e9'", json!("Aé")),
            ("[1, 'two', [3]]", json!([1, "two", [3]])),
            ("(1, 2)", json!([1, 2])),
            ("(1,)", json!([1])),
            ("()", json!([])),
            ("(7)", json!(7)),
            ("1, 2", json!([1, 2])),
            ("{'a': 1, 'b': [True]}", json!({"a": 1, "b": [true]})),
            ("{1: 'x', 1: 'y'}", json!({"1": "y"})),
            ("{}", json!({})),
            ("{1, 2}", json!([1, 2])),
            ("8080 # web port", json!(8080)),
            ("bar # comment", json!("bar # comment")),
            ("  7", json!(7)),
            ("...", json!("...")),
            ("1j", json!("1j")),
            ("1+2j", json!("(1+2j)")),
            ("--5", json!("--5")),
            ("a b", json!("a b")),
            ("a=b", json!("a=b")),
            ("[1, 2", json!("[1, 2")),
            ("1abc", json!("1abc")),
            ("f'x'", json!("f'x'")),
            ("", json!("")),
            ("/usr/bin/python3", json!("/usr/bin/python3")),
            ("192.168.1.1", json!("192.168.1.1")),
            ("1.5.3", json!("1.5.3")),
        ];
        for (input, expected) in cases {
            assert_eq!(ini_value(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn nesting_deeper_than_python_allows_stays_a_string() {
        let nested = |open: &str, close: &str, levels: usize| {
            format!("{}1{}", open.repeat(levels), close.repeat(levels))
        };
        let mut two_hundred = json!(1);
        for _ in 0..MAX_NESTING {
            two_hundred = json!([two_hundred]);
        }
        assert_eq!(ini_value(&nested("[", "]", MAX_NESTING)), two_hundred);
        // ast.literal_eval raises "too many nested parentheses" from level 201 on, whatever the brackets.
        for (open, close, levels) in [("[", "]", 201), ("(", ",)", 201), ("{'a': ", "}", 20_000)] {
            let text = nested(open, close, levels);
            assert_eq!(
                ini_value(&text),
                Value::String(text.clone()),
                "{open} x {levels}"
            );
        }
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(100.0), "100.0");
        assert_eq!(python_float_repr(1.5), "1.5");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(python_float_repr(0.0001), "0.0001");
    }
}
