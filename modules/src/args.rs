//! Declarative argument specs. One spec per module both validates a task's arguments (with Ansible's
//! messages, in Ansible's order: unknown, mutually exclusive, missing, types, choices) and generates the
//! module's documentation, so the two cannot drift apart.

use crate::contract::VarMap;
use serde_json::{Number, Value};

/// The types of Ansible's argument specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    Str,
    Bool,
    Int,
    Float,
    List,
    Dict,
    Path,
    /// Any value, unconverted.
    Raw,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::Str => "str",
            ArgType::Bool => "bool",
            ArgType::Int => "int",
            ArgType::Float => "float",
            ArgType::List => "list",
            ArgType::Dict => "dict",
            ArgType::Path => "path",
            ArgType::Raw => "raw",
        }
    }
}

/// A default value, as written in the spec (and shown by `ply doc`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgDefault {
    None,
    Str(&'static str),
    Bool(bool),
    Int(i64),
}

impl ArgDefault {
    pub fn to_value(self) -> Option<Value> {
        match self {
            ArgDefault::None => None,
            ArgDefault::Str(s) => Some(Value::String(s.to_string())),
            ArgDefault::Bool(b) => Some(Value::Bool(b)),
            ArgDefault::Int(i) => Some(Value::Number(i.into())),
        }
    }
}

/// One argument of a module.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: ArgType,
    /// The type of each element, for lists.
    pub elements: Option<ArgType>,
    pub required: bool,
    pub default: ArgDefault,
    pub choices: &'static [&'static str],
    pub description: &'static str,
}

impl ArgSpec {
    pub const fn new(name: &'static str, kind: ArgType, description: &'static str) -> Self {
        ArgSpec {
            name,
            aliases: &[],
            kind,
            elements: None,
            required: false,
            default: ArgDefault::None,
            choices: &[],
            description,
        }
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    pub const fn elements(mut self, elements: ArgType) -> Self {
        self.elements = Some(elements);
        self
    }

    pub const fn default(mut self, default: ArgDefault) -> Self {
        self.default = default;
        self
    }

    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
}

/// How a module reports arguments it does not know. Ansible's modules and its action plugins word this
/// differently, and users grep for these messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownArgs {
    /// `Unsupported parameters for (copy) module: foo. Supported parameters include: a, b (c).`
    Module,
    /// Action plugins with a fixed set of options: `Invalid options for debug: foo`.
    Action,
    /// include_vars: `foo is not a valid option in include_vars`.
    NotValidOption,
    /// Any key is a value (set_fact).
    Accept,
}

/// What validation produced: the arguments under their canonical names, converted to their types, with
/// defaults filled in.
#[derive(Debug, Default, PartialEq)]
pub struct Validated {
    pub params: VarMap,
    pub warnings: Vec<String>,
}

/// The parts of a module's documentation that validation needs.
pub struct Rules<'a> {
    pub module: &'a str,
    pub args: &'a [ArgSpec],
    pub unknown: UnknownArgs,
    pub mutually_exclusive: &'a [&'a [&'a str]],
    pub required_one_of: &'a [&'a [&'a str]],
}

/// The spec an argument name reaches: its own, or the one it is an alias of.
pub fn find_arg<'a>(args: &'a [ArgSpec], key: &str) -> Option<&'a ArgSpec> {
    args.iter()
        .find(|a| a.name == key)
        .or_else(|| args.iter().find(|a| a.aliases.contains(&key)))
}

/// The keys a module does not know, in the order given. Aliases are known, and so are Ansible's
/// internal `_ansible_*` keys. Whether unknown keys are an error is `rules.unknown`'s business: set_fact
/// ([`UnknownArgs::Accept`]) takes them as values.
pub fn unknown_keys<'k>(
    rules: &Rules<'_>,
    keys: impl IntoIterator<Item = &'k str>,
) -> Vec<&'k str> {
    keys.into_iter()
        .filter(|key| find_arg(rules.args, key).is_none() && !key.starts_with("_ansible_"))
        .collect()
}

/// Every name an argument may be given under (names, then aliases), for suggestions.
pub fn known_names<'a>(rules: &'a Rules<'_>) -> impl Iterator<Item = &'a str> {
    rules
        .args
        .iter()
        .map(|a| a.name)
        .chain(rules.args.iter().flat_map(|a| a.aliases.iter().copied()))
}

