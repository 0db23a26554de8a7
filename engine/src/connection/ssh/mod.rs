//! `ansible_connection=ssh`: hosts reached over SSH with russh, one connection per host reused for every
//! command.
//!
//! - Commands run on session channels (at most [`session::MAX_CHANNELS`] at once per connection, under
//!   OpenSSH's MaxSessions), each drained and closed on every path.
//! - SSH has no argument vector, environment the server accepts, or working directory: the command line
//!   carries them (`cd`, `export`, quoted words), and become wraps it with `shell_ops::escalate`.
//! - File operations are `shell_ops` scripts over [`Connection::run`]; writes stream their content into a
//!   temp file beside the target and commit it only when every byte arrived.
//! - Host keys are checked against known_hosts by [`known_hosts`]; `~/.ssh/config` is read by
//!   [`ssh_config`] (the caller resolves a host into an [`SshTarget`]).

mod exec;
mod files;
mod hashing;
mod hostkey;
pub mod known_hosts;
mod session;
pub mod ssh_args;
pub mod ssh_config;

use super::shell_ops::{self, shell_quote};
use super::{
    Become, CommandOutput, CommandRequest, Connection, ConnectionError, FileAttributes, FileStat,
    Program, Secret,
};
use async_trait::async_trait;
use exec::{Exec, ExecError, Finished, Stdin};
use known_hosts::HostKeyPolicy;
use session::Session;
use std::path::PathBuf;
use std::time::Duration;

pub use exec::{wait_for_cleanups, Cleanup as CleanupGuard};
pub use session::MAX_CHANNELS;

/// Everything needed to reach one host.
#[derive(Clone, Debug)]
pub struct SshTarget {
    /// The inventory name, for messages.
    pub host: String,
    /// What to connect to (`ansible_host`, else the inventory name).
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Private keys to try, in order; empty means OpenSSH's defaults (`~/.ssh/id_ed25519`, `id_ecdsa`,
    /// `id_rsa`).
    pub identity_files: Vec<PathBuf>,
    /// Password authentication (`ansible_password`, `-k`), tried after the keys.
    pub password: Option<Secret>,
    /// Decrypts encrypted identity files.
    pub key_passphrase: Option<Secret>,
    /// Try the keys of the ssh-agent at `SSH_AUTH_SOCK` first.
    pub use_agent: bool,
    /// Jump hosts, OpenSSH syntax: `[user@]host[:port]`, comma-separated for several hops.
    pub proxy_jump: Option<String>,
    /// `ProxyCommand`: run with `sh -c` (`%h`, `%p`, `%r`, `%n`, `%%` expanded); its stdin and stdout
    /// carry the SSH stream.
    pub proxy_command: Option<String>,
    /// Keepalives (`ServerAliveInterval`, `ServerAliveCountMax`): a session that answers none of
    /// `count` in a row is lost, so a frozen host is UNREACHABLE after about `interval × count`.
    pub server_alive_interval: Duration,
    pub server_alive_count_max: u32,
    /// Host key notices for the user (a changed key accepted because checking is off, a key learned
    /// under accept-new), shared with whoever reports them.
    pub notices: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Limit for TCP connect, key exchange and authentication together.
    pub connect_timeout: Duration,
    /// Default limit for each command (a request's own timeout wins).
    pub command_timeout: Option<Duration>,
    pub host_key_policy: HostKeyPolicy,
    /// known_hosts files to read; the first is where accept-new records new keys. Empty means OpenSSH's
    /// (`~/.ssh/known_hosts`, `known_hosts2`, `/etc/ssh/ssh_known_hosts`, `ssh_known_hosts2`).
    pub known_hosts_files: Vec<PathBuf>,
}

