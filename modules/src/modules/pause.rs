//! ansible.builtin.pause: waits for a number of seconds or minutes.

use crate::args::{py_repr, ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::util::py_datetime;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("minutes", ArgType::Raw, "A positive number of minutes to pause for."),
    ArgSpec::new("seconds", ArgType::Raw, "A positive number of seconds to pause for."),
    ArgSpec::new(
        "prompt",
        ArgType::Str,
        "Optional text to use for the prompt message. ply does not read from the terminal: a pause with only \
         a prompt continues at once with a warning, as Ansible does when stdin is not interactive.",
    ),
    ArgSpec::new("echo", ArgType::Bool, "Controls whether or not keyboard input is shown when typing.")
        .default(ArgDefault::Bool(true)),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "pause",
    short_description: "Pause playbook execution",
    description: "Pauses playbook execution for a set amount of time. To pause/wait/sleep per host, use the \
        wait_for module.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Action,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[
        ReturnDoc::new("user_input", "str", "if no waiting time set", "User input from interactive console (always empty in ply)."),
        ReturnDoc::new("start", "str", "always", "Time when started pausing."),
        ReturnDoc::new("stop", "str", "always", "Time when ended pausing."),
        ReturnDoc::new("delta", "int", "always", "Time paused in seconds."),
        ReturnDoc::new("stdout", "str", "always", "Output of pause module, e.g. \"Paused for 1.0 seconds\"."),
        ReturnDoc::new("echo", "bool", "always", "Value of echo setting."),
    ],
    notes: &[
        "Starting in 2.2, if you specify 0 or negative for minutes or seconds, it will wait for 1 second.",
        "The pause also happens in check mode.",
    ],
    example: r#"- name: Pause for 5 minutes to build app cache
  ansible.builtin.pause:
    minutes: 5

- name: Wait a bit for the service to settle
  ansible.builtin.pause:
    seconds: 10
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    minutes: Option<Value>,
    seconds: Option<Value>,
    echo: bool,
}

/// Python's `int(value)`, which pause applies to minutes and seconds.
fn py_int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .ok_or_else(|| format!("invalid literal for int() with base 10: '{n}'")),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::String(s) => s
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|_| format!("invalid literal for int() with base 10: {}", py_repr(value))),
        other => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            match other {
                Value::Array(_) => "list",
                Value::Object(_) => "dict",
                _ => "NoneType",
            }
        )),
    }
}

/// `round(x, 2)` as Python prints it: `1.0`, `1.23`.
fn py_round2(x: f64) -> String {
    let rounded = (x * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.1}")
    } else {
        format!("{rounded}")
    }
}

pub struct Pause;

#[async_trait]
impl Module for Pause {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    // Waiting changes nothing on the host, and Ansible waits in check mode too, so it happens in plan.
    async fn plan(&self, p: &Params, _ctx: &ModuleContext<'_>) -> Plan<()> {
        let mut result = ModuleResult::ok();
        for (key, value) in [
            ("rc", json!(0)),
            ("stderr", json!("")),
            ("stdout", json!("")),
            ("start", Value::Null),
            ("stop", Value::Null),
            ("delta", Value::Null),
            ("echo", json!(p.echo)),
        ] {
            result.values.insert(key.into(), value);
        }
        let (seconds, unit) = match (&p.minutes, &p.seconds) {
            (Some(minutes), _) => (py_int(minutes).map(|m| Some(m * 60)), "minutes"),
            (None, Some(seconds)) => (py_int(seconds).map(Some), "seconds"),
            (None, None) => (Ok(None), "minutes"),
        };
        let seconds = match seconds {
            Ok(s) => s,
            Err(e) => {
                result.failed = true;
                result.msg = Some(format!("non-integer value given for prompt duration:\n{e}"));
                return Plan::Done(result);
            }
        };

        let start = chrono::Local::now();
        result
            .values
            .insert("start".into(), Value::String(py_datetime(&start)));
        result.values.insert("user_input".into(), json!(""));
        match seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds.max(1) as u64)).await,
            None => result
                .warnings
                .push("Not waiting for response to prompt as stdin is not interactive".into()),
        }
        let stop = chrono::Local::now();
        let elapsed = (stop - start).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let shown = if unit == "minutes" {
            elapsed / 60.0
        } else {
            elapsed
        };
        result
            .values
            .insert("stop".into(), Value::String(py_datetime(&stop)));
        result.values.insert("delta".into(), json!(elapsed as i64));
        result.values.insert(
            "stdout".into(),
            Value::String(format!("Paused for {} {unit}", py_round2(shown))),
        );
        Plan::Done(result)
    }
}
