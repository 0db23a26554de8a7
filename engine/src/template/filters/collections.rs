//! List and dict filters: combine, dict2items, items2dict, flatten and the set-like
//! union/difference/intersect (which keep order and are case-sensitive, unlike `unique`).

use crate::template::convert::{from_json, to_json};
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("flatten", flatten);
    env.add_filter("union", |a: Value, b: Value| -> Result<Value, Error> {
        let mut all = items(&a)?;
        all.extend(items(&b)?);
        Ok(Value::from(unique_exact(all)))
    });
    env.add_filter("difference", |a: Value, b: Value| -> Result<Value, Error> {
        let b = items(&b)?;
        Ok(Value::from(unique_exact(
            items(&a)?.into_iter().filter(|x| !b.contains(x)).collect(),
        )))
    });
    env.add_filter("intersect", |a: Value, b: Value| -> Result<Value, Error> {
        let b = items(&b)?;
        Ok(Value::from(unique_exact(
            items(&a)?.into_iter().filter(|x| b.contains(x)).collect(),
        )))
    });
    env.add_filter("extract", extract);
    env.add_filter("product", product);
    env.add_filter(
        "symmetric_difference",
        |a: Value, b: Value| -> Result<Value, Error> {
            let (a, b) = (items(&a)?, items(&b)?);
            let mut out: Vec<Value> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
            out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            Ok(Value::from(unique_exact(out)))
        },
    );
}

/// `key | extract(container, morekeys)`: `container[key]`, then each of `morekeys` in turn (Ansible's
/// `map('extract', hostvars, 'ansible_host')` idiom). A missing key gives undefined, as `[]` does.
fn extract(key: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut value = container.get_item(&key)?;
    let more = match morekeys {
        None => Vec::new(),
        Some(keys) if keys.kind() == ValueKind::Seq => items(&keys)?,
        Some(key) => vec![key],
    };
    for key in more {
        if value.is_undefined() {
            break;
        }
        value = value.get_item(&key)?;
    }
    Ok(value)
}

