//! ansible.builtin.ping: proves the host can be reached and can run a program.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::CommandRequest;
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

const ARGS: &[ArgSpec] = &[ArgSpec::new(
    "data",
    ArgType::Str,
    "Data to return for the ping return value. If this parameter is set to crash, the module will cause an \
     exception.",
)
.default(ArgDefault::Str("pong"))];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "ping",
    short_description: "Try to connect to host, verify a usable shell and return pong on success",
    description: "A trivial test module, this module always returns pong on successful contact. It does not \
        make sense in playbooks, but it is useful from /usr/bin/ansible to verify the ability to login and \
        that a usable shell is configured. ply needs no Python on the host, so this checks that a program \
        can be run (with become, when it is on).",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::None,
    returns: &[ReturnDoc::new(
        "ping",
        "str",
        "success",
        "Value provided with the data parameter.",
    )],
    notes: &[],
    example: r#"- name: Check the hosts answer
  ansible.builtin.ping:

- name: Induce an exception to see what happens
  ansible.builtin.ping:
    data: crash
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    data: String,
}

pub struct Ping;

#[async_trait]
impl Module for Ping {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        let mut request = CommandRequest::argv(["true"]);
        request.become_ = ctx.become_.clone();
        let output = match ctx.host.run(&request).await {
            Ok(output) => output,
            Err(e) => return Plan::Done(ModuleResult::from_connection_error(&e)),
        };
        if output.rc != 0 || p.data == "crash" {
            // What Ansible reports when the module itself dies (ping raises for data=crash).
            let stderr = if output.rc != 0 {
                String::from_utf8_lossy(&output.stderr).into_owned()
            } else {
                "Traceback (most recent call last):\nException: boom\n".to_string()
            };
            let mut result =
                ModuleResult::failed("MODULE FAILURE\nSee stdout/stderr for the exact error");
            result.values.insert("module_stdout".into(), json!(""));
            result
                .values
                .insert("module_stderr".into(), Value::String(stderr));
            result.values.insert(
                "rc".into(),
                json!(if output.rc != 0 { output.rc } else { 1 }),
            );
            return Plan::Done(result);
        }
        let mut result = ModuleResult::ok();
        result
            .values
            .insert("ping".into(), Value::String(p.data.clone()));
        Plan::Done(result)
    }
}
