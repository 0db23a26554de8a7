//! Type conversion and control filters: default, bool, int, float, string, ternary, mandatory,
//! type_debug, and the small math filters.

use super::{python_float, python_repr};
use crate::template::errors::mark_mandatory_failure;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("string", |value: Value| Value::from(python_str(&value)));
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
    env.add_filter("type_debug", |value: Value| type_debug(&value));
    env.add_filter("log", log);
    env.add_filter("pow", |x: f64, y: f64| x.powf(y));
    env.add_filter("root", |x: f64, base: Option<f64>| {
        let base = base.unwrap_or(2.0);
        if base == 2.0 {
            x.sqrt()
        } else {
            x.powf(1.0 / base)
        }
    });
}

/// Python's `str()`, which is what Jinja2's `string` filter and `{{ }}` printing produce.
pub(crate) fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".into(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number if !value.is_integer() => {
            f64::try_from(value.clone()).map_or_else(|_| value.to_string(), python_float)
        }
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable => python_repr(value),
        _ => value.to_string(),
    }
}

/// `default(value, default_value='', boolean=False)`. The arguments are taken as `Rest` because
/// `Option<Value>` would turn `default(none)` into "no argument".
fn default(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let boolean = match args.get(1) {
        Some(b) => b.is_true(),
        None => kwargs.get::<Option<bool>>("boolean")?.unwrap_or(false),
    };
    let fallback = match args.first() {
        Some(f) => f.clone(),
        None => kwargs
            .get::<Option<Value>>("default_value")?
            .unwrap_or_else(|| Value::from("")),
    };
    kwargs.assert_all_used()?;
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(fallback)
    } else {
        Ok(value)
    }
}

/// Ansible's `bool`: yes/on/1/true (any case) and 1 are true, None and booleans pass through,
/// everything else is false.
fn to_bool(value: Value) -> Value {
    match value.kind() {
        ValueKind::Bool | ValueKind::None => value,
        ValueKind::String => {
            let lowered = value.as_str().unwrap_or_default().to_lowercase();
            Value::from(matches!(lowered.as_str(), "yes" | "on" | "1" | "true"))
        }
        ValueKind::Number => Value::from(f64::try_from(value).is_ok_and(|f| f == 1.0)),
        _ => Value::from(false),
    }
}

/// Jinja2's `int`: strings are parsed (falling back to float), failures give the default.
fn to_int(
    value: Value,
    fallback: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let fallback = match fallback {
        Some(f) => f,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(b) => b,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number if value.is_integer() => value,
        ValueKind::Number => {
            f64::try_from(value).map_or(fallback, |f| Value::from(f.trunc() as i64))
        }
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim().replace('_', "");
            parse_int(&s, base)
                .map(Value::from)
                .or_else(|| {
                    (base == 10)
                        .then(|| s.parse::<f64>().ok().map(|f| Value::from(f.trunc() as i64)))
                        .flatten()
                })
                .unwrap_or(fallback)
        }
        _ => fallback,
    })
}

fn parse_int(s: &str, base: u32) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let prefix = match base {
        2 => Some("0b"),
        8 => Some("0o"),
        16 => Some("0x"),
        _ => None,
    };
    let digits = match prefix {
        Some(p) if digits.len() > 2 && digits[..2].eq_ignore_ascii_case(p) => &digits[2..],
        _ => digits,
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let n = i64::from_str_radix(digits, base).ok()?;
    Some(if negative { -n } else { n })
}

/// Jinja2's `float`: failures give the default (0.0).
fn to_float(value: Value, fallback: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fallback = match fallback {
        Some(f) => f,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0.0)),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value).map_or(fallback, Value::from),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim().to_lowercase();
            match s.as_str() {
                "inf" | "+inf" | "infinity" => Value::from(f64::INFINITY),
                "-inf" | "-infinity" => Value::from(f64::NEG_INFINITY),
                "nan" => Value::from(f64::NAN),
                _ => s.parse::<f64>().map_or(fallback, Value::from),
            }
        }
        _ => fallback,
    })
}

/// `ternary(true_val, false_val, none_val=None)`.
fn ternary(value: Value, true_val: Value, false_val: Value, none_val: Option<Value>) -> Value {
    match none_val {
        Some(none_val) if value.is_none() => none_val,
        _ if value.is_true() => true_val,
        _ => false_val,
    }
}

/// `mandatory(msg=None)`: fails on an undefined value.
fn mandatory(value: Value, msg: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let msg = match msg {
        Some(m) => Some(m),
        None => kwargs.get::<Option<String>>("msg")?,
    };
    kwargs.assert_all_used()?;
    if !value.is_undefined() {
        return Ok(value);
    }
    if let Some(msg) = msg {
        return Err(Error::new(ErrorKind::InvalidOperation, msg));
    }
    mark_mandatory_failure();
    // The error from get_attr carries the undefined's origin, so the name can be recovered.
    Err(value.get_attr("").err().unwrap_or_else(|| {
        Error::new(ErrorKind::UndefinedError, "Mandatory variable not defined.")
    }))
}

/// Python type names, as Ansible users know them from `type_debug`.
fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn log(x: f64, base: Option<f64>) -> f64 {
    match base {
        None => x.ln(),
        Some(10.0) => x.log10(),
        Some(b) => x.ln() / b.ln(),
    }
}
