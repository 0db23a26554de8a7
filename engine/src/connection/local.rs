//! `ansible_connection=local`: commands and files on the machine ply runs on.

use super::shell_ops::{self, BecomeEvent, BecomeScanner, Escalation};
use super::users;
use super::{
    Become, CommandOutput, CommandRequest, Connection, ConnectionError, FileAttributes, FileKind,
    FileStat, Secret,
};
use async_trait::async_trait;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The machine ply runs on, as the user ply runs as.
#[derive(Debug)]
pub struct LocalConnection {
    host: String,
    uid: u32,
    user: String,
}

impl LocalConnection {
    /// `host` is the inventory name (usually `localhost`), used in messages only.
    pub fn new(host: impl Into<String>) -> Self {
        let (uid, user) = users::current_user();
        LocalConnection {
            host: host.into(),
            uid,
            user,
        }
    }

    /// The user ply runs as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The become settings that really need escalation: none when the target user is the one ply runs as.
    fn needs<'a>(&self, become_: Option<&'a Become>) -> Option<&'a Become> {
        become_.filter(|b| b.user != self.user && b.user != self.uid.to_string())
    }
}

#[async_trait]
impl Connection for LocalConnection {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
        let escalation = match self.needs(request.become_.as_ref()) {
            Some(b) => Some(shell_ops::escalate(
                &request.program,
                &request.env,
                request.cwd.as_deref(),
                b,
                self.uid == 0,
            )?),
            None => None,
        };
        let password = request
            .become_
            .as_ref()
            .and_then(|b| b.password.clone())
            .filter(|_| escalation.is_some());
        run_process(request, escalation, password).await
    }

    async fn read_file(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        if self.needs(become_).is_some() {
            return shell_ops::read_file(self, path, become_).await;
        }
        let p = path.to_string();
        blocking(move || match fs::read(&p) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(io_error(&p, e)),
        })
        .await
    }

    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        if self.needs(become_).is_some() {
            return shell_ops::write_file(self, path, content, attributes, become_).await;
        }
        let (p, c, a) = (path.to_string(), content.to_vec(), attributes.clone());
        blocking(move || atomic_write(Path::new(&p), &c, &a).map_err(|e| io_error(&p, e))).await
    }

    async fn stat(
        &self,
        path: &str,
        follow: bool,
        become_: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        if self.needs(become_).is_some() {
            return shell_ops::stat(self, path, follow, become_).await;
        }
        let p = path.to_string();
        blocking(move || local_stat(Path::new(&p), follow).map_err(|e| io_error(&p, e))).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectionError> + Send + 'static,
) -> Result<T, ConnectionError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ConnectionError::Other(format!("file operation panicked: {e}")))?
}

/// "Not there" includes a path through a regular file (ENOTDIR), as `test -e` sees it.
fn absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory
}

fn io_error(path: &str, e: io::Error) -> ConnectionError {
    ConnectionError::File {
        path: path.to_string(),
        message: e.to_string(),
    }
}

