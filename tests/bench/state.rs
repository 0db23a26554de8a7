//! The targets' end state, read on this machine (every host is a loopback alias): resetting a workload's
//! directory before a changing run, and a manifest of what the run left, compared across tools so a tool
//! that did less work cannot look faster.

use crate::workloads::Workload;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::Path;

/// relative path → "kind mode uid sha256" of everything under a workload's state dir.
pub type Manifest = BTreeMap<String, String>;

/// Removes the workload's state and writes each host's seed files (owned by the target user, as if the
/// host had them before).
pub fn reset(workload: &Workload) {
    let dir = workload.state_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
    }
    let (uid, gid) = target_user_ids();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    // Every level below the home must be the target user's, or the tools could not write there.
    let home = Path::new("/home").join(ply_tests::sshd::USER);
    for path in dir
        .ancestors()
        .take_while(|p| p.starts_with(&home) && *p != home)
    {
        chown(path, Some(uid), Some(gid)).expect("chown state dir");
    }
    if workload.seed.is_empty() {
        return;
    }
    for host in workload.host_names() {
        let host_dir = dir.join(host);
        fs::create_dir(&host_dir).expect("create seeded host dir");
        chown(&host_dir, Some(uid), Some(gid)).expect("chown host dir");
        for (name, content) in &workload.seed {
            let path = host_dir.join(name);
            fs::write(&path, content).expect("write seed file");
            chown(&path, Some(uid), Some(gid)).expect("chown seed file");
        }
    }
}

fn target_user_ids() -> (u32, u32) {
    let home = fs::metadata(format!("/home/{}", ply_tests::sshd::USER))
        .expect("the target user's home exists (the sshd harness creates it)");
    (home.uid(), home.gid())
}

/// What the workload's state dir holds now.
pub fn manifest(workload: &Workload) -> Manifest {
    let mut manifest = Manifest::new();
    let root = workload.state_dir();
    walk(&root, &root, &mut manifest);
    manifest
}

fn walk(root: &Path, dir: &Path, manifest: &mut Manifest) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).expect("stat managed path");
        let relative = path
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let mode = meta.mode() & 0o7777;
        let description = if meta.is_dir() {
            walk(root, &path, manifest);
            format!("dir {mode:o} {}", meta.uid())
        } else if meta.is_file() {
            let bytes = fs::read(&path).expect("read managed file");
            let digest = Sha256::digest(&bytes);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("file {mode:o} {} {hex}", meta.uid())
        } else {
            format!("other {mode:o} {}", meta.uid())
        };
        manifest.insert(relative, description);
    }
}

/// The differences between two manifests, one line each (empty when equal).
pub fn differences(expected: &Manifest, got: &Manifest) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, want) in expected {
        match got.get(path) {
            None => lines.push(format!("missing {path} ({want})")),
            Some(have) if have != want => lines.push(format!("{path}: {have}, expected {want}")),
            Some(_) => {}
        }
    }
    for (path, have) in got {
        if !expected.contains_key(path) {
            lines.push(format!("extra {path} ({have})"));
        }
    }
    lines
}
