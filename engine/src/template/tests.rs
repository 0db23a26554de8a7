//! Ansible's Jinja tests: task results, regex matching, versions, sets and truthiness.
//! (`defined`, `none`, `string`, `mapping`, ... come from minijinja.)

use super::pyregex::{self, Flags};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use std::cmp::Ordering;

/// Every test name, for did-you-mean hints.
pub(crate) const NAMES: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "true",
    "false",
    "filter",
    "test",
    "succeeded",
    "success",
    "successful",
    "failed",
    "failure",
    "changed",
    "change",
    "skipped",
    "skip",
    "finished",
    "started",
    "reachable",
    "unreachable",
    "match",
    "search",
    "regex",
    "version",
    "version_compare",
    "subset",
    "superset",
    "contains",
    "truthy",
    "falsy",
    "any",
    "all",
    "nan",
    "abs",
    "exists",
    "file",
    "directory",
    "link",
    "is_file",
    "is_dir",
    "is_link",
];

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_test("failed", |r: Value| result_flag(&r, "failed", "failed"));
    env.add_test("failure", |r: Value| result_flag(&r, "failed", "failure"));
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, move |r: Value| {
            result_flag(&r, "failed", name).map(|f| !f)
        });
    }
    for name in ["changed", "change"] {
        env.add_test(name, move |r: Value| changed(&r, name));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, move |r: Value| result_flag(&r, "skipped", name));
    }
    env.add_test("unreachable", |r: Value| {
        result_flag(&r, "unreachable", "unreachable")
    });
    env.add_test("reachable", |r: Value| {
        result_flag(&r, "unreachable", "reachable").map(|f| !f)
    });
    env.add_test("finished", |r: Value| {
        result_flag(&r, "finished", "finished")
            .map(|f| f || r.get_attr("finished").is_ok_and(|v| v.is_undefined()))
    });
    env.add_test("started", |r: Value| {
        result_flag(&r, "started", "started")
            .map(|f| f || r.get_attr("started").is_ok_and(|v| v.is_undefined()))
    });
    env.add_test(
        "match",
        |v: Value, p: String, i: Option<bool>, m: Option<bool>, k: Kwargs| {
            regex_test(&v, &p, i, m, &k, true)
        },
    );
    env.add_test(
        "search",
        |v: Value, p: String, i: Option<bool>, m: Option<bool>, k: Kwargs| {
            regex_test(&v, &p, i, m, &k, false)
        },
    );
    env.add_test(
        "regex",
        |v: Value, p: String, i: Option<bool>, m: Option<bool>, k: Kwargs| {
            let anchored = match k
                .get::<Option<String>>("match_type")?
                .as_deref()
                .unwrap_or("search")
            {
                "match" => true,
                "search" => false,
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("regex: unsupported match_type '{other}'"),
                    ));
                }
            };
            regex_test(&v, &p, i, m, &k, anchored)
        },
    );
    env.add_test("version", version);
    env.add_test("version_compare", version);
    env.add_test("subset", |a: Value, b: Value| -> Result<bool, Error> {
        let b: Vec<Value> = b.try_iter()?.collect();
        Ok(a.try_iter()?.all(|x| b.contains(&x)))
    });
    env.add_test("superset", |a: Value, b: Value| -> Result<bool, Error> {
        let a: Vec<Value> = a.try_iter()?.collect();
        Ok(b.try_iter()?.all(|x| a.contains(&x)))
    });
    env.add_test(
        "contains",
        |seq: Value, item: Value| -> Result<bool, Error> { Ok(seq.try_iter()?.any(|x| x == item)) },
    );
    env.add_test(
        "truthy",
        |v: Value, kwargs: Kwargs| -> Result<bool, Error> { truthy(&v, &kwargs) },
    );
    env.add_test("falsy", |v: Value, kwargs: Kwargs| -> Result<bool, Error> {
        truthy(&v, &kwargs).map(|t| !t)
    });
    env.add_test("any", |v: Value| -> Result<bool, Error> {
        Ok(v.try_iter()?.any(|x| x.is_true()))
    });
    env.add_test("all", |v: Value| -> Result<bool, Error> {
        Ok(v.try_iter()?.all(|x| x.is_true()))
    });
    env.add_test("nan", |v: Value| f64::try_from(v).is_ok_and(f64::is_nan));
    env.add_test("abs", |p: String| std::path::Path::new(&p).is_absolute());
    env.add_test("exists", |p: String| std::path::Path::new(&p).exists());
    for name in ["file", "is_file"] {
        env.add_test(name, |p: String| std::path::Path::new(&p).is_file());
    }
    for name in ["directory", "is_dir"] {
        env.add_test(name, |p: String| std::path::Path::new(&p).is_dir());
    }
    for name in ["link", "is_link"] {
        env.add_test(name, |p: String| std::path::Path::new(&p).is_symlink());
    }
}