impl SshTarget {
    /// A target with Ansible's defaults: agent on, 10 s connect timeout, accept-new host keys.
    pub fn new(
        host: impl Into<String>,
        address: impl Into<String>,
        port: u16,
        user: impl Into<String>,
    ) -> Self {
        SshTarget {
            host: host.into(),
            address: address.into(),
            port,
            user: user.into(),
            identity_files: Vec::new(),
            password: None,
            key_passphrase: None,
            use_agent: true,
            proxy_jump: None,
            proxy_command: None,
            server_alive_interval: Duration::from_secs(15),
            server_alive_count_max: 3,
            notices: Default::default(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: None,
            host_key_policy: HostKeyPolicy::AcceptNew,
            known_hosts_files: Vec::new(),
        }
    }

    fn known_hosts_files(&self) -> Vec<PathBuf> {
        if self.known_hosts_files.is_empty() {
            known_hosts::default_files()
        } else {
            self.known_hosts_files.clone()
        }
    }

    /// The target for the last hop of `spec`, reached through the hops before it. A hop inherits this
    /// target's credentials and host key settings; its user defaults to this target's.
    fn jump_target(&self, spec: &str) -> Result<SshTarget, ConnectionError> {
        let (before, last) = match spec.rsplit_once(',') {
            Some((before, last)) => (Some(before.trim().to_string()), last.trim()),
            None => (None, spec.trim()),
        };
        let (user, rest) = match last.rsplit_once('@') {
            Some((user, rest)) => (user.to_string(), rest),
            None => (self.user.clone(), last),
        };
        let (address, port) = parse_host_port(rest).ok_or_else(|| {
            ConnectionError::Unreachable(format!(
                "{}: cannot read the jump host {last:?} (expected [user@]host[:port])",
                self.host
            ))
        })?;
        Ok(SshTarget {
            host: address.clone(),
            address,
            port,
            user,
            proxy_jump: before,
            proxy_command: None,
            command_timeout: None,
            ..self.clone()
        })
    }
}

fn parse_host_port(text: &str) -> Option<(String, u16)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 22,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        // More than one colon without brackets is a bare IPv6 address.
        Some((host, port)) if !host.contains(':') => Some((host.to_string(), port.parse().ok()?)),
        _ if !text.is_empty() => Some((text.to_string(), 22)),
        _ => None,
    }
}

/// A host over SSH: one authenticated connection, shared by every operation.
pub struct SshConnection {
    host: String,
    user: String,
    command_timeout: Option<Duration>,
    session: Session,
    /// Streamed uploads begun and not yet committed or discarded (token, path, become user): a write
    /// abandoned by an interrupted run leaves its temp file on the host until
    /// [`Connection::discard_unfinished`] removes it.
    unfinished: std::sync::Mutex<Vec<(String, String, Option<Become>)>>,
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection")
            .field("host", &self.host)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Printed by the `cd` prefix when the working directory cannot be entered, so that failure is told apart
/// from the command's own.
const CWD_FAILED: &str = "PLY-CWD-FAILED";

impl SshConnection {
    /// Connects, checks the host key and authenticates. Every failure is `Unreachable`, with a message
    /// that says what went wrong (refused, timed out, host key, or which credentials were tried).
    pub async fn connect(target: SshTarget) -> Result<SshConnection, ConnectionError> {
        let session = session::connect(&target).await?;
        Ok(SshConnection {
            host: target.host,
            user: target.user,
            command_timeout: target.command_timeout,
            session,
            unfinished: Default::default(),
        })
    }

    /// The user logged in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the connection is gone (the host died, or the network): every operation now fails with
    /// `Unreachable`.
    pub fn is_closed(&self) -> bool {
        self.session.lost_reason().is_some()
    }

    /// Says goodbye to the server. Dropping the connection closes it too, less politely.
    pub async fn close(&self) {
        self.session.disconnect().await;
    }

    /// Runs a request with the given stdin; become failures become `ConnectionError::Become`.
    async fn run_with(
        &self,
        request: &CommandRequest,
        stdin: Stdin<'_>,
    ) -> Result<Finished, ExecError> {
        let (command, escalation) = command_line(request, &self.user)?;
        tracing::debug!(host = %self.host, become_user = ?request.become_.as_ref().map(|b| &b.user), "ssh exec");
        let password = request
            .become_
            .as_ref()
            .and_then(|b| b.password.clone())
            .filter(|_| escalation.is_some());
        let finished = self
            .session
            .exec(Exec {
                command,
                stdin,
                escalation: escalation.clone(),
                password,
                timeout: request.timeout.or(self.command_timeout),
            })
            .await?;
        if let Some(message) = &finished.become_failure {
            let program = request
                .become_
                .as_ref()
                .map(|b| format!("{:?}", b.method).to_lowercase())
                .unwrap_or_default();
            return Err(ExecError::Connection(ConnectionError::Become(
                if message.is_empty() {
                    format!(
                        "{program} exited with code {} before running the command",
                        finished.rc
                    )
                } else {
                    message.clone()
                },
            )));
        }
        if escalation.is_none() {
            if let Some(dir) = &request.cwd {
                if finished.rc == 1 && contains(&finished.stderr, CWD_FAILED.as_bytes()) {
                    let text = String::from_utf8_lossy(&finished.stderr).replace(CWD_FAILED, "");
                    return Err(ExecError::Connection(ConnectionError::File {
                        path: dir.clone(),
                        message: format!("cannot change into this directory: {}", text.trim()),
                    }));
                }
            }
        }
        Ok(finished)
    }

