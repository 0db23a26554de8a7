//! A real local `Connection` for the modules' tests: processes through tokio, files through the filesystem.
//! Test support only; the engine has its own production connection.

use async_trait::async_trait;
use modules::{
    Become, CommandOutput, CommandRequest, Connection, ConnectionError, FileAttributes, FileKind,
    FileStat, Program,
};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

pub struct LocalConnection;

fn file_error(path: &str, e: std::io::Error) -> ConnectionError {
    ConnectionError::File {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// The name of an id in /etc/passwd or /etc/group, or the number when it has none.
fn name_of(file: &str, id: u32) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.len() > 2 && fields[2] == id.to_string()).then(|| fields[0].to_string())
            })
        })
        .unwrap_or_else(|| id.to_string())
}

/// Wraps a command in `sudo` for become (non-interactive: tests never give passwords).
fn with_become(argv: Vec<String>, become_: Option<&Become>) -> Vec<String> {
    match become_ {
        None => argv,
        Some(b) => {
            let mut out = vec![
                "sudo".into(),
                "-n".into(),
                "-u".into(),
                b.user.clone(),
                "--".into(),
            ];
            out.extend(argv);
            out
        }
    }
}

#[async_trait]
impl Connection for LocalConnection {
    fn host(&self) -> &str {
        "localhost"
    }

    async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
        let argv = match &request.program {
            Program::Argv(argv) => argv.clone(),
            Program::Shell { script, executable } => vec![
                executable.clone().unwrap_or_else(|| "/bin/sh".into()),
                "-c".into(),
                script.clone(),
            ],
        };
        let argv = with_become(argv, request.become_.as_ref());
        let Some((program, args)) = argv.split_first() else {
            return Err(ConnectionError::Other("empty command".into()));
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .envs(request.env.iter().map(|(k, v)| (k, v)))
            .stdin(if request.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &request.cwd {
            command.current_dir(cwd);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            // Ansible reports a missing program as rc 2 with the error on stderr, not as a failed connection.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Ok(CommandOutput {
                    rc: 2,
                    stdout: Vec::new(),
                    stderr: format!("[Errno 2] No such file or directory: b'{program}'")
                        .into_bytes(),
                })
            }
            Err(e) => return Err(ConnectionError::Other(e.to_string())),
        };
        if let (Some(data), Some(mut stdin)) = (&request.stdin, child.stdin.take()) {
            stdin
                .write_all(data)
                .await
                .map_err(|e| ConnectionError::Other(e.to_string()))?;
        }
        let wait = child.wait_with_output();
        let output = match request.timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .map_err(|_| ConnectionError::Timeout(limit))?,
            None => wait.await,
        }
        .map_err(|e| ConnectionError::Other(e.to_string()))?;
        Ok(CommandOutput {
            rc: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    async fn read_file(
        &self,
        path: &str,
        _become: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(path, e)),
        }
    }

    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        attributes: &FileAttributes,
        _become: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let target = std::path::Path::new(path);
        let dir = target.parent().unwrap_or(std::path::Path::new("."));
        let temp = dir.join(format!(
            ".{}.ply-tmp",
            target
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let existing_mode = tokio::fs::metadata(path)
            .await
            .ok()
            .map(|m| m.mode() & 0o7777);
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| file_error(path, e))?;
        file.write_all(content)
            .await
            .map_err(|e| file_error(path, e))?;
        file.sync_all().await.map_err(|e| file_error(path, e))?;
        drop(file);
        if let Some(mode) = attributes.mode.or(existing_mode) {
            tokio::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))
                .await
                .map_err(|e| file_error(path, e))?;
        }
        if attributes.owner.is_some() || attributes.group.is_some() {
            let spec = format!(
                "{}:{}",
                attributes.owner.clone().unwrap_or_default(),
                attributes.group.clone().unwrap_or_default()
            );
            let status = tokio::process::Command::new("chown")
                .arg(spec)
                .arg(&temp)
                .status()
                .await
                .map_err(|e| file_error(path, e))?;
            if !status.success() {
                return Err(ConnectionError::File {
                    path: path.into(),
                    message: "chown failed".into(),
                });
            }
        }
        tokio::fs::rename(&temp, path)
            .await
            .map_err(|e| file_error(path, e))
    }

    async fn stat(
        &self,
        path: &str,
        follow: bool,
        _become: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        let meta = if follow {
            tokio::fs::metadata(path).await
        } else {
            tokio::fs::symlink_metadata(path).await
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(path, e)),
        };
        let kind = if meta.file_type().is_symlink() {
            FileKind::Symlink
        } else if meta.is_dir() {
            FileKind::Directory
        } else if meta.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        };
        let link_target = if kind == FileKind::Symlink {
            tokio::fs::read_link(path)
                .await
                .ok()
                .map(|p| p.display().to_string())
        } else {
            None
        };
        Ok(Some(FileStat {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            owner: name_of("/etc/passwd", meta.uid()),
            group: name_of("/etc/group", meta.gid()),
            size: meta.size(),
            mtime: meta.mtime() as f64 + f64::from(meta.mtime_nsec() as u32) / 1e9,
            link_target,
        }))
    }
}
