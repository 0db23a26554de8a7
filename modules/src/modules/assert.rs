//! ansible.builtin.assert: checks that expressions are true, stopping at the first false one.

use crate::args::{py_repr, to_bool, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "that",
        ArgType::Raw,
        "A list of string expressions of the same form that can be passed to the 'when' statement.",
    ),
    ArgSpec::new(
        "fail_msg",
        ArgType::Raw,
        "The customized message used for a failing assertion. This argument was called 'msg' before Ansible \
         2.7, now it is renamed to 'fail_msg' with alias 'msg'.",
    ),
    ArgSpec::new("msg", ArgType::Raw, "The message of a failing assertion, when fail_msg is not given."),
    ArgSpec::new(
        "success_msg",
        ArgType::Raw,
        "The customized message used for a successful assertion.",
    ),
    ArgSpec::new(
        "quiet",
        ArgType::Raw,
        "Set this to true to avoid verbose output.",
    ),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "assert",
    short_description: "Asserts given expressions are true",
    description: "This module asserts that given expressions are true with an optional custom message.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Action,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[
        ReturnDoc::new("msg", "raw", "always", "fail_msg on failure (default \"Assertion failed\"), success_msg otherwise (default \"All assertions passed\")."),
        ReturnDoc::new("assertion", "raw", "on failure", "The first expression that was false."),
        ReturnDoc::new("evaluated_to", "bool", "on failure", "What the failing expression evaluated to."),
    ],
    notes: &["The result is shown even without -v unless quiet is set."],
    example: r#"- ansible.builtin.assert: { that: "ansible_os_family != 'RedHat'" }

- name: After version 2.7 both 'msg' and 'fail_msg' can customize failing assertion message
  ansible.builtin.assert:
    that:
      - my_param <= 100
      - my_param >= 0
    fail_msg: "'my_param' must be between 0 and 100"
    success_msg: "'my_param' is between 0 and 100"
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    that: Option<Value>,
    fail_msg: Option<Value>,
    msg: Option<Value>,
    success_msg: Option<Value>,
    quiet: Option<Value>,
}

fn message(value: Option<&Value>, default: &str, which: &str) -> Result<Value, String> {
    match value {
        None | Some(Value::Null) => Ok(Value::String(default.into())),
        Some(v @ (Value::String(_) | Value::Array(_))) => Ok(v.clone()),
        Some(other) => Err(format!(
            "Incorrect type for {which}, expected a string or list and got {}",
            crate::args::py_type(other)
        )),
    }
}

fn set_msg(result: &mut ModuleResult, msg: Value) {
    match msg {
        Value::String(s) => result.msg = Some(s),
        other => {
            result.values.insert("msg".into(), other);
        }
    }
}

pub struct Assert;

#[async_trait]
impl Module for Assert {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        let Some(that) = &p.that else {
            return Plan::Done(ModuleResult::failed(
                "conditional required in \"that\" string",
            ));
        };
        let fail_msg = match message(
            p.fail_msg.as_ref().or(p.msg.as_ref()),
            "Assertion failed",
            "fail_msg or msg",
        ) {
            Ok(m) => m,
            Err(e) => return Plan::Done(ModuleResult::failed(e)),
        };
        let success_msg = match message(
            p.success_msg.as_ref(),
            "All assertions passed",
            "success_msg",
        ) {
            Ok(m) => m,
            Err(e) => return Plan::Done(ModuleResult::failed(e)),
        };
        // Ansible reads quiet leniently: anything not truthy is false.
        let quiet = p
            .quiet
            .as_ref()
            .is_some_and(|q| to_bool(q).unwrap_or(false));

        let thats = match that {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        let mut result = ModuleResult {
            verbose_always: !quiet,
            ..ModuleResult::default()
        };
        for that in thats {
            let expr = match &that {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => py_repr(other),
            };
            match ctx.evaluator.eval_condition(&expr) {
                Ok(true) => {}
                Ok(false) => {
                    result.failed = true;
                    result
                        .values
                        .insert("evaluated_to".into(), Value::Bool(false));
                    result.values.insert("assertion".into(), that);
                    set_msg(&mut result, fail_msg);
                    return Plan::Done(result);
                }
                Err(e) => return Plan::Done(ModuleResult::failed(e)),
            }
        }
        set_msg(&mut result, success_msg);
        Plan::Done(result)
    }
}
