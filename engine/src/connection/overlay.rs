//! Check mode: a host as it would be after the changes the tasks so far would have made.
//!
//! Writes (and removals, directories) are recorded in memory and never reach the host; reads and stats see
//! them first, so a later task of the same run sees an earlier task's would-be change, as it would in a real
//! run. Commands pass through: the module decides what is safe to run in check mode.

use super::shell_ops::{self, Ownership};
use super::{
    Become, CommandOutput, CommandRequest, Connection, ConnectionError, FileAttributes, FileKind,
    FileStat,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A recorded would-be state of one path.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    File {
        content: Vec<u8>,
        stat: FileStat,
    },
    /// `emptied`: the directory replaces something removed or that was no directory, so nothing below it
    /// on the host counts any more.
    Directory {
        stat: FileStat,
        emptied: bool,
    },
    /// Removed, with everything below it.
    Absent,
}

/// One per host per run, shared (`Arc`) by all of that host's tasks.
pub struct CheckOverlay {
    inner: Arc<dyn Connection>,
    entries: Mutex<BTreeMap<String, Recorded>>,
}

enum Lookup {
    Recorded(Recorded),
    Gone,
    Host,
}

impl CheckOverlay {
    pub fn new(inner: Arc<dyn Connection>) -> Self {
        CheckOverlay {
            inner,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// The real host underneath.
    pub fn inner(&self) -> &Arc<dyn Connection> {
        &self.inner
    }

    /// The recorded state of every path touched so far, by path.
    pub fn recorded(&self) -> BTreeMap<String, Recorded> {
        self.entries.lock().expect("overlay lock").clone()
    }

    /// Records that `path`, and everything below it, would be removed.
    pub fn record_absent(&self, path: &str) {
        let key = normalize(path);
        let mut entries = self.entries.lock().expect("overlay lock");
        let below = format!("{}/", key.trim_end_matches('/'));
        entries.retain(|k, _| !k.starts_with(&below));
        entries.insert(key, Recorded::Absent);
    }

    /// Records that `path` would be a directory with `attributes`. Parents are not created: a module that
    /// creates them records each one.
    pub async fn record_directory(
        &self,
        path: &str,
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let key = self.resolve(path, become_).await?;
        let old = self.current_stat(&key, become_).await?;
        let emptied = match self.lookup(&key) {
            Lookup::Recorded(Recorded::Directory { emptied, .. }) => emptied,
            Lookup::Recorded(_) | Lookup::Gone => true,
            Lookup::Host => old.as_ref().is_some_and(|s| s.kind != FileKind::Directory),
        };
        let old = old.filter(|s| s.kind == FileKind::Directory);
        let stat = self
            .would_be_stat(
                FileKind::Directory,
                0,
                attributes,
                old.as_ref(),
                0o755,
                become_,
            )
            .await?;
        self.entries
            .lock()
            .expect("overlay lock")
            .insert(key, Recorded::Directory { stat, emptied });
        Ok(())
    }

    fn lookup(&self, key: &str) -> Lookup {
        let entries = self.entries.lock().expect("overlay lock");
        if let Some(r) = entries.get(key) {
            return Lookup::Recorded(r.clone());
        }
        let mut at = key;
        while let Some(cut) = at.rfind('/') {
            at = &at[..cut];
            let parent = if at.is_empty() { "/" } else { at };
            match entries.get(parent) {
                Some(Recorded::Absent) | Some(Recorded::Directory { emptied: true, .. }) => {
                    return Lookup::Gone
                }
                Some(Recorded::File { .. }) => return Lookup::Gone,
                _ => {}
            }
            if at.is_empty() {
                break;
            }
        }
        Lookup::Host
    }

    /// Follows symlinks on the host (a real write goes through them) until a path that is recorded or is
    /// no link.
    async fn resolve(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<String, ConnectionError> {
        let mut key = normalize(path);
        for _ in 0..40 {
            if !matches!(self.lookup(&key), Lookup::Host) {
                return Ok(key);
            }
            match self.inner.stat(&key, false, become_).await? {
                Some(FileStat {
                    kind: FileKind::Symlink,
                    link_target: Some(target),
                    ..
                }) => {
                    key = if target.starts_with('/') {
                        normalize(&target)
                    } else {
                        normalize(&format!("{}/{}", parent_of(&key), target))
                    };
                }
                _ => return Ok(key),
            }
        }
        Err(ConnectionError::File {
            path: path.to_string(),
            message: "too many levels of symbolic links".to_string(),
        })
    }

    /// What is at `key` now, recorded or on the host, following links.
    async fn current_stat(
        &self,
        key: &str,
        become_: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        match self.lookup(key) {
            Lookup::Recorded(Recorded::File { stat, .. })
            | Lookup::Recorded(Recorded::Directory { stat, .. }) => Ok(Some(stat)),
            Lookup::Recorded(Recorded::Absent) | Lookup::Gone => Ok(None),
            Lookup::Host => self.inner.stat(key, true, become_).await,
        }
    }

    /// The stat a real write would leave: attributes given win, then the old file's, then the defaults of
    /// a new file (the writing user and `default_mode`).
    async fn would_be_stat(
        &self,
        kind: FileKind,
        size: u64,
        attributes: &FileAttributes,
        old: Option<&FileStat>,
        default_mode: u32,
        become_: Option<&Become>,
    ) -> Result<FileStat, ConnectionError> {
        let mut owner = old.map(|o| Ownership {
            uid: o.uid,
            owner: o.owner.clone(),
            gid: o.gid,
            group: o.group.clone(),
        });
        if owner.is_none() || attributes.owner.is_some() || attributes.group.is_some() {
            let resolved = shell_ops::resolve_ownership(
                &*self.inner,
                attributes.owner.as_deref(),
                attributes.group.as_deref(),
                become_,
            )
            .await?;
            owner = Some(match owner {
                // Only the attribute given changes; the other stays as the old file had it.
                Some(mut o) => {
                    if attributes.owner.is_some() {
                        (o.uid, o.owner) = (resolved.uid, resolved.owner);
                    }
                    if attributes.group.is_some() {
                        (o.gid, o.group) = (resolved.gid, resolved.group);
                    }
                    o
                }
                None => resolved,
            });
        }
        let owner = owner.expect("resolved above");
        let mtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Ok(FileStat {
            kind,
            mode: attributes
                .mode
                .or(old.map(|o| o.mode))
                .unwrap_or(default_mode),
            uid: owner.uid,
            gid: owner.gid,
            owner: owner.owner,
            group: owner.group,
            size,
            mtime,
            link_target: None,
        })
    }
}

fn parent_of(key: &str) -> &str {
    match key.rfind('/') {
        Some(0) => "/",
        Some(cut) => &key[..cut],
        None => ".",
    }
}

/// One spelling per path: no repeated slashes, no `.` parts, no trailing slash. `..` is kept, since only
/// the host can tell what it means through symlinks.
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[async_trait]
impl Connection for CheckOverlay {
    fn host(&self) -> &str {
        self.inner.host()
    }

    async fn run(&self, request: &CommandRequest) -> Result<CommandOutput, ConnectionError> {
        self.inner.run(request).await
    }

    async fn read_file(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        let key = self.resolve(path, become_).await?;
        match self.lookup(&key) {
            Lookup::Recorded(Recorded::File { content, .. }) => Ok(Some(content)),
            Lookup::Recorded(Recorded::Directory { .. }) => Err(ConnectionError::File {
                path: path.to_string(),
                message: "Is a directory".to_string(),
            }),
            Lookup::Recorded(Recorded::Absent) | Lookup::Gone => Ok(None),
            Lookup::Host => self.inner.read_file(&key, become_).await,
        }
    }

    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let key = self.resolve(path, become_).await?;
        let dir = parent_of(&key).to_string();
        match self.current_stat(&dir, become_).await? {
            Some(s) if s.kind == FileKind::Directory => {}
            _ => {
                return Err(ConnectionError::File {
                    path: path.to_string(),
                    message: format!("destination directory {dir} does not exist"),
                })
            }
        }
        let old = self.current_stat(&key, become_).await?;
        if old.as_ref().is_some_and(|s| s.kind == FileKind::Directory) {
            return Err(ConnectionError::File {
                path: path.to_string(),
                message: "Is a directory".to_string(),
            });
        }
        let stat = self
            .would_be_stat(
                FileKind::File,
                content.len() as u64,
                attributes,
                old.as_ref(),
                0o644,
                become_,
            )
            .await?;
        self.entries.lock().expect("overlay lock").insert(
            key,
            Recorded::File {
                content: content.to_vec(),
                stat,
            },
        );
        Ok(())
    }

    fn is_check_overlay(&self) -> bool {
        true
    }

    fn lost(&self) -> Option<String> {
        self.inner.lost()
    }

    async fn discard_unfinished(&self) {
        self.inner.discard_unfinished().await
    }

    async fn check_record_directory(
        &self,
        path: &str,
        attributes: &FileAttributes,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.record_directory(path, attributes, become_).await
    }

    fn check_record_absent(&self, path: &str) {
        self.record_absent(path);
    }

    /// A recorded file's checksum is that of its would-be content; the default would ask the host's
    /// `sha1sum`, which sees only the real file.
    async fn checksum_sha1(
        &self,
        path: &str,
        become_: Option<&Become>,
    ) -> Result<Option<String>, ConnectionError> {
        let key = self.resolve(path, become_).await?;
        match self.lookup(&key) {
            Lookup::Recorded(Recorded::File { content, .. }) => {
                use sha1::{Digest, Sha1};
                let digest = Sha1::digest(&content);
                Ok(Some(digest.iter().map(|b| format!("{b:02x}")).collect()))
            }
            Lookup::Recorded(Recorded::Directory { .. }) => Err(ConnectionError::File {
                path: path.to_string(),
                message: "Is a directory".to_string(),
            }),
            Lookup::Recorded(Recorded::Absent) | Lookup::Gone => Ok(None),
            Lookup::Host => self.inner.checksum_sha1(&key, become_).await,
        }
    }

    async fn stat(
        &self,
        path: &str,
        follow: bool,
        become_: Option<&Become>,
    ) -> Result<Option<FileStat>, ConnectionError> {
        let key = if follow {
            self.resolve(path, become_).await?
        } else {
            normalize(path)
        };
        match self.lookup(&key) {
            Lookup::Recorded(Recorded::File { stat, .. })
            | Lookup::Recorded(Recorded::Directory { stat, .. }) => Ok(Some(stat)),
            Lookup::Recorded(Recorded::Absent) | Lookup::Gone => Ok(None),
            Lookup::Host => self.inner.stat(&key, follow, become_).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_have_one_spelling() {
        assert_eq!(
            normalize("/etc//ssh/./sshd_config/"),
            "/etc/ssh/sshd_config"
        );
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("a/./b"), "a/b");
        assert_eq!(normalize("./"), ".");
        assert_eq!(normalize("/a/../b"), "/a/../b");
        assert_eq!(parent_of("/etc"), "/");
        assert_eq!(parent_of("/etc/x"), "/etc");
        assert_eq!(parent_of("x"), ".");
    }
}
