//! ansible.builtin.command: runs a program on the host without a shell. Shared with `shell`, which differs
//! only in how the command is run.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::{CommandRequest, FileKind, Program};
use crate::contract::{ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::util::{lines_value, py_datetime, py_timedelta, shlex_split};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) const CHDIR: ArgSpec = ArgSpec::new(
    "chdir",
    ArgType::Path,
    "Change into this directory before running the command.",
);
pub(crate) const CREATES: ArgSpec = ArgSpec::new(
    "creates",
    ArgType::Path,
    "A filename or (since 2.0) glob pattern. If a matching file already exists, this step will not be run. \
     This is checked before removes is checked.",
);
pub(crate) const REMOVES: ArgSpec = ArgSpec::new(
    "removes",
    ArgType::Path,
    "A filename or (since 2.0) glob pattern. If a matching file exists, this step will be run. \
     This is checked after creates is checked.",
);
pub(crate) const STDIN: ArgSpec = ArgSpec::new(
    "stdin",
    ArgType::Str,
    "Set the stdin of the command directly to the specified value.",
);
pub(crate) const STDIN_ADD_NEWLINE: ArgSpec = ArgSpec::new(
    "stdin_add_newline",
    ArgType::Bool,
    "If set to true, append a newline to stdin data.",
)
.default(ArgDefault::Bool(true));
pub(crate) const STRIP_EMPTY_ENDS: ArgSpec = ArgSpec::new(
    "strip_empty_ends",
    ArgType::Bool,
    "Strip empty lines from the end of stdout/stderr in result.",
)
.default(ArgDefault::Bool(true));

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("_raw_params", ArgType::Str, ""),
    ArgSpec::new(
        "cmd",
        ArgType::Str,
        "The command to run, as the free form would give it.",
    ),
    ArgSpec::new(
        "argv",
        ArgType::List,
        "Passes the command as a list rather than a string. Use argv to avoid quoting values that would \
         otherwise be interpreted incorrectly (for example 'user name'). Only the string (free form) or the \
         list (argv) form can be provided, not both. One or the other must be provided.",
    )
    .elements(ArgType::Str),
    CHDIR,
    ArgSpec::new(
        "executable",
        ArgType::Str,
        "Not used by command (use shell): accepted with a warning, as Ansible does.",
    ),
    CREATES,
    REMOVES,
    STDIN,
    STDIN_ADD_NEWLINE,
    STRIP_EMPTY_ENDS,
];

pub(crate) const RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new(
        "msg",
        "str",
        "always",
        "Empty when the command ran and succeeded, \"non-zero return code\" when it failed, else why it did \
         not run (creates/removes, check mode).",
    ),
    ReturnDoc::new(
        "cmd",
        "list",
        "always",
        "The command executed by the task (a list of words for command, the string for shell).",
    ),
    ReturnDoc::new(
        "rc",
        "int",
        "always",
        "The command return code (0 means success).",
    ),
    ReturnDoc::new("stdout", "str", "always", "The command standard output."),
    ReturnDoc::new("stderr", "str", "always", "The command standard error."),
    ReturnDoc::new(
        "stdout_lines",
        "list",
        "always",
        "The command standard output split in lines.",
    ),
    ReturnDoc::new(
        "stderr_lines",
        "list",
        "always",
        "The command standard error split in lines.",
    ),
    ReturnDoc::new(
        "start",
        "str",
        "always",
        "The command execution start time, e.g. \"2024-05-01 12:00:00.123456\".",
    ),
    ReturnDoc::new("end", "str", "always", "The command execution end time."),
    ReturnDoc::new(
        "delta",
        "str",
        "always",
        "The command execution delta time, e.g. \"0:00:00.002345\".",
    ),
];

pub(crate) const CHECK_MODE: Support = Support::Partial(
    "only when creates or removes decide the command would not run; otherwise the task is skipped with \
     \"Command would have run if not in check mode\"",
);