async fn run_process(
    request: &CommandRequest,
    escalation: Option<Escalation>,
    password: Option<Secret>,
) -> Result<CommandOutput, ConnectionError> {
    let argv = match &escalation {
        Some(e) => e.argv.clone(),
        None => shell_ops::program_argv(&request.program),
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(ConnectionError::Other("empty command".to_string()));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    if escalation.is_none() {
        // The escalation wrapper sets these after sudo, which would otherwise reset them.
        cmd.envs(request.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &request.cwd {
            if !Path::new(dir).is_dir() {
                return Err(ConnectionError::File {
                    path: dir.clone(),
                    message: "cannot change into this directory: it does not exist".to_string(),
                });
            }
            cmd.current_dir(dir);
        }
    }
    let feeds_stdin = request.stdin.is_some() || escalation.is_some();
    cmd.stdin(if feeds_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    // Its own process group, so that a timeout kills what the command started too.
    .process_group(0)
    .kill_on_drop(true);
    tracing::debug!(program = %program, become_user = ?request.become_.as_ref().map(|b| &b.user), "local run");

    let mut child = match cmd.spawn() {
        Ok(child) => child,
        // Shells report these as 127/126; so does ply, so modules see the same on every connection.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(CommandOutput {
                rc: 127,
                stdout: Vec::new(),
                stderr: format!("{program}: command not found\n").into_bytes(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(CommandOutput {
                rc: 126,
                stdout: Vec::new(),
                stderr: format!("{program}: permission denied\n").into_bytes(),
            })
        }
        Err(e) => return Err(ConnectionError::Other(format!("cannot run {program}: {e}"))),
    };
    let pid = child.id();
    // Dropped before the command ends (the run was interrupted, or a task timeout): stop the whole group.
    let mut abandoned = GroupGuard {
        pid,
        escalated: escalation.is_some(),
    };

    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stdin = child.stdin.take();
    let data = request.stdin.clone();

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let out_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf).await;
        buf
    });
    let mut scanner = escalation.as_ref().map(BecomeScanner::new);
    let err_task = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match stderr.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            match scanner.as_mut() {
                Some(s) => {
                    let (events, rest) = s.feed(&chunk[..n]);
                    for ev in events {
                        let _ = events_tx.send(ev);
                    }
                    kept.extend_from_slice(&rest);
                }
                None => kept.extend_from_slice(&chunk[..n]),
            }
        }
        (kept, scanner)
    });
    let in_task = tokio::spawn(feed_stdin(
        stdin,
        data,
        password,
        escalation.is_some().then_some(events_rx),
    ));

    let finish = async {
        let status = child.wait().await;
        let stdout = out_task.await.unwrap_or_default();
        let (stderr, scanner) = err_task.await.unwrap_or_default();
        (status, stdout, stderr, scanner)
    };
    let (status, stdout, stderr, scanner) = match request.timeout {
        None => finish.await,
        Some(limit) => match tokio::time::timeout(limit, finish).await {
            Ok(done) => done,
            Err(_) => {
                abandoned.pid = None;
                kill_group(pid, escalation.is_some()).await;
                in_task.abort();
                return Err(ConnectionError::Timeout(limit));
            }
        },
    };
    abandoned.pid = None;
    in_task.abort();
    let status =
        status.map_err(|e| ConnectionError::Other(format!("waiting for {program}: {e}")))?;
    let rc = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    });
    if let Some(scanner) = scanner {
        if !scanner.succeeded() {
            let message = scanner.message();
            return Err(ConnectionError::Become(if message.is_empty() {
                format!("{program} exited with code {rc} before running the command")
            } else {
                message
            }));
        }
    }
    Ok(CommandOutput { rc, stdout, stderr })
}

/// Writes stdin. Under escalation the password goes first, and only when sudo asks for it (sudo reads
/// nothing when it needs no password, and the password must never reach the command); the request's
/// stdin follows once the command runs. A second prompt means a wrong password: closing stdin makes sudo
/// give up instead of waiting.
async fn feed_stdin(
    stdin: Option<tokio::process::ChildStdin>,
    data: Option<Vec<u8>>,
    password: Option<Secret>,
    events: Option<mpsc::UnboundedReceiver<BecomeEvent>>,
) {
    let Some(mut stdin) = stdin else { return };
    if let Some(mut events) = events {
        let mut password = password;
        loop {
            match events.recv().await {
                Some(BecomeEvent::Prompt) => match password.take() {
                    Some(secret) => {
                        let mut line = secret.expose().as_bytes().to_vec();
                        line.push(b'\n');
                        if stdin.write_all(&line).await.is_err() {
                            return;
                        }
                        let _ = stdin.flush().await;
                    }
                    None => return,
                },
                Some(BecomeEvent::Success) => break,
                None => return,
            }
        }
    }
    if let Some(data) = data {
        // A command that does not read its stdin closes the pipe: that is its business, not an error.
        let _ = stdin.write_all(&data).await;
    }
    let _ = stdin.shutdown().await;
}