fn expect_result<'a>(result: &'a Value, test: &str) -> Result<&'a Value, Error> {
    if result.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "The '{test}' test expects a dictionary, got {}",
                result.kind()
            ),
        ));
    }
    Ok(result)
}

/// A boolean key of a registered task result, absent meaning false.
fn result_flag(result: &Value, key: &str, test: &str) -> Result<bool, Error> {
    let result = expect_result(result, test)?;
    Ok(result.get_attr(key)?.is_true())
}

/// `changed`: the result's own flag, or any loop item's.
fn changed(result: &Value, test: &str) -> Result<bool, Error> {
    let result = expect_result(result, test)?;
    let flag = result.get_attr("changed")?;
    if !flag.is_undefined() {
        return Ok(flag.is_true());
    }
    let results = result.get_attr("results")?;
    if matches!(results.kind(), ValueKind::Seq) {
        for item in results.try_iter()? {
            if item.kind() == ValueKind::Map && item.get_attr("changed")?.is_true() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn regex_test(
    value: &Value,
    pattern: &str,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
    kwargs: &Kwargs,
    anchored: bool,
) -> Result<bool, Error> {
    let flags = Flags {
        ignorecase: match ignorecase {
            Some(b) => b,
            None => kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        },
        multiline: match multiline {
            Some(b) => b,
            None => kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false),
        },
    };
    kwargs.assert_all_used()?;
    let text = super::filters::python_str(value);
    let re = pyregex::compile(pattern, flags)?;
    if anchored {
        pyregex::matches_at_start(&re, &text)
    } else {
        Ok(pyregex::search(&re, &text)?.is_some())
    }
}

fn truthy(value: &Value, kwargs: &Kwargs) -> Result<bool, Error> {
    let convert_bool = kwargs.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if convert_bool {
        if let Some(s) = value.as_str() {
            let lowered = s.to_lowercase();
            if matches!(lowered.as_str(), "yes" | "on" | "1" | "true") {
                return Ok(true);
            }
            if matches!(lowered.as_str(), "no" | "off" | "0" | "false") {
                return Ok(false);
            }
        }
    }
    Ok(value.is_true())
}

/// `version(version, operator='eq', strict=False, version_type=None)`.
fn version(
    value: Value,
    other: Value,
    operator: Option<String>,
    strict: Option<bool>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let operator = match operator {
        Some(op) => op,
        None => kwargs
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".into()),
    };
    let strict = match strict {
        Some(s) => s,
        None => kwargs.get::<Option<bool>>("strict")?.unwrap_or(false),
    };
    let version_type = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    let kind = match (version_type.as_deref(), strict) {
        (Some("loose") | None, false) => VersionType::Loose,
        (Some("strict"), _) | (None, true) => VersionType::Strict,
        (Some("semver" | "semantic"), _) => VersionType::Semver,
        (Some("pep440"), _) => VersionType::Loose,
        (Some(other), _) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "Invalid version type ({other}). Must be one of loose, strict, semver, semantic, pep440"
                ),
            ));
        }
    };
    let (a, b) = (
        super::filters::python_str(&value),
        super::filters::python_str(&other),
    );
    if a.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "Input version value cannot be empty",
        ));
    }
    if b.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "Version parameter to compare against cannot be empty",
        ));
    }
    let ordering = compare_versions(&a, &b, kind)?;
    Ok(match operator.as_str() {
        "==" | "=" | "eq" => ordering == Ordering::Equal,
        "!=" | "<>" | "ne" => ordering != Ordering::Equal,
        "<" | "lt" => ordering == Ordering::Less,
        "<=" | "le" => ordering != Ordering::Greater,
        ">" | "gt" => ordering == Ordering::Greater,
        ">=" | "ge" => ordering != Ordering::Less,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("Invalid operator type ({other})"),
            ));
        }
    })
}

