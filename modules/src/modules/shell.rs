//! ansible.builtin.shell: command, run through a shell (`/bin/sh -c` unless `executable` is given).

use super::command::{
    apply_run, early_failure, free_form, plan_run, Run, CHDIR, CHECK_MODE, CREATES, REMOVES,
    RETURNS, STDIN, STDIN_ADD_NEWLINE, STRIP_EMPTY_ENDS,
};
use crate::args::{ArgSpec, ArgType, UnknownArgs};
use crate::connection::{CommandRequest, Program};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("_raw_params", ArgType::Str, ""),
    ArgSpec::new("cmd", ArgType::Str, "The command to run followed by optional arguments."),
    CHDIR,
    ArgSpec::new(
        "executable",
        ArgType::Path,
        "Change the shell used to execute the command. This expects an absolute path to the executable.",
    ),
    CREATES,
    REMOVES,
    STDIN,
    STDIN_ADD_NEWLINE,
    STRIP_EMPTY_ENDS,
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "shell",
    short_description: "Execute shell commands on targets",
    description: "The shell module takes the command name followed by a list of space-delimited arguments. \
        Either a free form command or cmd parameter is required. It is almost exactly like the command \
        module but runs the command through a shell (/bin/sh) on the remote node.",
    free_form: Some("The shell module takes a free form command to run, as a string."),
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: CHECK_MODE,
    diff_mode: Support::None,
    returns: RETURNS,
    notes: &[
        "To sanitize any variables passed to the shell module, use `{{ var | quote }}` instead of just \
         `{{ var }}` to make sure they do not include evil things like semicolons.",
        "If you want to execute a command securely and predictably, it may be better to use the command \
         module instead.",
    ],
    example: r#"- name: Redirect the output into a file on the host
  ansible.builtin.shell: somescript.sh >> somelog.txt

- name: Change the working directory before running the command
  ansible.builtin.shell: somescript.sh >> somelog.txt
  args:
    chdir: somedir/
    creates: somelog.txt

- name: Run a command with bash
  ansible.builtin.shell:
    cmd: cat < /tmp/*txt
    executable: /bin/bash
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    cmd: Option<String>,
    chdir: Option<String>,
    executable: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    stdin: Option<String>,
    stdin_add_newline: bool,
    strip_empty_ends: bool,
}

pub struct Shell;

#[async_trait]
impl Module for Shell {
    type Params = Params;
    type Change = (Run, CommandRequest);

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Self::Change> {
        let script = match free_form(p.raw_params.as_deref(), p.cmd.as_deref()) {
            Ok(Some(script)) if !script.trim().is_empty() => script,
            Ok(_) => return Plan::Done(early_failure("no command given", Value::Null, 256)),
            Err(msg) => return Plan::Done(ModuleResult::failed(msg)),
        };
        let run = Run {
            program: Program::Shell {
                script: script.clone(),
                executable: p.executable.clone(),
            },
            cmd: Value::String(script),
            chdir: p.chdir.clone(),
            creates: p.creates.clone(),
            removes: p.removes.clone(),
            stdin: p.stdin.clone(),
            stdin_add_newline: p.stdin_add_newline,
            strip_empty_ends: p.strip_empty_ends,
        };
        match plan_run(&run, ctx).await {
            Plan::Change { preview, change } => Plan::Change {
                preview,
                change: (run, change),
            },
            Plan::Done(result) => Plan::Done(result),
        }
    }

    async fn apply(
        &self,
        _p: &Params,
        (run, request): Self::Change,
        _preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        apply_run(&run, request, ctx).await
    }
}
