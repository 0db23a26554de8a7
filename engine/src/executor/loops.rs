//! Turning `loop:` and `with_<lookup>:` values into the list of items a task runs over.

use serde_json::{json, Value};

/// The items of a loop, from its already templated value.
pub fn items(keyword: &str, value: Value) -> Result<Vec<Value>, String> {
    let as_list = |value: Value| -> Result<Vec<Value>, String> {
        match value {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            // Ansible's with_items/with_list accept a single string as a one-item list.
            other @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) if keyword != "loop" => Ok(vec![other]),
            other => Err(format!(
                "Invalid data passed to '{keyword}', it requires a list, got this instead: {other}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup."
            )),
        }
    };
    match keyword {
        "loop" | "with_list" => as_list(value),
        // with_items flattens one level.
        "with_items" | "with_flattened" => {
            let mut flat = Vec::new();
            for item in as_list(value)? {
                match item {
                    Value::Array(inner) if keyword == "with_items" => flat.extend(inner),
                    Value::Array(inner) => flat.extend(flatten(inner)),
                    other => flat.push(other),
                }
            }
            Ok(flat)
        }
        "with_dict" => match value {
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect()),
            other => Err(format!("with_dict expects a dict, got {other}")),
        },
        "with_indexed_items" => Ok(as_list(value)?
            .into_iter()
            .enumerate()
            .map(|(i, item)| json!([i, item]))
            .collect()),
        "with_together" => {
            let lists: Vec<Vec<Value>> = as_list(value)?
                .into_iter()
                .map(&as_list)
                .collect::<Result<_, _>>()?;
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..longest)
                .map(|i| {
                    Value::Array(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect())
        }
        "with_nested" => {
            let lists: Vec<Vec<Value>> = as_list(value)?
                .into_iter()
                .map(&as_list)
                .collect::<Result<_, _>>()?;
            let mut product: Vec<Vec<Value>> = vec![Vec::new()];
            for list in lists {
                product = product
                    .into_iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |item| {
                            let mut next = prefix.clone();
                            next.push(item.clone());
                            next
                        })
                    })
                    .collect();
            }
            Ok(product.into_iter().map(Value::Array).collect())
        }
        "with_sequence" => sequence(&value),
        other => Err(format!(
            "the '{other}' loop is not supported by ply; use 'loop:' with a filter instead"
        )),
    }
}

fn flatten(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .flat_map(|item| match item {
            Value::Array(inner) => flatten(inner),
            other => vec![other],
        })
        .collect()
}

/// `with_sequence: start=1 end=5 format=db%02d` (also `count=`, `stride=`).
fn sequence(value: &Value) -> Result<Vec<Value>, String> {
    let text = value
        .as_str()
        .ok_or("with_sequence takes a string like 'start=1 end=5'")?;
    let (mut start, mut end, mut stride, mut format) = (1i64, None, 1i64, None::<String>);
    for part in text.split_whitespace() {
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| format!("can't parse '{part}' in with_sequence"))?;
        let number = || {
            val.parse::<i64>()
                .map_err(|_| format!("can't parse {key}={val} as an integer"))
        };
        match key {
            "start" => start = number()?,
            "end" => end = Some(number()?),
            "count" => end = Some(start + number()? - 1),
            "stride" => stride = number()?,
            "format" => format = Some(val.to_string()),
            _ => return Err(format!("unrecognized with_sequence argument '{key}'")),
        }
    }
    let end = end.ok_or("with_sequence needs end= or count=")?;
    if stride == 0 {
        return Err("with_sequence stride must not be 0".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::String(match &format {
            Some(f) => printf_int(f, i),
            None => i.to_string(),
        }));
        i += stride;
    }
    Ok(out)
}

/// The `%d`, `%02d`, `%x` forms with_sequence's format uses.
fn printf_int(format: &str, value: i64) -> String {
    let Some(start) = format.find('%') else {
        return format.to_string();
    };
    let rest = &format[start + 1..];
    let spec_len = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or(rest.len(), |i| i + 1);
    let (spec, tail) = rest.split_at(spec_len);
    let (flags, conversion) = spec.split_at(spec.len().saturating_sub(1));
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let zero = flags.starts_with('0');
    let digits = match conversion {
        "x" => format!("{value:x}"),
        "X" => format!("{value:X}"),
        "o" => format!("{value:o}"),
        _ => value.to_string(),
    };
    let padded = if zero {
        format!("{digits:0>width$}")
    } else {
        format!("{digits:>width$}")
    };
    format!("{}{padded}{tail}", &format[..start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_forms() {
        let cases = [
            ("loop", json!([1, [2, 3]]), Ok(json!([1, [2, 3]]))),
            ("with_items", json!([1, [2, 3]]), Ok(json!([1, 2, 3]))),
            ("with_items", json!("one"), Ok(json!(["one"]))),
            ("with_flattened", json!([1, [2, [3]]]), Ok(json!([1, 2, 3]))),
            (
                "with_dict",
                json!({"a": 1}),
                Ok(json!([{"key": "a", "value": 1}])),
            ),
            (
                "with_indexed_items",
                json!(["a", "b"]),
                Ok(json!([[0, "a"], [1, "b"]])),
            ),
            (
                "with_together",
                json!([[1, 2], ["a"]]),
                Ok(json!([[1, "a"], [2, null]])),
            ),
            (
                "with_nested",
                json!([[1, 2], ["a", "b"]]),
                Ok(json!([[1, "a"], [1, "b"], [2, "a"], [2, "b"]])),
            ),
            (
                "with_sequence",
                json!("start=1 end=3 format=db%02d"),
                Ok(json!(["db01", "db02", "db03"])),
            ),
            ("with_sequence", json!("count=2"), Ok(json!(["1", "2"]))),
        ];
        for (keyword, value, expected) in cases {
            assert_eq!(
                items(keyword, value.clone()).map(Value::Array),
                expected,
                "{keyword} {value}"
            );
        }
        assert!(items("loop", json!("a string"))
            .unwrap_err()
            .contains("requires a list"));
    }
}
