//! YAML 1.1 plain-scalar resolution, as PyYAML's resolver does it (the rules Ansible users rely on).

use super::node::NodeValue;

/// Resolves an untagged plain scalar to null, bool, int, float or string.
pub(crate) fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeValue::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeValue::Bool(false)
        }
        _ => {}
    }
    if let Some(int) = parse_int(text) {
        return NodeValue::Int(int);
    }
    if let Some(float) = parse_float(text) {
        return NodeValue::Float(float);
    }
    NodeValue::String(text.to_owned())
}

/// Resolves a scalar carrying an explicit core tag (`!!str`, `!!int`, ...).
pub(crate) fn resolve_tagged(text: &str, tag: &str) -> Option<NodeValue> {
    match tag {
        "str" => Some(NodeValue::String(text.to_owned())),
        "int" => parse_int(text).map(NodeValue::Int),
        "float" => parse_float(text)
            .or_else(|| parse_int(text).map(|i| i as f64))
            .map(NodeValue::Float),
        "bool" => match resolve_plain(text) {
            value @ NodeValue::Bool(_) => Some(value),
            _ => None,
        },
        "null" => Some(NodeValue::Null),
        _ => None,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// PyYAML's int forms: `0b1010`, `0x1f`, `0644` (octal), `1_000`, and decimal. `0o644` is *not* an int in
/// YAML 1.1, which is why Ansible documentation tells users to quote modes.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = split_sign(text);
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0b") {
        (2, rest)
    } else if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c == '_' || c.is_digit(radix)) {
        return None;
    }
    let cleaned: String = body.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return None;
    }
    let magnitude = i64::from_str_radix(&cleaned, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// PyYAML's floats need a dot (`1e3` stays a string) and a signed exponent; `.inf` and `.nan` are floats.
fn parse_float(text: &str) -> Option<f64> {
    let (negative, body) = split_sign(text);
    let sign = if negative { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if text == body => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.')?;
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !digits_ok(whole) || !digits_ok(fraction) || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    if whole.starts_with('_') || (whole.is_empty() && fraction.starts_with('_')) {
        return None;
    }
    if let Some(exponent) = exponent {
        let (_, exp_digits) = split_sign(exponent);
        if !(exponent.starts_with(['+', '-']))
            || exp_digits.is_empty()
            || !exp_digits.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
    }
    let cleaned: String = body.chars().filter(|c| *c != '_').collect();
    let cleaned = if cleaned.starts_with('.') {
        format!("0{cleaned}")
    } else {
        cleaned
    };
    cleaned.parse::<f64>().ok().map(|v| sign * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_pyyaml() {
        let cases: &[(&str, NodeValue)] = &[
            ("", NodeValue::Null),
            ("~", NodeValue::Null),
            ("null", NodeValue::Null),
            ("yes", NodeValue::Bool(true)),
            ("On", NodeValue::Bool(true)),
            ("NO", NodeValue::Bool(false)),
            ("off", NodeValue::Bool(false)),
            ("False", NodeValue::Bool(false)),
            ("y", NodeValue::String("y".into())),
            ("0644", NodeValue::Int(0o644)),
            ("0755", NodeValue::Int(0o755)),
            ("0o644", NodeValue::String("0o644".into())),
            ("644", NodeValue::Int(644)),
            ("0", NodeValue::Int(0)),
            ("-12", NodeValue::Int(-12)),
            ("1_000", NodeValue::Int(1000)),
            ("0x1F", NodeValue::Int(31)),
            ("0b101", NodeValue::Int(5)),
            ("089", NodeValue::String("089".into())),
            ("1.5", NodeValue::Float(1.5)),
            ("-.5", NodeValue::Float(-0.5)),
            ("1.0e+3", NodeValue::Float(1000.0)),
            ("1e3", NodeValue::String("1e3".into())),
            ("9.6", NodeValue::Float(9.6)),
            ("15", NodeValue::Int(15)),
            ("10.0.0.1", NodeValue::String("10.0.0.1".into())),
            ("hello", NodeValue::String("hello".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(&resolve_plain(text), expected, "scalar {text:?}");
        }
        assert!(matches!(resolve_plain(".inf"), NodeValue::Float(f) if f.is_infinite()));
    }
}