/// Converts one argument to its spec's type (and its elements', for lists), with Ansible's messages.
pub fn convert_arg(spec: &ArgSpec, value: &Value) -> Result<Value, String> {
    let converted = convert(spec.kind, value).map_err(|e| {
        format!(
            "argument '{}' is of type {} and we were unable to convert to {}: {e}",
            spec.name,
            py_type(value),
            spec.kind.name()
        )
    })?;
    match (converted, spec.elements) {
        (Value::Array(items), Some(kind)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(convert(kind, &item).map_err(|e| {
                    format!(
                        "Elements value for option '{}' is of type {} and we were unable to convert to {}: {e}",
                        spec.name,
                        py_type(&item),
                        kind.name()
                    )
                })?);
            }
            Ok(Value::Array(out))
        }
        (converted, _) => Ok(converted),
    }
}

/// Whether a converted value is one of its spec's `choices` (any value passes when there are none).
/// `Err` carries Ansible's message and the offending values, for suggestions.
pub fn check_choices(spec: &ArgSpec, value: &Value) -> Result<(), (String, Vec<String>)> {
    if spec.choices.is_empty() {
        return Ok(());
    }
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => {
            let bad: Vec<String> = items
                .iter()
                .map(py_str)
                .filter(|text| !spec.choices.contains(&text.as_str()))
                .collect();
            if bad.is_empty() {
                return Ok(());
            }
            Err((
                format!(
                    "value of {} must be one or more of: {}. Got no match for: {}",
                    spec.name,
                    spec.choices.join(", "),
                    bad.join(", ")
                ),
                bad,
            ))
        }
        value => {
            let text = py_str(value);
            if spec.choices.contains(&text.as_str()) {
                return Ok(());
            }
            Err((
                format!(
                    "value of {} must be one of: {}, got: {text}",
                    spec.name,
                    spec.choices.join(", ")
                ),
                vec![text],
            ))
        }
    }
}

pub fn validate(rules: &Rules<'_>, args: &VarMap) -> Result<Validated, String> {
    let mut out = Validated::default();
    let mut params = VarMap::new();
    let mut unknown: Vec<String> = unknown_keys(rules, args.keys().map(String::as_str))
        .into_iter()
        .map(String::from)
        .collect();

    // Canonical names first, so that an alias given as well wins as it does in Ansible.
    for (key, value) in args {
        if rules.args.iter().any(|a| a.name == key) {
            params.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in args {
        let Some(spec) = find_arg(rules.args, key) else {
            continue;
        };
        if spec.name == key {
            continue;
        }
        if params.contains_key(spec.name) {
            out.warnings.push(format!(
                "Both option {} and its alias {key} are set.",
                spec.name
            ));
        }
        params.insert(spec.name.to_string(), value.clone());
    }

    if !unknown.is_empty() {
        match rules.unknown {
            UnknownArgs::Accept => {
                for key in unknown {
                    params.insert(key.clone(), args[&key].clone());
                }
            }
            UnknownArgs::Module => {
                unknown.sort();
                let mut names: Vec<&str> = rules.args.iter().map(|a| a.name).collect();
                names.sort_unstable();
                let mut aliases: Vec<&str> = rules
                    .args
                    .iter()
                    .flat_map(|a| a.aliases.iter().copied())
                    .collect();
                aliases.sort_unstable();
                let mut supported = names.join(", ");
                if !aliases.is_empty() {
                    supported.push_str(&format!(" ({})", aliases.join(", ")));
                }
                return Err(format!(
                    "Unsupported parameters for ({}) module: {}. Supported parameters include: {supported}.",
                    rules.module,
                    unknown.join(", ")
                ));
            }
            UnknownArgs::Action => {
                return Err(format!(
                    "Invalid options for {}: {}",
                    rules.module,
                    unknown.join(",")
                ))
            }
            UnknownArgs::NotValidOption => {
                return Err(format!(
                    "{} is not a valid option in {}",
                    unknown[0], rules.module
                ))
            }
        }
    }

    for group in rules.mutually_exclusive {
        let given: Vec<&str> = group
            .iter()
            .copied()
            .filter(|n| params.contains_key(*n))
            .collect();
        if given.len() > 1 {
            return Err(match rules.unknown {
                // Ansible's action plugins (debug) word it their own way.
                UnknownArgs::Action => {
                    format!("'{}' and '{}' are incompatible options", given[0], given[1])
                }
                _ => format!("parameters are mutually exclusive: {}", group.join("|")),
            });
        }
    }

    let mut missing: Vec<&str> = rules
        .args
        .iter()
        .filter(|a| a.required && params.get(a.name).is_none_or(Value::is_null))
        .map(|a| a.name)
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(format!(
            "missing required arguments: {}",
            missing.join(", ")
        ));
    }

    for spec in rules.args {
        let Some(value) = params.get(spec.name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let converted = convert_arg(spec, value)?;
        params.insert(spec.name.to_string(), converted);
    }

    for spec in rules.args {
        if let Some(value) = params.get(spec.name) {
            check_choices(spec, value).map_err(|(message, _)| message)?;
        }
    }

    for group in rules.required_one_of {
        if !group
            .iter()
            .any(|n| params.get(*n).is_some_and(|v| !v.is_null()))
        {
            return Err(format!(
                "one of the following is required: {}",
                group.join(", ")
            ));
        }
    }

    for spec in rules.args {
        if params.get(spec.name).is_none_or(Value::is_null) {
            if let Some(default) = spec.default.to_value() {
                params.insert(spec.name.to_string(), default);
            }
        }
    }

    out.params = params;
    Ok(out)
}

/// Python's name for the type of a value, as Ansible's messages show it.
pub fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// Python's `str()` of a value: strings bare, everything else as Python writes it.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a value.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

const BOOL_TRUE: &[&str] = &["y", "yes", "on", "1", "true", "t"];
const BOOL_FALSE: &[&str] = &["n", "no", "off", "0", "false", "f"];

/// Ansible's `boolean()`: yes/no/on/off/true/false/y/n/t/f/1/0 in any case, and the numbers 1 and 0.
pub fn to_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => {
            let normalized = s.trim().to_lowercase();
            if BOOL_TRUE.contains(&normalized.as_str()) {
                Ok(true)
            } else if BOOL_FALSE.contains(&normalized.as_str()) {
                Ok(false)
            } else {
                Err(invalid_bool(s))
            }
        }
        Value::Number(n) => Err(invalid_bool(&n.to_string())),
        other => Err(format!("{} cannot be converted to a bool", py_type(other))),
    }
}