/// `a | product(b, c...)`: the cartesian product as lists (Python's itertools.product).
fn product(first: Value, rest: Rest<Value>) -> Result<Value, Error> {
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    let mut lists = vec![items(&first)?];
    for other in rest.iter() {
        lists.push(items(other)?);
    }
    for list in lists {
        rows = rows
            .into_iter()
            .flat_map(|row| {
                list.iter().map(move |item| {
                    let mut next = row.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    Ok(Value::from(
        rows.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

fn items(value: &Value) -> Result<Vec<Value>, Error> {
    if value.is_undefined() {
        return Err(value
            .get_attr("")
            .err()
            .unwrap_or_else(|| Error::from(ErrorKind::UndefinedError)));
    }
    Ok(value.try_iter()?.collect())
}

fn unique_exact(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; later dicts win. Lists of dicts are
/// accepted as terms too.
fn combine(first: Value, rest: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = match kwargs
        .get::<Option<String>>("list_merge")?
        .as_deref()
        .unwrap_or("replace")
    {
        "replace" => ListMerge::Replace,
        "keep" => ListMerge::Keep,
        "append" => ListMerge::Append,
        "prepend" => ListMerge::Prepend,
        "append_rp" => ListMerge::AppendRp,
        "prepend_rp" => ListMerge::PrependRp,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "'{other}' is not a valid list_merge value (valid are: replace, keep, append, prepend, append_rp, prepend_rp)"
                ),
            ));
        }
    };
    kwargs.assert_all_used()?;
    let mut dicts = Vec::new();
    for term in std::iter::once(first).chain(rest.0) {
        let json = to_json(&term)?;
        match json {
            serde_json::Value::Array(list) => dicts.extend(list),
            other => dicts.push(other),
        }
    }
    let mut result = serde_json::Map::new();
    for dict in dicts {
        let serde_json::Value::Object(dict) = dict else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "failed to combine variables, expected dicts but got a '{}'",
                    json_type(&dict)
                ),
            ));
        };
        result = merge_hash(result, dict, recursive, list_merge);
    }
    Ok(from_json(&serde_json::Value::Object(result)))
}

fn python_type(value: &Value) -> String {
    to_json(value).map_or_else(
        |_| "undefined".to_owned(),
        |j| format!("<class '{}'>", json_type(&j)),
    )
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "NoneType",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_f64() => "float",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

type Map = serde_json::Map<String, serde_json::Value>;

/// Ansible's `merge_hash` (utils/vars.py).
fn merge_hash(mut x: Map, y: Map, recursive: bool, list_merge: ListMerge) -> Map {
    if x.is_empty() || x == y {
        return y;
    }
    for (key, y_value) in y {
        let Some(x_value) = x.get_mut(&key) else {
            x.insert(key, y_value);
            continue;
        };
        match (x_value, y_value) {
            (serde_json::Value::Object(xm), serde_json::Value::Object(ym)) => {
                *xm = if recursive {
                    merge_hash(std::mem::take(xm), ym, recursive, list_merge)
                } else {
                    ym
                };
            }
            (serde_json::Value::Array(xl), serde_json::Value::Array(yl)) => {
                let old = std::mem::take(xl);
                *xl = match list_merge {
                    ListMerge::Replace => yl,
                    ListMerge::Keep => old,
                    ListMerge::Append => old.into_iter().chain(yl).collect(),
                    ListMerge::Prepend => yl.into_iter().chain(old).collect(),
                    ListMerge::AppendRp => {
                        let mut kept: Vec<_> =
                            old.into_iter().filter(|z| !yl.contains(z)).collect();
                        kept.extend(yl);
                        kept
                    }
                    ListMerge::PrependRp => {
                        let kept: Vec<_> = old.into_iter().filter(|z| !yl.contains(z)).collect();
                        yl.into_iter().chain(kept).collect()
                    }
                };
            }
            (x_value, y_value) => *x_value = y_value,
        }
    }
    x
}

fn key_names(
    kwargs: &Kwargs,
    key_name: Option<String>,
    value_name: Option<String>,
) -> Result<(String, String), Error> {
    let key_name = match key_name {
        Some(k) => k,
        None => kwargs
            .get::<Option<String>>("key_name")?
            .unwrap_or_else(|| "key".into()),
    };
    let value_name = match value_name {
        Some(v) => v,
        None => kwargs
            .get::<Option<String>>("value_name")?
            .unwrap_or_else(|| "value".into()),
    };
    kwargs.assert_all_used()?;
    Ok((key_name, value_name))
}

fn dict2items(
    dict: Value,
    key_name: Option<String>,
    value_name: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let (key_name, value_name) = key_names(&kwargs, key_name, value_name)?;
    if dict.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "dict2items requires a dictionary, got {} instead.",
                python_type(&dict)
            ),
        ));
    }
    let mut out = Vec::new();
    for key in dict.try_iter()? {
        let value = dict.get_item(&key)?;
        let mut item = serde_json::Map::new();
        item.insert(key_name.clone(), to_json(&key)?);
        item.insert(value_name.clone(), to_json(&value)?);
        out.push(from_json(&serde_json::Value::Object(item)));
    }
    Ok(Value::from(out))
}

fn items2dict(
    list: Value,
    key_name: Option<String>,
    value_name: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let (key_name, value_name) = key_names(&kwargs, key_name, value_name)?;
    if !matches!(list.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "items2dict requires a list, got {} instead.",
                python_type(&list)
            ),
        ));
    }
    let mut out = serde_json::Map::new();
    for item in list.try_iter()? {
        let key = item.get_attr(&key_name)?;
        let value = item.get_attr(&value_name)?;
        if key.is_undefined() || value.is_undefined() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "items2dict requires each element to have '{key_name}' and '{value_name}' keys"
                ),
            ));
        }
        let key = match key.as_str() {
            Some(s) => s.to_owned(),
            None => super::python_str(&key),
        };
        out.insert(key, to_json(&value)?);
    }
    Ok(from_json(&serde_json::Value::Object(out)))
}

/// `flatten(levels=None, skip_nulls=True)`.
fn flatten(list: Value, levels: Option<i64>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kwargs.get::<Option<i64>>("levels")?,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(&list, levels, skip_nulls, &mut out)?;
    Ok(Value::from(out))
}

fn flatten_into(
    list: &Value,
    levels: Option<i64>,
    skip_nulls: bool,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    for item in list.try_iter()? {
        if skip_nulls && (item.is_none() || matches!(item.as_str(), Some("None" | "null"))) {
            continue;
        }
        if matches!(item.kind(), ValueKind::Seq | ValueKind::Iterable) {
            match levels {
                None => flatten_into(&item, None, skip_nulls, out)?,
                Some(l) if l >= 1 => flatten_into(&item, Some(l - 1), skip_nulls, out)?,
                Some(_) => out.push(item),
            }
        } else {
            out.push(item);
        }
    }
    Ok(())
}