    async fn run_script(
        &self,
        script: String,
        stdin: Stdin<'_>,
        become_: Option<&Become>,
    ) -> Result<Finished, ExecError> {
        let mut request = CommandRequest::new(Program::Shell {
            script,
            executable: None,
        });
        request.become_ = become_.cloned();
        self.run_with(&request, stdin).await
    }
}

/// The command line for a request, and its escalation when it has one.
fn command_line(
    request: &CommandRequest,
    user: &str,
) -> Result<(String, Option<shell_ops::Escalation>), ConnectionError> {
    if let Some(b) = request.become_.as_ref().filter(|b| b.user != user) {
        let escalation = shell_ops::escalate(
            &request.program,
            &request.env,
            request.cwd.as_deref(),
            b,
            user == "root",
        )?;
        return Ok((shell_ops::command_line(&escalation.argv), Some(escalation)));
    }
    let argv = shell_ops::program_argv(&request.program);
    if argv.is_empty() {
        return Err(ConnectionError::Other("empty command".to_string()));
    }
    let command = shell_ops::command_line(&argv);
    if request.cwd.is_none() && request.env.is_empty() {
        return Ok((command, None));
    }
    // sshd rejects environment requests it has not been told to accept (AcceptEnv), so the
    // environment and directory travel in the command line, run by sh whatever the login shell is.
    let mut script = String::new();
    if let Some(dir) = &request.cwd {
        script.push_str(&format!(
            "cd -- {} || {{ echo {CWD_FAILED} >&2; exit 1; }}; ",
            shell_quote(dir)
        ));
    }
    if !request.env.is_empty() {
        script.push_str("export");
        for (k, v) in &request.env {
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ConnectionError::Other(format!(
                    "invalid environment variable name {k:?}"
                )));
            }
            script.push(' ');
            script.push_str(&shell_quote(&format!("{k}={v}")));
        }
        script.push_str("; ");
    }
    script.push_str("exec ");
    script.push_str(&command);
    Ok((
        shell_ops::command_line(&["/bin/sh", "-c", script.as_str()]),
        None,
    ))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn file_error(path: &str, finished: &Finished) -> ConnectionError {
    let message = String::from_utf8_lossy(&finished.stderr).trim().to_string();
    ConnectionError::File {
        path: path.to_string(),
        message: if message.is_empty() {
            format!("failed with exit code {}", finished.rc)
        } else {
            message
        },
    }
}

fn plain(e: ExecError, path: &str) -> ConnectionError {
    match e {
        ExecError::Connection(e) => e,
        ExecError::Source(e) => ConnectionError::File {
            path: path.to_string(),
            message: format!("reading the content to send: {e}"),
        },
    }
}

#[async_trait]
impl Connection for SshConnection {
    fn host(&self) -> &str {
        &self.host
    }

    fn lost(&self) -> Option<String> {
        self.session
            .lost_reason()
            .map(|reason| format!("connection to {} lost: {reason}", self.host))
    }

    async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
        let stdin = match &request.stdin {
            Some(data) => Stdin::Bytes(data),
            None => Stdin::None,
        };
        let finished = self
            .run_with(request, stdin)
            .await
            .map_err(|e| plain(e, ""))?;
        Ok(CommandOutput {
            rc: finished.rc,
            stdout: finished.stdout,
            stderr: finished.stderr,
        })
    }

    async fn read_file(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        shell_ops::read_file(self, path, become_).await
    }

    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let token = shell_ops::random_token(16);
        let script = files::write_script(path, &token, content.len() as u64, attributes);
        let finished = self
            .run_script(script, Stdin::Bytes(content), become_)
            .await
            .map_err(|e| plain(e, path))?;
        if finished.rc == 0 {
            Ok(())
        } else {
            Err(file_error(path, &finished))
        }
    }

    async fn stat(
        &self,
        path: &str,
        follow: bool,
        become_: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        shell_ops::stat(self, path, follow, become_).await
    }

    async fn write_file_stream(
        &self,
        path: &str,
        source: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let token = shell_ops::random_token(16);
        let entry = (token.clone(), path.to_string(), become_.cloned());
        self.unfinished_list().push(entry);
        let result = self
            .stream_upload(path, &token, source, attributes, become_)
            .await;
        self.unfinished_list().retain(|(t, _, _)| *t != token);
        result
    }

    async fn discard_unfinished(&self) {
        let unfinished = std::mem::take(&mut *self.unfinished_list());
        for (token, path, become_) in unfinished {
            if self.is_closed() {
                return;
            }
            let _ = self
                .run_script(
                    files::discard_script(&path, &token),
                    Stdin::None,
                    become_.as_ref(),
                )
                .await;
        }
    }

    async fn checksum_sha1(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<String>, ConnectionError> {
        self.checksum_sha1_script(path, become_).await
    }
}