/// Kills a command's process group when the future running it is dropped before the command ended.
struct GroupGuard {
    pid: Option<u32>,
    escalated: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let (pid, escalated) = (self.pid.take(), self.escalated);
        if pid.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let cleanup = super::ssh::CleanupGuard::start();
                runtime.spawn(async move {
                    let _cleanup = cleanup;
                    kill_group(pid, escalated).await;
                });
            }
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

/// Kills the command's process group. Under sudo the command runs as another user in sudo's care, so it
/// gets SIGTERM first, which sudo relays (SIGKILL would only kill sudo itself).
async fn kill_group(pid: Option<u32>, escalated: bool) {
    use rustix::process::{kill_process_group, Pid, Signal};
    let Some(pid) = pid.and_then(|p| Pid::from_raw(p as i32)) else {
        return;
    };
    if escalated {
        let _ = kill_process_group(pid, Signal::TERM);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = kill_process_group(pid, Signal::KILL);
}

fn local_stat(path: &Path, follow: bool) -> io::Result<Option<FileStat>> {
    let meta = match if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    } {
        Ok(m) => m,
        Err(e) if absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let kind = shell_ops::file_kind(meta.mode());
    let link_target = if kind == FileKind::Symlink {
        Some(fs::read_link(path)?.to_string_lossy().into_owned())
    } else {
        None
    };
    Ok(Some(FileStat {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        owner: users::user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string()),
        group: users::group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string()),
        size: meta.size(),
        mtime: meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9,
        link_target,
    }))
}

/// Where a write to `path` lands: through symlinks, so that writing a linked config keeps the link.
fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn atomic_write(path: &Path, content: &[u8], attributes: &FileAttributes) -> io::Result<()> {
    let target = resolve_target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("destination directory {} does not exist", dir.display()),
        ));
    }
    let old = match fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if absent(&e) => None,
        Err(e) => return Err(e),
    };
    let uid = match &attributes.owner {
        Some(owner) => Some(users::uid_of(owner).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("unknown user {owner:?}"))
        })?),
        None => None,
    };
    let gid = match &attributes.group {
        Some(group) => Some(users::gid_of(group).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("unknown group {group:?}"))
        })?),
        None => None,
    };

    remove_stale_temps(&dir, &target);
    let (tmp, mut file) = create_temp(&dir, &target)?;
    let result = (|| {
        file.write_all(content)?;
        let mode = attributes
            .mode
            .or(old.as_ref().map(|m| m.mode() & 0o7777))
            .unwrap_or(0o644);
        // Ownership before mode: chown clears setuid/setgid bits.
        let keep_uid = old.as_ref().map(|m| m.uid());
        let keep_gid = old.as_ref().map(|m| m.gid());
        let want_uid = uid.or(keep_uid);
        let want_gid = gid.or(keep_gid);
        let explicit = uid.is_some() || gid.is_some();
        if want_uid.is_some() || want_gid.is_some() {
            match std::os::unix::fs::fchown(&file, want_uid, want_gid) {
                Ok(()) => {}
                // Keeping another user's ownership needs root; anyone else keeps their own, as Ansible does.
                Err(_) if !explicit => {}
                Err(e) => return Err(e),
            }
        }
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, &target)?;
        // The rename itself is durable only once the directory is synced.
        fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The temp files an earlier writer of `target` left behind (named as `shell_ops::TEMP_FILE_LINES`
/// names them, so SSH and local writes recognise each other's): a run killed outright cannot clean up.
fn remove_stale_temps(dir: &Path, target: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Some(name) = target.file_name() else {
        return;
    };
    let prefix = shell_ops::temp_file_prefix(name.as_bytes());
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().as_bytes().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, fs::File)> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = target.file_name().map(OsStrExt::as_bytes).unwrap_or(b"");
    loop {
        let mut temp_name = shell_ops::temp_file_prefix(name);
        temp_name.extend_from_slice(shell_ops::random_token(16).as_bytes());
        let tmp = dir.join(std::ffi::OsString::from_vec(temp_name));
        // 0600 until complete: the content may be secret, the final mode comes last.
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