fn invalid_bool(text: &str) -> String {
    format!(
        "The value '{text}' is not a valid boolean.  Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"
    )
}

fn convert(kind: ArgType, value: &Value) -> Result<Value, String> {
    match kind {
        ArgType::Raw => Ok(value.clone()),
        ArgType::Str | ArgType::Path => Ok(Value::String(py_str(value))),
        ArgType::Bool => to_bool(value).map(Value::Bool),
        ArgType::Int => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    Ok(Value::Number((f as i64).into()))
                }
                _ => Err(format!("{} cannot be converted to an int", py_type(value))),
            },
            Value::Bool(b) => Ok(Value::Number(i64::from(*b).into())),
            Value::String(s) => s
                .trim()
                .replace('_', "")
                .parse::<i64>()
                .map(|i| Value::Number(i.into()))
                .map_err(|_| format!("{} cannot be converted to an int", py_type(value))),
            _ => Err(format!("{} cannot be converted to an int", py_type(value))),
        },
        ArgType::Float => {
            let f = match value {
                Value::Number(n) => n.as_f64(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            f.and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("{} cannot be converted to a float", py_type(value)))
        }
        ArgType::List => match value {
            Value::Array(_) => Ok(value.clone()),
            Value::String(s) => Ok(Value::Array(
                s.split(',').map(|p| Value::String(p.to_string())).collect(),
            )),
            Value::Number(_) | Value::Bool(_) => {
                Ok(Value::Array(vec![Value::String(py_str(value))]))
            }
            _ => Err(format!("{} cannot be converted to a list", py_type(value))),
        },
        ArgType::Dict => match value {
            Value::Object(_) => Ok(value.clone()),
            Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| "unable to evaluate string as dictionary".to_string()),
            Value::String(s) => kv_dict(s).map(Value::Object).ok_or_else(|| {
                "dictionary requested, could not parse JSON or key=value".to_string()
            }),
            _ => Err(format!("{} cannot be converted to a dict", py_type(value))),
        },
    }
}