impl SshConnection {
    fn unfinished_list(&self) -> std::sync::MutexGuard<'_, Vec<(String, String, Option<Become>)>> {
        self.unfinished.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Receives the stream into a temp file, then (second command) checks and commits it.
    async fn stream_upload(
        &self,
        path: &str,
        token: &str,
        source: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let token = token.to_string();
        let mut hashed = hashing::Sha1Reader::new(source);
        let received = self
            .run_script(
                files::receive_script(path, &token),
                Stdin::Stream(&mut hashed),
                become_,
            )
            .await;
        let sent_sha1 = hashed.hex();
        let finished = match received {
            Ok(finished) => finished,
            Err(e) => {
                // The remote side may have taken a short stream for a whole one: drop what it kept.
                if !self.is_closed() {
                    let _ = self
                        .run_script(files::discard_script(path, &token), Stdin::None, become_)
                        .await;
                }
                return Err(plain(e, path));
            }
        };
        if finished.rc != 0 {
            return Err(file_error(path, &finished));
        }
        let text = String::from_utf8_lossy(&finished.stdout);
        let mut lines = text.split('\0');
        let (Some(target), Some(temp)) = (lines.next(), lines.next()) else {
            return Err(ConnectionError::File {
                path: path.to_string(),
                message: format!("unexpected output from the upload: {text:?}"),
            });
        };
        let script =
            files::commit_script(target, temp, finished.stdin_sent, &sent_sha1, attributes);
        let committed = self
            .run_script(script, Stdin::None, become_)
            .await
            .map_err(|e| plain(e, path))?;
        if committed.rc == 0 {
            Ok(())
        } else {
            Err(file_error(path, &committed))
        }
    }

    async fn checksum_sha1_script(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<String>, ConnectionError> {
        let finished = self
            .run_script(files::checksum_script(path), Stdin::None, become_)
            .await
            .map_err(|e| plain(e, path))?;
        match finished.rc {
            0 => Ok(String::from_utf8_lossy(&finished.stdout)
                .split_whitespace()
                .next()
                .map(str::to_string)),
            66 => Ok(None),
            _ => Err(file_error(path, &finished)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_specs_parse_like_openssh() {
        let t = SshTarget::new("db1", "10.0.0.5", 22, "deploy");
        let j = t.jump_target("bastion").unwrap();
        assert_eq!(
            (j.address.as_str(), j.port, j.user.as_str()),
            ("bastion", 22, "deploy")
        );
        assert!(j.proxy_jump.is_none());
        let j = t.jump_target("ops@gw:2222").unwrap();
        assert_eq!(
            (j.address.as_str(), j.port, j.user.as_str()),
            ("gw", 2222, "ops")
        );
        let j = t.jump_target("a, b@[::1]:2200").unwrap();
        assert_eq!(
            (j.address.as_str(), j.port, j.user.as_str()),
            ("::1", 2200, "b")
        );
        assert_eq!(j.proxy_jump.as_deref(), Some("a"));
        assert_eq!(parse_host_port("fe80::1"), Some(("fe80::1".into(), 22)));
        assert!(t.jump_target("host:notaport").is_err());
    }

    #[test]
    fn command_lines_carry_env_and_cwd() {
        let plain_argv = CommandRequest::argv(["printf", "%s", "a b"]);
        let (line, esc) = command_line(&plain_argv, "u").unwrap();
        assert_eq!(line, "printf %s 'a b'");
        assert!(esc.is_none());

        let mut req = CommandRequest::argv(["sh", "-c", "printf '%s|%s' \"$A\" \"$PWD\""]);
        req.cwd = Some("/".into());
        req.env = vec![("A".into(), "it's $HOME".into())];
        let (line, _) = command_line(&req, "u").unwrap();
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &line])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $HOME|/");

        req.env = vec![("A B".into(), "x".into())];
        assert!(command_line(&req, "u").is_err());

        // Becoming the user already logged in needs no sudo.
        req.env.clear();
        req.become_ = Some(Become {
            user: "u".into(),
            method: Default::default(),
            password: None,
            flags: None,
            exe: None,
        });
        assert!(command_line(&req, "u").unwrap().1.is_none());
        assert!(command_line(&req, "root").unwrap().1.is_some());
    }
}
