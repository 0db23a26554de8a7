//! How modules reach a host. Modules see hosts only through [`Connection`]; the engine provides the
//! implementations (local, SSH) and the check-mode overlay.
//!
//! The trait lives in this crate rather than in `engine` because `engine` depends on `modules` (its binary
//! runs them) and Cargo forbids dependency cycles; `engine::connection` re-exports it.

use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

/// A secret (become or connection password) that never shows in Debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it (stdin of sudo, SSH auth).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BecomeMethod {
    #[default]
    Sudo,
    Su,
}

/// Privilege escalation for one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Become {
    pub user: String,
    pub method: BecomeMethod,
    pub password: Option<Secret>,
    /// Extra flags for the become program (`become_flags`).
    pub flags: Option<String>,
    /// The become program to run instead of `sudo` or `su` (`become_exe`), e.g. a full path.
    pub exe: Option<String>,
}

/// What to run: an argument vector (no shell involved), or a shell script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    Argv(Vec<String>),
    /// Run with `executable -c script` (`/bin/sh` when no executable is given).
    Shell {
        script: String,
        executable: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandRequest {
    pub program: Program,
    pub stdin: Option<Vec<u8>>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub timeout: Option<Duration>,
    pub become_: Option<Become>,
}

impl CommandRequest {
    pub fn new(program: Program) -> Self {
        CommandRequest {
            program,
            stdin: None,
            env: Vec::new(),
            cwd: None,
            timeout: None,
            become_: None,
        }
    }

    pub fn shell(script: impl Into<String>) -> Self {
        CommandRequest::new(Program::Shell {
            script: script.into(),
            executable: None,
        })
    }

    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandRequest::new(Program::Argv(argv.into_iter().map(Into::into).collect()))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Mode and ownership to set on a written file; `None` keeps the existing value (or the default for a new file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileAttributes {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FileStat {
    pub kind: FileKind,
    /// Permission bits (`0o644`), without the file type bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: f64,
    pub link_target: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The host cannot be reached at all: the play goes on without it (UNREACHABLE).
    #[error("{0}")]
    Unreachable(String),
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    #[error("privilege escalation failed: {0}")]
    Become(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl ConnectionError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ConnectionError::Unreachable(_))
    }
}

/// One host, as modules see it. Implementations: `engine::connection::{LocalConnection, CheckOverlay}` and
/// later SSH.
#[async_trait]
pub trait Connection: Send + Sync {
    /// The inventory name of the host, for messages.
    fn host(&self) -> &str;

    /// Runs a command to completion (or its timeout) and returns its exit code and output.
    async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError>;

    /// A file's bytes, or `None` when it does not exist.
    async fn read_file(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError>;

    /// Writes a file atomically: a temp file in the same directory, fsync, then rename over `path`, so a
    /// reader never sees half a file. Attributes not given are kept from the file being replaced.
    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError>;

    /// What is at `path`, or `None` when nothing is. `follow` resolves a symlink to its target.
    async fn stat(
        &self,
        path: &str,
        follow: bool,
        become_: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError>;

    /// Writes a file atomically from a stream, so large files never sit whole in memory. The default
    /// reads the stream and calls [`Connection::write_file`]; connections that can stream override it.
    async fn write_file_stream(
        &self,
        path: &str,
        source: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        use tokio::io::AsyncReadExt;
        let mut content = Vec::new();
        source
            .read_to_end(&mut content)
            .await
            .map_err(|e| ConnectionError::File {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        self.write_file(path, &content, attributes, become_).await
    }

    /// Why the connection to the host is gone, when it is. A module that fails because its connection
    /// died reports the failure in its own words; the executor asks this afterwards so that such a task
    /// is UNREACHABLE, whatever the module made of the error. Connections that cannot be lost say `None`.
    fn lost(&self) -> Option<String> {
        None
    }

    /// Removes what writes abandoned mid-way left on the host (an interrupted run drops them before they
    /// could clean up). Connections whose writes clean up after themselves do nothing.
    async fn discard_unfinished(&self) {}

    /// Whether this connection is the check-mode overlay: it records writes instead of making them. In
    /// check mode a module writes its predicted files through such a connection (and records directories
    /// and removals with the two methods below), so that later tasks of the run see them. Other
    /// connections never get such writes.
    fn is_check_overlay(&self) -> bool {
        false
    }

    /// Check mode: records that `path` would be a directory with `attributes` (parents are not implied).
    /// Does nothing outside the overlay.
    async fn check_record_directory(
        &self,
        path: &str,
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let _ = (path, attributes, become_);
        Ok(())
    }

    /// Check mode: records that `path` and everything below it would be removed. Does nothing outside the
    /// overlay.
    fn check_record_absent(&self, path: &str) {
        let _ = path;
    }

    /// The SHA-1 of a file's content (what Ansible's copy and stat compare), or `None` when it does not
    /// exist, so unchanged files are never sent again. The default asks the host's `sha1sum`.
    async fn checksum_sha1(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<String>, ConnectionError> {
        // Read from stdin: `sha1sum` escapes the output line of a name holding a newline or backslash.
        let mut request = CommandRequest::shell(format!(
            "exec sha1sum < {}",
            crate::shell_quote::shell_quote(path)
        ));
        request.become_ = become_.cloned();
        if self.stat(path, true, become_).await?.is_none() {
            return Ok(None);
        }
        let output = self.run(&request).await?;
        if output.rc != 0 {
            return Err(ConnectionError::File {
                path: path.to_string(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text.split_whitespace().next().map(str::to_string))
    }
}

/// The "connection" of a module that runs on the controller (debug, assert, set_fact ...): like
/// Ansible's action plugins these never touch the host, so no connection is opened for them and a
/// check that fails before any real task never contacts a host. Every host operation is an error.
pub struct NoHost {
    host: String,
}

impl NoHost {
    pub fn new(host: impl Into<String>) -> Self {
        NoHost { host: host.into() }
    }

    fn refuse(&self) -> ConnectionError {
        ConnectionError::Other(format!(
            "{}: a controller-side module has no connection to the host",
            self.host
        ))
    }
}

#[async_trait]
impl Connection for NoHost {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, _request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
        Err(self.refuse())
    }

    async fn read_file(
        &self,
        _path: &str,
        _become: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        Err(self.refuse())
    }

    async fn write_file(
        &self,
        _path: &str,
        _content: &[u8],
        _attributes: &FileAttributes,
        _become: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        Err(self.refuse())
    }

    async fn stat(
        &self,
        _path: &str,
        _follow: bool,
        _become: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        Err(self.refuse())
    }
}
