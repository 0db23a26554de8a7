//! ansible.builtin.fail: fails the task with a message.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

const ARGS: &[ArgSpec] = &[ArgSpec::new(
    "msg",
    ArgType::Raw,
    "The customized message used for failing execution. If omitted, fail will simply bail out with a \
     generic message.",
)
.default(ArgDefault::Str("Failed as requested from task"))];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "fail",
    short_description: "Fail with custom message",
    description: "This module fails the progress with a custom message. It can be useful for bailing out when \
        a certain condition is met using when.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Action,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[ReturnDoc::new("msg", "raw", "always", "The message.")],
    notes: &[],
    example: r#"- name: Stop on unsupported hosts
  ansible.builtin.fail:
    msg: The system may not be provisioned according to the CMDB status.
  when: cmdb_status != "to-be-staged"
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    msg: Value,
}

pub struct Fail;

#[async_trait]
impl Module for Fail {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, _ctx: &ModuleContext<'_>) -> Plan<()> {
        let mut result = ModuleResult {
            failed: true,
            ..ModuleResult::default()
        };
        match &p.msg {
            Value::String(msg) => result.msg = Some(msg.clone()),
            other => {
                result.values.insert("msg".into(), other.clone());
            }
        }
        Plan::Done(result)
    }
}