#[derive(Clone, Copy)]
enum VersionType {
    Loose,
    Strict,
    Semver,
}

#[derive(Debug, PartialEq, Eq, Clone)]
enum Part {
    Num(u64),
    Text(String),
}

/// distutils' LooseVersion: runs of digits and of letters, dots dropped; comparing a number with
/// text is a TypeError in Python 3, reported as a failed comparison.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            parts.push(Part::Num(digits.parse().unwrap_or(u64::MAX)));
        } else if c.is_ascii_alphabetic() {
            let mut text = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_alphabetic()) {
                text.push(d);
                chars.next();
            }
            parts.push(Part::Text(text));
        } else {
            if c != '.' {
                parts.push(Part::Text(c.to_string()));
            }
            chars.next();
        }
    }
    parts
}

fn compare_parts(a: &[Part], b: &[Part], a_str: &str, b_str: &str) -> Result<Ordering, Error> {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "Version comparison failed: cannot compare '{a_str}' with '{b_str}' (number against text)"
                    ),
                ));
            }
        };
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

fn compare_versions(a: &str, b: &str, kind: VersionType) -> Result<Ordering, Error> {
    match kind {
        VersionType::Loose => compare_parts(&loose_parts(a), &loose_parts(b), a, b),
        VersionType::Strict => Ok(strict_version(a)?.cmp(&strict_version(b)?)),
        VersionType::Semver => {
            let (pa, pb) = (semver(a)?, semver(b)?);
            Ok(pa.0.cmp(&pb.0).then_with(|| match (&pa.1, &pb.1) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    compare_parts(&loose_parts(x), &loose_parts(y), a, b).unwrap_or(x.cmp(y))
                }
            }))
        }
    }
}

/// distutils' StrictVersion: `N.N[.N][(a|b)N]`; a pre-release sorts before the release.
fn strict_version(v: &str) -> Result<([u64; 3], (u8, u64)), Error> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("Version comparison failed: invalid version number '{v}'"),
        )
    };
    let (main, pre) = match v.find(['a', 'b']) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let numbers: Vec<&str> = main.split('.').collect();
    if !(2..=3).contains(&numbers.len()) {
        return Err(invalid());
    }
    let mut out = [0u64; 3];
    for (slot, n) in out.iter_mut().zip(&numbers) {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        *slot = n.parse().map_err(|_| invalid())?;
    }
    let pre = match pre {
        None => (2, 0),
        Some(p) => {
            let tag = if p.starts_with('a') { 0 } else { 1 };
            let n = &p[1..];
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            (tag, n.parse().map_err(|_| invalid())?)
        }
    };
    Ok((out, pre))
}

fn semver(v: &str) -> Result<([u64; 3], Option<String>), Error> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("Version comparison failed: invalid semantic version '{v}'"),
        )
    };
    let v = v.split('+').next().unwrap_or(v);
    let (main, pre) = match v.split_once('-') {
        Some((m, p)) => (m, Some(p.to_owned())),
        None => (v, None),
    };
    let numbers: Vec<&str> = main.split('.').collect();
    if numbers.len() != 3 {
        return Err(invalid());
    }
    let mut out = [0u64; 3];
    for (slot, n) in out.iter_mut().zip(&numbers) {
        *slot = n.parse().map_err(|_| invalid())?;
    }
    Ok((out, pre))
}
