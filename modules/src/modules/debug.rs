//! ansible.builtin.debug: prints a message or a variable, without touching the host.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "msg",
        ArgType::Raw,
        "The customized message that is printed. If omitted, prints a generic message.",
    )
    .default(ArgDefault::Str("Hello world!")),
    ArgSpec::new(
        "var",
        ArgType::Str,
        "A variable name to debug. Mutually exclusive with the msg option. Be aware that this option already \
         runs in Jinja2 context and has an implicit {{ }} wrapping, so you should not be using Jinja2 \
         delimiters unless you are looking for double interpolation.",
    ),
    ArgSpec::new(
        "verbosity",
        ArgType::Int,
        "A number that controls when the debug is run, if you set to 3 it will only run debug when -vvv or \
         above.",
    )
    .default(ArgDefault::Int(0)),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "debug",
    short_description: "Print statements during execution",
    description: "This module prints statements during execution and can be useful for debugging variables or \
        expressions without necessarily halting the playbook. Useful for debugging together with the 'when:' \
        directive.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Action,
    mutually_exclusive: &[&["msg", "var"]],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[
        ReturnDoc::new("msg", "raw", "when var is not given", "The message."),
        ReturnDoc::new(
            "<var>",
            "raw",
            "when var is given",
            "The value of the expression, under the expression as its key; \"VARIABLE IS NOT DEFINED!\" when \
             it is undefined.",
        ),
        ReturnDoc::new(
            "skipped_reason",
            "str",
            "when below verbosity",
            "\"Verbosity threshold not met.\"",
        ),
    ],
    notes: &["The result is always shown, even without -v."],
    example: r#"- name: Print the gateway for each host when defined
  ansible.builtin.debug:
    msg: System {{ inventory_hostname }} has gateway {{ ansible_default_ipv4.gateway }}
  when: ansible_default_ipv4.gateway is defined

- name: Print a variable only at -vv and above
  ansible.builtin.debug:
    var: hostvars[inventory_hostname]
    verbosity: 2
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    msg: Value,
    var: Option<String>,
    verbosity: i64,
}

/// Whether an evaluation error means the expression is undefined (which debug reports as a value) rather
/// than broken (which fails the task). The evaluator reports errors as text, so this reads it.
fn is_undefined(error: &str) -> bool {
    let lower = error.to_lowercase();
    lower.contains("undefined") || lower.contains("is not defined")
}

pub struct Debug;

#[async_trait]
impl Module for Debug {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        let mut result = ModuleResult::ok();
        if p.verbosity > i64::from(ctx.verbosity) {
            result.skipped = true;
            result.values.insert(
                "skipped_reason".into(),
                "Verbosity threshold not met.".into(),
            );
            return Plan::Done(result);
        }
        result.verbose_always = true;
        match &p.var {
            Some(var) => {
                let value = match ctx.evaluator.eval_expr(var) {
                    Ok(value) => value,
                    Err(e) if is_undefined(&e) => {
                        let mut text = "VARIABLE IS NOT DEFINED!".to_string();
                        if ctx.verbosity > 0 {
                            text.push_str(&format!(": {e}"));
                        }
                        Value::String(text)
                    }
                    Err(e) => return Plan::Done(ModuleResult::failed(e)),
                };
                result.values.insert(var.clone(), value);
            }
            None => match &p.msg {
                Value::String(msg) => result.msg = Some(msg.clone()),
                other => {
                    result.values.insert("msg".into(), other.clone());
                }
            },
        }
        Plan::Done(result)
    }
}