pub static DOC: ModuleDoc = ModuleDoc {
    name: "command",
    short_description: "Execute commands on targets",
    description: "The command module takes the command name followed by a list of space-delimited arguments. \
        The given command will be executed on all selected nodes. The command is not processed through the \
        shell, so variables like $HOSTNAME and operations like \"*\", \"<\", \">\", \"|\", \";\" and \"&\" will \
        not work. Use the shell module if you need these features.",
    free_form: Some(
        "The command module takes a free form string as a command to run, split into words with shell \
         quoting rules (no shell is involved).",
    ),
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: CHECK_MODE,
    diff_mode: Support::None,
    returns: RETURNS,
    notes: &[
        "If you want to run a command through the shell (say you are using <, >, |, and so on), use the \
         shell module instead.",
        "creates, removes and chdir can be given after the command: `command: /sbin/init.sh creates=/path`.",
    ],
    example: r#"- name: Return motd to registered var
  ansible.builtin.command: cat /etc/motd
  register: mymotd

- name: Run a command only when a file does not exist
  ansible.builtin.command:
    cmd: /usr/bin/make_database.sh db_user db_name
    creates: /path/to/database

- name: Use argv to send a command as a list
  ansible.builtin.command:
    argv:
      - /usr/bin/make_database.sh
      - Username with whitespace
      - dbname with whitespace
    chdir: somedir/
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    cmd: Option<String>,
    #[serde(default)]
    argv: Option<Vec<String>>,
    chdir: Option<String>,
    executable: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    stdin: Option<String>,
    stdin_add_newline: bool,
    strip_empty_ends: bool,
}

/// The parts command and shell share, after each has turned its arguments into a program.
pub struct Run {
    pub(crate) program: Program,
    /// `cmd` in the result: a list of words for command, the string for shell.
    pub(crate) cmd: Value,
    pub(crate) chdir: Option<String>,
    pub(crate) creates: Option<String>,
    pub(crate) removes: Option<String>,
    pub(crate) stdin: Option<String>,
    pub(crate) stdin_add_newline: bool,
    pub(crate) strip_empty_ends: bool,
}

fn base_result(cmd: Value) -> VarMap {
    let mut values = VarMap::new();
    values.insert("cmd".into(), cmd);
    values.insert("rc".into(), Value::Null);
    values.insert("stdout".into(), json!(""));
    values.insert("stderr".into(), json!(""));
    values.insert("stdout_lines".into(), json!([]));
    values.insert("stderr_lines".into(), json!([]));
    values.insert("start".into(), Value::Null);
    values.insert("end".into(), Value::Null);
    values.insert("delta".into(), Value::Null);
    values
}

/// A failure before anything ran, with Ansible's `rc: 256` for bad arguments.
pub(crate) fn early_failure(msg: &str, cmd: Value, rc: i64) -> ModuleResult {
    let mut values = base_result(cmd);
    values.insert("rc".into(), json!(rc));
    ModuleResult {
        failed: true,
        msg: Some(msg.to_string()),
        values,
        ..ModuleResult::default()
    }
}

