//! Running service-manager commands on the host, shared by service and systemd.
//!
//! Every command is a shell line built with `shell_quote`, so unit and service names holding spaces,
//! quotes or `$()` reach the tools literally. The tools live in sbin folders that a login over SSH as an
//! ordinary user often lacks on `PATH`, and Ansible looks there too (`get_bin_path`), so each script
//! extends `PATH` first.

use crate::connection::CommandRequest;
use crate::contract::{ModuleContext, ModuleResult};
use serde_json::json;

/// The first line of every script: the sbin folders on `PATH`, and the runtime folder that
/// `systemctl --user` needs when the session has none (Ansible sets it the same way).
pub(crate) const PRELUDE: &str =
    "PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin\"; export PATH; \
[ -n \"${XDG_RUNTIME_DIR:-}\" ] || { XDG_RUNTIME_DIR=/run/user/$(id -u); export XDG_RUNTIME_DIR; }";

/// What a command printed and returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Output {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The script that runs `line` so that a daemon it starts cannot hold the connection open: its output
/// goes to temporary files rather than to the pipes the connection waits on (Ansible daemonizes these
/// commands for the same reason), and is printed once the command has returned.
pub(crate) fn detached_script(line: &str) -> String {
    format!(
        "{PRELUDE}\nply_o=$(mktemp) && ply_e=$(mktemp) || exit 125\n{{\n{line}\n}} >\"$ply_o\" 2>\"$ply_e\" </dev/null\n\
         ply_rc=$?; cat \"$ply_o\"; cat \"$ply_e\" >&2; rm -f \"$ply_o\" \"$ply_e\"; exit $ply_rc"
    )
}

/// The script that runs `line` as it is.
pub(crate) fn plain_script(line: &str) -> String {
    format!("{PRELUDE}\n{line}")
}

/// The command line inside a script built by [`plain_script`] or [`detached_script`], and whether it was
/// detached: what tests compare against.
#[cfg(test)]
pub(crate) fn command_of(script: &str) -> (String, bool) {
    let body = script
        .strip_prefix(PRELUDE)
        .and_then(|s| s.strip_prefix('\n'))
        .expect("a service script starts with the prelude");
    match body.strip_prefix("ply_o=$(mktemp) && ply_e=$(mktemp) || exit 125\n{\n") {
        Some(rest) => {
            let end = rest.rfind("\n} >").expect("detached script");
            (rest[..end].to_string(), true)
        }
        None => (body.to_string(), false),
    }
}

/// Runs service-manager commands for one task: its environment and become apply to each.
pub(crate) struct Host<'a, 'b> {
    pub ctx: &'a ModuleContext<'b>,
}

impl Host<'_, '_> {
    async fn run_script(&self, script: String) -> Result<Output, ModuleResult> {
        let mut request = CommandRequest::shell(script);
        request.env = self.ctx.environment.clone();
        request.become_ = self.ctx.become_.clone();
        match self.ctx.host.run(&request).await {
            Ok(out) => Ok(Output {
                rc: out.rc,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Err(e) => Err(ModuleResult::from_connection_error(&e)),
        }
    }

    /// Runs a command that only reads.
    pub async fn run(&self, line: &str) -> Result<Output, ModuleResult> {
        self.run_script(plain_script(line)).await
    }

    /// Runs a command that may start a daemon (start, stop, restart, reload).
    pub async fn run_detached(&self, line: &str) -> Result<Output, ModuleResult> {
        self.run_script(detached_script(line)).await
    }
}

/// Ansible's `fail_if_missing`: the message users search for when a service name is wrong.
pub(crate) fn missing(name: &str) -> ModuleResult {
    ModuleResult::failed(format!("Could not find the requested service {name}: host"))
}

/// A failure that keeps what the command said, as Ansible's `run_command(check_rc=True)` reports it.
pub(crate) fn command_failure(cmd: &str, out: &Output) -> ModuleResult {
    let mut result = ModuleResult::failed(out.stderr.trim_end());
    result.values.insert("cmd".into(), json!(cmd));
    result.values.insert("rc".into(), json!(out.rc));
    result.values.insert("stdout".into(), json!(out.stdout));
    result.values.insert("stderr".into(), json!(out.stderr));
    result
}

#[cfg(test)]
pub(crate) mod fake {
    //! A host that answers commands from a script of canned outputs and records what was asked.

    use super::command_of;
    use crate::connection::{
        Become, CommandOutput, CommandRequest, Connection, ConnectionError, FileAttributes,
        FileStat, Program,
    };
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Each command line maps to an output. Unscripted probes fail (rc 1, no output) and unscripted
    /// actions (detached commands) succeed, so cases script only what matters.
    #[derive(Default)]
    pub(crate) struct FakeHost {
        pub answers: Vec<(String, i32, String, String)>,
        pub seen: Mutex<Vec<(String, bool)>>,
    }

    impl FakeHost {
        pub fn new(answers: &[(&str, i32, &str, &str)]) -> Self {
            FakeHost {
                answers: answers
                    .iter()
                    .map(|(c, rc, o, e)| (c.to_string(), *rc, o.to_string(), e.to_string()))
                    .collect(),
                seen: Mutex::new(Vec::new()),
            }
        }

        /// Adds an answer built at run time.
        pub fn answer(mut self, line: &str, rc: i32, out: &str, err: &str) -> Self {
            self.answers
                .push((line.to_string(), rc, out.to_string(), err.to_string()));
            self
        }

        /// The command lines run, in order; detached ones are marked with a leading `&`.
        pub fn commands(&self) -> Vec<String> {
            self.seen
                .lock()
                .unwrap()
                .iter()
                .map(|(c, d)| if *d { format!("& {c}") } else { c.clone() })
                .collect()
        }
    }

    #[async_trait]
    impl Connection for FakeHost {
        fn host(&self) -> &str {
            "fake"
        }

        async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
            let Program::Shell { script, .. } = &request.program else {
                panic!("service commands are shell lines: {request:?}");
            };
            let (line, detached) = command_of(script);
            self.seen.lock().unwrap().push((line.clone(), detached));
            let answer = self.answers.iter().find(|(c, ..)| *c == line);
            Ok(match answer {
                Some((_, rc, out, err)) => CommandOutput {
                    rc: *rc,
                    stdout: out.clone().into_bytes(),
                    stderr: err.clone().into_bytes(),
                },
                None => CommandOutput {
                    rc: i32::from(!detached),
                    ..CommandOutput::default()
                },
            })
        }

        async fn read_file(
            &self,
            _path: &str,
            _become: Option<&Become>,
        ) -> Result<Option<Vec<u8>>, ConnectionError> {
            Ok(None)
        }

        async fn write_file(
            &self,
            path: &str,
            _content: &[u8],
            _attributes: &FileAttributes,
            _become: Option<&Become>,
        ) -> Result<(), ConnectionError> {
            Err(ConnectionError::Other(format!(
                "no writes expected: {path}"
            )))
        }

        async fn stat(
            &self,
            _path: &str,
            _follow: bool,
            _become: Option<&Become>,
        ) -> Result<Option<FileStat>, ConnectionError> {
            Ok(None)
        }
    }
}
