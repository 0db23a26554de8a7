//! Conversions between minijinja values and the engine's JSON values.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Converts a template result to JSON. Undefined values inside results are errors, as Ansible
/// refuses to hand an undefined to a module.
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    Ok(match value.kind() {
        ValueKind::Undefined => {
            // get_attr on an undefined value yields an error that remembers where the undefined
            // came from, so the message can name the variable.
            return Err(value
                .get_attr("")
                .err()
                .unwrap_or_else(|| Error::new(ErrorKind::UndefinedError, "undefined value")));
        }
        ValueKind::None => serde_json::Value::Null,
        ValueKind::Bool => serde_json::Value::Bool(value.is_true()),
        ValueKind::Number => number_to_json(value),
        ValueKind::String => {
            serde_json::Value::String(value.as_str().unwrap_or_default().to_owned())
        }
        ValueKind::Bytes => serde_json::Value::String(
            String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned(),
        ),
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                let key = match key.as_str() {
                    Some(s) => s.to_owned(),
                    None => key.to_string(),
                };
                out.insert(key, to_json(&item)?);
            }
            serde_json::Value::Object(out)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in value.try_iter()? {
                out.push(to_json(&item)?);
            }
            serde_json::Value::Array(out)
        }
        ValueKind::Invalid => {
            // Invalid values carry an error; serializing surfaces its message.
            let message = match serde_json::to_value(value) {
                Err(err) => err.to_string(),
                Ok(_) => "invalid value".to_owned(),
            };
            return Err(Error::new(ErrorKind::InvalidOperation, message));
        }
        ValueKind::Plain => serde_json::Value::String(value.to_string()),
        _ => serde_json::to_value(value)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?,
    })
}

fn number_to_json(value: &Value) -> serde_json::Value {
    if value.is_integer() {
        if let Some(i) = value.as_i64() {
            return serde_json::Value::from(i);
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return serde_json::Value::from(u);
        }
    }
    match f64::try_from(value.clone()) {
        Ok(f) => serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Err(_) => serde_json::Value::Null,
    }
}

/// JSON into a template value.
pub(crate) fn from_json(value: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(value))
}