/// Quotes a glob pattern for `sh` so that only its wildcards (and a leading `~`) stay active.
fn shell_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    if pattern.starts_with('~') {
        // `~` and `~user` expand only unquoted, up to the first slash.
        while let Some(&c) = chars.peek() {
            if c == '/' {
                break;
            }
            out.push(c);
            chars.next();
        }
    }
    for c in chars {
        match c {
            '*' | '?' | '[' | ']' | '/' | '.' | '-' | '_' => out.push(c),
            c if c.is_ascii_alphanumeric() => out.push(c),
            '\n' => out.push_str("'\n'"),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

/// Whether anything on the host matches `pattern`, as Python's `glob.glob()` in the module's directory.
async fn glob_matches(
    ctx: &ModuleContext<'_>,
    pattern: &str,
    chdir: Option<&str>,
) -> Result<bool, ModuleResult> {
    let literal = !pattern.contains(['*', '?', '[']) && !pattern.starts_with('~');
    if literal {
        let path = match chdir {
            Some(dir) if !pattern.starts_with('/') => {
                format!("{}/{pattern}", dir.trim_end_matches('/'))
            }
            _ => pattern.to_string(),
        };
        return ctx
            .host
            .stat(&path, false, ctx.become_.as_ref())
            .await
            .map(|s| s.is_some())
            .map_err(|e| ModuleResult::from_connection_error(&e));
    }
    let script = format!(
        "for f in {}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1",
        shell_glob(pattern)
    );
    let mut request = CommandRequest::shell(script);
    request.cwd = chdir.map(str::to_string);
    request.become_ = ctx.become_.clone();
    match ctx.host.run(&request).await {
        Ok(output) => Ok(output.rc == 0),
        Err(e) => Err(ModuleResult::from_connection_error(&e)),
    }
}

/// The plan of command and shell: check chdir, let creates/removes decide, else propose running.
pub(crate) async fn plan_run(run: &Run, ctx: &ModuleContext<'_>) -> Plan<CommandRequest> {
    if let Some(dir) = &run.chdir {
        let problem = match ctx.host.stat(dir, true, ctx.become_.as_ref()).await {
            Ok(Some(stat)) if stat.kind == FileKind::Directory => None,
            Ok(Some(_)) => Some("[Errno 20] Not a directory"),
            Ok(None) => Some("[Errno 2] No such file or directory"),
            Err(e) => return Plan::Done(ModuleResult::from_connection_error(&e)),
        };
        if let Some(problem) = problem {
            let mut result = early_failure(
                &format!("Unable to change directory before execution: {problem}: b'{dir}'"),
                run.cmd.clone(),
                0,
            );
            result.values.insert("rc".into(), Value::Null);
            return Plan::Done(result);
        }
    }

    let shoulda = if ctx.check_mode { "Would" } else { "Did" };
    let chdir = run.chdir.as_deref();
    let mut skip = None;
    if let Some(creates) = &run.creates {
        match glob_matches(ctx, creates, chdir).await {
            Ok(true) => skip = Some((creates, "exists")),
            Ok(false) => {}
            Err(result) => return Plan::Done(result),
        }
    }
    if let (None, Some(removes)) = (skip, &run.removes) {
        match glob_matches(ctx, removes, chdir).await {
            Ok(false) => skip = Some((removes, "does not exist")),
            Ok(true) => {}
            Err(result) => return Plan::Done(result),
        }
    }
    if let Some((path, why)) = skip {
        let mut values = base_result(run.cmd.clone());
        let stdout = format!("skipped, since {path} {why}");
        values.insert("stdout_lines".into(), lines_value(&stdout));
        values.insert("stdout".into(), Value::String(stdout));
        values.insert("rc".into(), json!(0));
        return Plan::Done(ModuleResult {
            msg: Some(format!("{shoulda} not run command since '{path}' {why}")),
            values,
            ..ModuleResult::default()
        });
    }

    let mut request = CommandRequest::new(run.program.clone());
    request.cwd = run.chdir.clone();
    request.env = ctx.environment.clone();
    request.become_ = ctx.become_.clone();
    if let Some(stdin) = &run.stdin {
        let mut data = stdin.clone().into_bytes();
        if run.stdin_add_newline {
            data.push(b'\n');
        }
        request.stdin = Some(data);
    }

    // Without creates/removes nothing can be predicted: Ansible skips; with them, it would have run.
    let unpredictable = run.creates.is_none() && run.removes.is_none();
    let mut values = base_result(run.cmd.clone());
    values.insert("rc".into(), json!(0));
    Plan::Change {
        preview: ModuleResult {
            changed: !unpredictable,
            skipped: unpredictable,
            msg: Some("Command would have run if not in check mode".into()),
            values,
            ..ModuleResult::default()
        },
        change: request,
    }
}

/// Runs the command and reports it as Ansible does.
pub(crate) async fn apply_run(
    run: &Run,
    request: CommandRequest,
    ctx: &ModuleContext<'_>,
) -> ModuleResult {
    let start = chrono::Local::now();
    let output = match ctx.host.run(&request).await {
        Ok(output) => output,
        Err(e) => return ModuleResult::from_connection_error(&e),
    };
    let end = chrono::Local::now();
    let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if run.strip_empty_ends {
        stdout.truncate(stdout.trim_end_matches(['\r', '\n']).len());
        stderr.truncate(stderr.trim_end_matches(['\r', '\n']).len());
    }
    let mut values = base_result(run.cmd.clone());
    values.insert("rc".into(), json!(output.rc));
    values.insert("stdout_lines".into(), lines_value(&stdout));
    values.insert("stderr_lines".into(), lines_value(&stderr));
    values.insert("stdout".into(), Value::String(stdout));
    values.insert("stderr".into(), Value::String(stderr));
    values.insert("start".into(), Value::String(py_datetime(&start)));
    values.insert("end".into(), Value::String(py_datetime(&end)));
    values.insert("delta".into(), Value::String(py_timedelta(end - start)));
    let failed = output.rc != 0;
    ModuleResult {
        changed: true,
        failed,
        msg: Some(if failed {
            "non-zero return code".into()
        } else {
            String::new()
        }),
        values,
        ..ModuleResult::default()
    }
}

/// The command words of the free form or `cmd` (one or the other), or of `argv`.
pub(crate) fn free_form(raw: Option<&str>, cmd: Option<&str>) -> Result<Option<String>, String> {
    match (raw.filter(|r| !r.is_empty()), cmd) {
        (Some(_), Some(_)) => Err(
            "The 'cmd' argument cannot be used when other raw parameters are specified. \
             Please put everything in one or the other place."
                .into(),
        ),
        (Some(raw), None) => Ok(Some(raw.to_string())),
        (None, cmd) => Ok(cmd.map(str::to_string)),
    }
}

pub struct Command;

#[async_trait]
impl Module for Command {
    type Params = Params;
    type Change = (Run, CommandRequest);

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Self::Change> {
        let text = match free_form(p.raw_params.as_deref(), p.cmd.as_deref()) {
            Ok(text) => text,
            Err(msg) => return Plan::Done(ModuleResult::failed(msg)),
        };
        let text = text.filter(|t| !t.trim().is_empty());
        let argv = p.argv.clone().filter(|a| !a.is_empty());
        let words = match (text, argv) {
            (None, None) => return Plan::Done(early_failure("no command given", Value::Null, 256)),
            (Some(_), Some(_)) => {
                return Plan::Done(early_failure(
                    "only command or argv can be given, not both",
                    Value::Null,
                    256,
                ))
            }
            (Some(text), None) => match shlex_split(&text) {
                Ok(words) => words,
                Err(e) => return Plan::Done(ModuleResult::failed(e)),
            },
            (None, Some(argv)) => argv,
        };
        let run = Run {
            program: Program::Argv(words.clone()),
            cmd: json!(words),
            chdir: p.chdir.clone(),
            creates: p.creates.clone(),
            removes: p.removes.clone(),
            stdin: p.stdin.clone(),
            stdin_add_newline: p.stdin_add_newline,
            strip_empty_ends: p.strip_empty_ends,
        };
        let warning = p.executable.as_ref().map(|exe| {
            format!(
                "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' \
                 module. Not using '{exe}'."
            )
        });
        let mut plan = match plan_run(&run, ctx).await {
            Plan::Change { preview, change } => Plan::Change {
                preview,
                change: (run, change),
            },
            Plan::Done(result) => Plan::Done(result),
        };
        if let Some(warning) = warning {
            match &mut plan {
                Plan::Done(r) | Plan::Change { preview: r, .. } => r.warnings.push(warning),
            }
        }
        plan
    }

    async fn apply(
        &self,
        _p: &Params,
        (run, request): Self::Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        let mut result = apply_run(&run, request, ctx).await;
        result.warnings = preview.warnings;
        result
    }
}