/// `k1=v1, k2=v2` or `k1=v1 k2=v2`, as Ansible's `check_type_dict` reads a string.
fn kv_dict(text: &str) -> Option<VarMap> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => field.extend(chars.next()),
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ',' | ' ') => {
                if !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                }
            }
            (_, c) => field.push(c),
        }
    }
    if !field.is_empty() {
        fields.push(field);
    }
    let mut map = VarMap::new();
    for field in fields {
        let (k, v) = field.split_once('=')?;
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC: &[ArgSpec] = &[
        ArgSpec::new("path", ArgType::Path, "")
            .required()
            .aliases(&["dest", "name"]),
        ArgSpec::new("state", ArgType::Str, "")
            .choices(&["present", "absent"])
            .default(ArgDefault::Str("present")),
        ArgSpec::new("force", ArgType::Bool, "").default(ArgDefault::Bool(false)),
        ArgSpec::new("count", ArgType::Int, ""),
        ArgSpec::new("ratio", ArgType::Float, ""),
        ArgSpec::new("items", ArgType::List, "").elements(ArgType::Int),
        ArgSpec::new("opts", ArgType::Dict, ""),
        ArgSpec::new("msg", ArgType::Raw, ""),
        ArgSpec::new("var", ArgType::Str, ""),
    ];

    fn rules(unknown: UnknownArgs) -> Rules<'static> {
        Rules {
            module: "copy",
            args: SPEC,
            unknown,
            mutually_exclusive: &[&["msg", "var"]],
            required_one_of: &[],
        }
    }

    fn run(unknown: UnknownArgs, args: Value) -> Result<VarMap, String> {
        let Value::Object(args) = args else {
            unreachable!()
        };
        validate(&rules(unknown), &args).map(|v| v.params)
    }

    #[test]
    fn errors_use_ansible_messages() {
        let m = UnknownArgs::Module;
        let cases: Vec<(UnknownArgs, Value, &str)> = vec![
            (m, json!({"path": "/x", "foo": 1, "bar": 2}),
             "Unsupported parameters for (copy) module: bar, foo. Supported parameters include: count, force, items, msg, opts, path, ratio, state, var (dest, name)."),
            (UnknownArgs::Action, json!({"path": "/x", "foo": 1}), "Invalid options for copy: foo"),
            (UnknownArgs::NotValidOption, json!({"path": "/x", "foo": 1}), "foo is not a valid option in copy"),
            (m, json!({}), "missing required arguments: path"),
            (m, json!({"path": null}), "missing required arguments: path"),
            (m, json!({"path": "/x", "msg": "a", "var": "b"}), "parameters are mutually exclusive: msg|var"),
            (UnknownArgs::Action, json!({"path": "/x", "msg": "a", "var": "b"}), "'msg' and 'var' are incompatible options"),
            (m, json!({"path": "/x", "state": "prsent"}), "value of state must be one of: present, absent, got: prsent"),
            (m, json!({"path": "/x", "force": "maybe"}),
             "argument 'force' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean.  Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"),
            (m, json!({"path": "/x", "force": [1]}),
             "argument 'force' is of type <class 'list'> and we were unable to convert to bool: <class 'list'> cannot be converted to a bool"),
            (m, json!({"path": "/x", "count": "ten"}),
             "argument 'count' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"),
            (m, json!({"path": "/x", "ratio": "x"}),
             "argument 'ratio' is of type <class 'str'> and we were unable to convert to float: <class 'str'> cannot be converted to a float"),
            (m, json!({"path": "/x", "items": {"a": 1}}),
             "argument 'items' is of type <class 'dict'> and we were unable to convert to list: <class 'dict'> cannot be converted to a list"),
            (m, json!({"path": "/x", "items": ["1", "x"]}),
             "Elements value for option 'items' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"),
            (m, json!({"path": "/x", "opts": 3}),
             "argument 'opts' is of type <class 'int'> and we were unable to convert to dict: <class 'int'> cannot be converted to a dict"),
        ];
        for (unknown, args, expected) in cases {
            assert_eq!(run(unknown, args.clone()).unwrap_err(), expected, "{args}");
        }
    }

    #[test]
    fn converts_values_and_fills_defaults() {
        let m = UnknownArgs::Module;
        let cases: Vec<(Value, Value)> = vec![
            (
                json!({"dest": "/x"}),
                json!({"path": "/x", "state": "present", "force": false}),
            ),
            (
                json!({"path": 5, "force": "yes"}),
                json!({"path": "5", "force": true, "state": "present"}),
            ),
            (
                json!({"path": "/x", "force": "Off"}),
                json!({"path": "/x", "force": false, "state": "present"}),
            ),
            (
                json!({"path": "/x", "force": 1}),
                json!({"path": "/x", "force": true, "state": "present"}),
            ),
            (
                json!({"path": true, "count": " 42 "}),
                json!({"path": "True", "count": 42, "state": "present", "force": false}),
            ),
            (
                json!({"path": "/x", "ratio": "1.5", "items": "1,2"}),
                json!({"path": "/x", "ratio": 1.5, "items": [1, 2], "state": "present", "force": false}),
            ),
            (
                json!({"path": "/x", "opts": "a=1 b='x y'"}),
                json!({"path": "/x", "opts": {"a": "1", "b": "x y"}, "state": "present", "force": false}),
            ),
            (
                json!({"path": "/x", "opts": "{\"a\": [1]}"}),
                json!({"path": "/x", "opts": {"a": [1]}, "state": "present", "force": false}),
            ),
            (
                json!({"path": "/x", "msg": [1, {"a": null}]}),
                json!({"path": "/x", "msg": [1, {"a": null}], "state": "present", "force": false}),
            ),
        ];
        for (args, expected) in cases {
            let Value::Object(expected) = expected else {
                unreachable!()
            };
            let got = run(m, args.clone()).unwrap();
            let mut got_sorted: Vec<_> = got.iter().collect();
            got_sorted.sort_by_key(|(k, _)| k.as_str());
            let mut want_sorted: Vec<_> = expected.iter().collect();
            want_sorted.sort_by_key(|(k, _)| k.as_str());
            assert_eq!(got_sorted, want_sorted, "{args}");
        }
    }

    #[test]
    fn alias_and_canonical_both_given_warns_and_alias_wins() {
        let Value::Object(args) = json!({"path": "/a", "dest": "/b"}) else {
            unreachable!()
        };
        let v = validate(&rules(UnknownArgs::Module), &args).unwrap();
        assert_eq!(v.params["path"], json!("/b"));
        assert_eq!(v.warnings, ["Both option path and its alias dest are set."]);
    }

    #[test]
    fn unknown_keys_allow_names_aliases_and_internal_keys() {
        let rules = rules(UnknownArgs::Module);
        let keys = ["path", "dest", "pth", "_ansible_check_mode", "stat", "name"];
        assert_eq!(unknown_keys(&rules, keys), ["pth", "stat"]);
        assert!(unknown_keys(&rules, ["state", "force"]).is_empty());
        assert_eq!(find_arg(SPEC, "dest").map(|a| a.name), Some("path"));
        assert_eq!(find_arg(SPEC, "nope").map(|a| a.name), None);
        let names: Vec<&str> = known_names(&rules).collect();
        assert!(names.contains(&"path") && names.contains(&"dest") && names.contains(&"var"));
    }

    #[test]
    fn check_choices_reports_ansible_messages_and_bad_values() {
        let state = find_arg(SPEC, "state").unwrap();
        let free = find_arg(SPEC, "var").unwrap();
        assert_eq!(check_choices(state, &json!("absent")), Ok(()));
        assert_eq!(check_choices(state, &Value::Null), Ok(()));
        assert_eq!(check_choices(free, &json!("anything")), Ok(()));
        assert_eq!(
            check_choices(state, &json!("prsent")),
            Err((
                "value of state must be one of: present, absent, got: prsent".to_string(),
                vec!["prsent".to_string()]
            ))
        );
        assert_eq!(
            check_choices(state, &json!(["present", "gone", "x"])),
            Err((
                "value of state must be one or more of: present, absent. Got no match for: gone, x"
                    .to_string(),
                vec!["gone".to_string(), "x".to_string()]
            ))
        );
        // Non-strings compare as Python's str() of them, after conversion.
        let spec = ArgSpec::new("level", ArgType::Int, "").choices(&["1", "2"]);
        let converted = convert_arg(&spec, &json!("2")).unwrap();
        assert_eq!(check_choices(&spec, &converted), Ok(()));
        assert!(check_choices(&spec, &json!(3)).is_err());
    }

    #[test]
    fn convert_arg_converts_elements_or_explains() {
        let items = find_arg(SPEC, "items").unwrap();
        assert_eq!(convert_arg(items, &json!("1,2")), Ok(json!([1, 2])));
        assert_eq!(
            convert_arg(items, &json!(["x"])).unwrap_err(),
            "Elements value for option 'items' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"
        );
        let force = find_arg(SPEC, "force").unwrap();
        assert_eq!(convert_arg(force, &json!("yes")), Ok(json!(true)));
    }

    #[test]
    fn accept_keeps_unknown_keys() {
        let v = run(UnknownArgs::Accept, json!({"path": "/x", "anything": [1]})).unwrap();
        assert_eq!(v["anything"], json!([1]));
    }
}
