//! ansible.builtin.copy: puts content, a controller file or a controller folder on the host. Shared with
//! `template`, which renders first and then writes exactly as copy does ([`plan_file`], [`apply_file`]).
//!
//! A file is compared by SHA-1 first, so an unchanged file is neither sent nor touched; only its attributes
//! are then brought in line, as Ansible's copy action hands over to the file module.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::{FileAttributes, FileKind, FileStat};
use crate::contract::{ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::file_support::{
    self as fs, base_name, parent_dir, Failure, FileArgs, ModeSpec, Wanted, ATTRIBUTES, BACKUP,
    GROUP, MODE, OWNER, SELEVEL, SEROLE, SETYPE, SEUSER, UNSAFE_WRITES, VALIDATE,
};
use crate::shell_quote::shell_quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub(crate) const FORCE: ArgSpec = ArgSpec::new(
    "force",
    ArgType::Bool,
    "Influence whether the remote file must always be replaced. If yes, the remote file will be replaced \
     when contents are different than the source. If no, the file will only be transferred if the \
     destination does not exist.",
)
.default(ArgDefault::Bool(true))
.aliases(&["thirsty"]);
pub(crate) const FOLLOW: ArgSpec = ArgSpec::new(
    "follow",
    ArgType::Bool,
    "This flag indicates that filesystem links in the destination, if they exist, should be followed. \
     Without it a link at dest is replaced by a file.",
)
.default(ArgDefault::Bool(false));

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "src",
        ArgType::Path,
        "Local path to a file to copy to the remote server. This can be absolute or relative (looked for in \
         the role's or playbook's `files/` folder, then beside it). If path is a directory, it is copied \
         recursively. In this case, if path ends with `/`, only inside contents of that directory are copied \
         to destination. Otherwise, if it does not end with `/`, the directory itself with all contents is \
         copied.",
    ),
    ArgSpec::new(
        "content",
        ArgType::Raw,
        "When used instead of src, sets the contents of a file directly to the specified value. A value that \
         is not a string is written as JSON.",
    ),
    ArgSpec::new(
        "dest",
        ArgType::Path,
        "Remote absolute path where the file should be copied to. If src is a directory, this must be a \
         directory too. If dest is a non-existent path and if either dest ends with `/` or src is a \
         directory, dest is created. If dest is an existing directory, the file is put inside it.",
    )
    .required(),
    BACKUP,
    FORCE,
    MODE,
    OWNER,
    GROUP,
    ArgSpec::new(
        "directory_mode",
        ArgType::Raw,
        "Set the access permissions of newly created directories to the given mode (recursive copies). \
         Directories that already exist are left alone.",
    ),
    ArgSpec::new(
        "remote_src",
        ArgType::Bool,
        "If no, it will search for src on the controller. If yes it will go to the remote/target machine \
         for the src (a file; folders are not supported by ply yet).",
    )
    .default(ArgDefault::Bool(false)),
    FOLLOW,
    ArgSpec::new(
        "local_follow",
        ArgType::Bool,
        "Follow filesystem links in the source tree on the controller (always done by ply).",
    )
    .default(ArgDefault::Bool(true)),
    ArgSpec::new(
        "checksum",
        ArgType::Str,
        "SHA1 checksum of the file being transferred. Used to validate that the copy of the file was \
         successful.",
    ),
    ArgSpec::new(
        "decrypt",
        ArgType::Bool,
        "Accepted for compatibility (vault files are not supported by ply).",
    )
    .default(ArgDefault::Bool(true)),
    VALIDATE,
    SEUSER,
    SEROLE,
    SETYPE,
    SELEVEL,
    ATTRIBUTES,
    UNSAFE_WRITES,
];

pub(crate) const RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new("dest", "str", "success", "Destination file/path."),
    ReturnDoc::new(
        "src",
        "str",
        "changed",
        "Source file used for the copy on the controller (or on the host with remote_src).",
    ),
    ReturnDoc::new(
        "md5sum",
        "str",
        "when a file was written",
        "MD5 checksum of the file after running copy.",
    ),
    ReturnDoc::new(
        "checksum",
        "str",
        "success",
        "SHA1 checksum of the file after running copy.",
    ),
    ReturnDoc::new(
        "backup_file",
        "str",
        "changed and if backup=yes",
        "Name of backup file created.",
    ),
    ReturnDoc::new(
        "uid",
        "int",
        "success",
        "Owner id of the file, after execution.",
    ),
    ReturnDoc::new(
        "gid",
        "int",
        "success",
        "Group id of the file, after execution.",
    ),
    ReturnDoc::new(
        "owner",
        "str",
        "success",
        "Owner of the file, after execution.",
    ),
    ReturnDoc::new(
        "group",
        "str",
        "success",
        "Group of the file, after execution.",
    ),
    ReturnDoc::new(
        "mode",
        "str",
        "success",
        "Permissions of the target, after execution (`0644`).",
    ),
    ReturnDoc::new(
        "size",
        "int",
        "success",
        "Size of the target, after execution.",
    ),
    ReturnDoc::new(
        "state",
        "str",
        "success",
        "State of the target, after execution.",
    ),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "copy",
    short_description: "Copy files to remote locations",
    description: "The copy module copies a file or a directory structure from the local or remote machine to \
        a location on the remote machine. File system meta-information (permissions, ownership, etc.) may be \
        set, even when the file or directory already exists on the target system. Files are compared by SHA1 \
        first: an unchanged file is not sent again.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[&["content", "src"]],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Full,
    returns: RETURNS,
    notes: &[
        "Files bigger than 104448 bytes, and binary files, are not diffed (Ansible's max_diff_size).",
        "In check mode a changed file reports `changed`, `dest`, `src` and the diff, as Ansible does; later \
         tasks of the same check run see the file as it would be.",
        "Symbolic modes assume the host's umask is 022 for clauses without a user part (`+x`).",
    ],
    example: r#"- name: Copy file with owner and permissions
  ansible.builtin.copy:
    src: /srv/myfiles/foo.conf
    dest: /etc/foo.conf
    owner: foo
    group: foo
    mode: '0644'

- name: Copy a new "sudoers" file into place, after passing validation with visudo
  ansible.builtin.copy:
    src: /mine/sudoers
    dest: /etc/sudoers
    validate: /usr/sbin/visudo -csf %s

- name: Copy using inline content
  ansible.builtin.copy:
    content: '# This file was moved to /etc/other.conf'
    dest: /etc/mine.conf
    backup: yes
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    src: Option<String>,
    content: Option<Value>,
    dest: String,
    backup: bool,
    force: bool,
    #[serde(flatten)]
    attrs: FileArgs,
    directory_mode: Option<Value>,
    remote_src: bool,
    follow: bool,
    checksum: Option<String>,
    validate: Option<String>,
}

/// One file to bring in line: everything copy and template decide on.
#[derive(Clone, Debug)]
pub struct FileJob {
    /// The path written (dest, or dest/basename for a folder dest).
    pub dest: String,
    pub content: fs::Content,
    /// `after_header` of the diff: the source for `src`, dest for `content` and templates.
    pub after_header: String,
    /// `src` in the result.
    pub src: Option<String>,
    pub force: bool,
    pub backup: bool,
    pub validate: Option<String>,
    pub wanted: Wanted,
    /// What `mode: preserve` means: the source file's mode.
    pub source_mode: Option<u32>,
    pub follow: bool,
    /// Folders to create first (dest ending with `/`), outermost first.
    pub make_dirs: Vec<String>,
}

/// What [`plan_file`] decided for one file.
#[derive(Debug)]
pub enum FileChange {
    /// Write the content with these attributes. `replace_link`: dest is a symlink to replace (follow=no).
    Write {
        attributes: FileAttributes,
        exists: bool,
        replace_link: bool,
    },
    /// Same content; only attributes differ.
    Attributes(fs::AttrPlan),
}

/// The result keys of a file that is (or would be) in place.
fn file_values(job: &FileJob, stat: &FileStat, checksum: &str) -> VarMap {
    let mut values = fs::stat_values(stat);
    values.insert("path".into(), json!(job.dest));
    values.insert("dest".into(), json!(job.dest));
    values.insert("checksum".into(), json!(checksum));
    values
}

/// Decides what one file needs. In check mode the would-be file is recorded in the overlay here, since
/// `apply` does not run.
pub(crate) async fn plan_file(
    job: &FileJob,
    ctx: &ModuleContext<'_>,
) -> Result<Plan<FileChange>, Failure> {
    let become_ = ctx.become_.as_ref();
    let link = ctx.host.stat(&job.dest, false, become_).await?;
    let is_link = link.as_ref().is_some_and(|s| s.kind == FileKind::Symlink);
    let stat = if is_link {
        ctx.host.stat(&job.dest, true, become_).await?
    } else {
        link.clone()
    };
    if stat.as_ref().is_some_and(|s| s.kind == FileKind::Directory) {
        return Err(Failure::new(format!(
            "Destination {} is a directory",
            job.dest
        )));
    }
    if link.is_some() && !job.force {
        let mut result = ModuleResult::ok();
        result.values.insert("dest".into(), json!(job.dest));
        if let Some(src) = &job.src {
            result.values.insert("src".into(), json!(src));
        }
        return Ok(Plan::Done(result));
    }
    if job.make_dirs.is_empty() {
        let dir = parent_dir(&job.dest);
        match ctx.host.stat(&dir, true, become_).await? {
            Some(s) if s.kind == FileKind::Directory => {}
            _ => {
                return Err(Failure::new(format!(
                    "Destination directory {dir} does not exist"
                )))
            }
        }
    }
    let checksum = job.content.sha1();
    // A link not followed is replaced by a file whatever it points to.
    let replace_link = is_link && !job.follow;
    let same = match (&stat, replace_link) {
        (Some(s), false) if s.kind == FileKind::File => {
            ctx.host.checksum_sha1(&job.dest, become_).await?.as_deref() == Some(checksum.as_str())
        }
        _ => false,
    };

    if same {
        let stat = stat.expect("same content means the file exists");
        let plan = fs::plan_attributes(ctx, &job.dest, &stat, &job.wanted, job.source_mode).await?;
        let after = plan.stat_after(&stat);
        let mut result = ModuleResult {
            values: file_values(job, &after, &checksum),
            ..ModuleResult::ok()
        };
        if !plan.changed() {
            return Ok(Plan::Done(result));
        }
        result.changed = true;
        if ctx.diff_mode {
            // The file module's diff: the path and the attributes that change.
            let mut before = VarMap::new();
            let mut after_map = VarMap::new();
            before.insert("path".into(), json!(job.dest));
            after_map.insert("path".into(), json!(job.dest));
            plan.extend_diff(&mut before, &mut after_map);
            result.diff.push(crate::contract::FileDiff {
                before: fs::serialize_diff(&before),
                after: fs::serialize_diff(&after_map),
                ..Default::default()
            });
        }
        if ctx.check_mode {
            fs::predict_attributes(ctx, &plan, FileKind::File).await?;
        }
        return Ok(Plan::Change {
            preview: result,
            change: FileChange::Attributes(plan),
        });
    }

    let base_mode = stat.as_ref().map_or(0o644, |s| s.mode);
    let mode = match &job.wanted.mode {
        Some(spec) => Some(spec.resolve(base_mode, false, job.source_mode)?),
        None => None,
    };
    let attributes = FileAttributes {
        mode,
        owner: job.wanted.owner.clone(),
        group: job.wanted.group.clone(),
    };
    let mut preview = ModuleResult {
        changed: true,
        ..ModuleResult::ok()
    };
    preview.values.insert("dest".into(), json!(job.dest));
    if let Some(src) = &job.src {
        preview.values.insert("src".into(), json!(src));
    }
    if ctx.diff_mode {
        let before =
            fs::read_for_diff(ctx, &job.dest, stat.as_ref().filter(|_| !replace_link)).await?;
        fs::content_diff(
            &job.dest,
            before.as_deref(),
            job.content.diff_bytes(),
            &job.after_header,
        )
        .add_to(&mut preview);
    }
    if ctx.check_mode && ctx.host.is_check_overlay() {
        for dir in &job.make_dirs {
            ctx.host
                .check_record_directory(dir, &dir_attributes(&job.wanted), become_)
                .await?;
        }
        if replace_link {
            ctx.host.check_record_absent(&job.dest);
        }
        // A streamed source is too big to keep in the overlay: later tasks of a check run see the
        // file's attributes but not its new content (README, Safety).
        if let fs::Content::Bytes(bytes) = &job.content {
            fs::predict_write(ctx, &job.dest, bytes, &attributes).await?;
        }
    }
    Ok(Plan::Change {
        preview,
        change: FileChange::Write {
            attributes,
            exists: stat.is_some() && !replace_link,
            replace_link,
        },
    })
}

/// Owner and group for folders a copy creates (their mode is `directory_mode`, else the default).
fn dir_attributes(wanted: &Wanted) -> FileAttributes {
    FileAttributes {
        mode: None,
        owner: wanted.owner.clone(),
        group: wanted.group.clone(),
    }
}

/// Carries out what [`plan_file`] decided and returns the module's result.
pub(crate) async fn apply_file(
    job: &FileJob,
    change: FileChange,
    preview: ModuleResult,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, Failure> {
    let become_ = ctx.become_.as_ref();
    match change {
        FileChange::Attributes(plan) => {
            fs::apply_attributes(ctx, &plan).await?;
            Ok(preview)
        }
        FileChange::Write {
            attributes,
            exists,
            replace_link,
        } => {
            if !job.make_dirs.is_empty() {
                make_dirs(ctx, &job.make_dirs, None, &job.wanted).await?;
            }
            let backup = if job.backup && exists {
                Some(fs::make_backup(ctx, &job.dest).await?)
            } else {
                None
            };
            if let Some(command) = &job.validate {
                let outcome =
                    fs::validate(ctx, command, &job.content, &job.dest, &attributes).await?;
                if !outcome.ok() {
                    return Err(outcome.copy_failure());
                }
            }
            if replace_link {
                let out =
                    fs::run_shell(ctx, format!("rm -f -- {}", shell_quote(&job.dest))).await?;
                if out.rc != 0 {
                    return Err(Failure::new(format!(
                        "could not replace the link {}: {}",
                        job.dest,
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
            job.content.write(ctx, &job.dest, &attributes).await?;
            let stat = ctx
                .host
                .stat(&job.dest, true, become_)
                .await?
                .ok_or_else(|| Failure::new(format!("{} is missing after writing it", job.dest)))?;
            let mut result = preview;
            result
                .values
                .extend(file_values(job, &stat, &job.content.sha1()));
            result.values.shift_remove("path");
            result
                .values
                .insert("md5sum".into(), json!(job.content.md5()));
            if let Some(backup) = backup {
                result.values.insert("backup_file".into(), json!(backup));
            }
            Ok(result)
        }
    }
}

/// Creates folders (outermost first) with `mode` and the task's owner and group.
async fn make_dirs(
    ctx: &ModuleContext<'_>,
    dirs: &[String],
    mode: Option<u32>,
    wanted: &Wanted,
) -> Result<(), Failure> {
    let mut script = String::new();
    for dir in dirs {
        let d = shell_quote(dir);
        script.push_str(&format!("mkdir -p -- {d} || exit 1\n"));
        if let Some(mode) = mode {
            script.push_str(&format!("chmod -- {mode:o} {d} || exit 1\n"));
        }
        if let Some(owner) = &wanted.owner {
            script.push_str(&format!("chown -- {} {d} || exit 1\n", shell_quote(owner)));
        }
        if let Some(group) = &wanted.group {
            script.push_str(&format!("chgrp -- {} {d} || exit 1\n", shell_quote(group)));
        }
    }
    let out = fs::run_shell(ctx, script).await?;
    if out.rc != 0 {
        return Err(Failure::new(format!(
            "could not create directory: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The folders of `path` that do not exist yet, outermost first.
async fn missing_dirs(ctx: &ModuleContext<'_>, path: &str) -> Result<Vec<String>, Failure> {
    let mut missing = Vec::new();
    let mut at = path.trim_end_matches('/').to_string();
    while !at.is_empty() && at != "/" && at != "." {
        match ctx.host.stat(&at, true, ctx.become_.as_ref()).await? {
            Some(s) if s.kind == FileKind::Directory => break,
            Some(_) => {
                return Err(Failure::new(format!(
                    "Destination directory {at} is not a directory"
                )))
            }
            None => missing.push(at.clone()),
        }
        at = parent_dir(&at);
    }
    missing.reverse();
    Ok(missing)
}

/// A recursive copy: folders to create and files to bring in line.
pub struct TreeChange {
    dirs: Vec<String>,
    dir_mode: Option<u32>,
    wanted: Wanted,
    files: Vec<(FileJob, FileChange)>,
}

pub enum Change {
    One(Box<FileJob>, FileChange),
    Tree(TreeChange),
}

pub struct Copy;

fn content_bytes(content: &Value) -> Vec<u8> {
    match content {
        Value::String(s) => s.clone().into_bytes(),
        other => serde_json::to_string(other)
            .unwrap_or_default()
            .into_bytes(),
    }
}

pub(crate) fn local_mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Files and folders below `root` (following links, as local_follow does), sorted, relative to it.
fn walk(root: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Failure> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root.join(&rel))
            .map_err(|e| {
                Failure::new(format!("could not read {}: {e}", root.join(&rel).display()))
            })?
            .filter_map(|e| e.ok().map(|e| rel.join(e.file_name())))
            .collect();
        entries.sort();
        for entry in entries.into_iter().rev() {
            if root.join(&entry).is_dir() {
                dirs.push(entry.clone());
                stack.push(entry);
            } else {
                files.push(entry);
            }
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

impl Copy {
    async fn plan_inner(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
    ) -> Result<Plan<Change>, Failure> {
        let wanted = Wanted::from_args(&p.attrs)?;
        if let Some(command) = &p.validate {
            fs::check_validate(command)?;
        }
        let directory_mode = match &p.directory_mode {
            Some(v) => match ModeSpec::parse(v)? {
                ModeSpec::Octal(m) => Some(m),
                other => Some(other.resolve(0o755, true, None)?),
            },
            None => None,
        };
        let become_ = ctx.become_.as_ref();
        let (content, src_label, after_header, source_mode, local_dir) = match (&p.content, &p.src)
        {
            (Some(content), _) => {
                if p.dest.ends_with('/') {
                    return Err(Failure::new("can not use content with a dir as dest"));
                }
                (
                    Some(fs::Content::Bytes(content_bytes(content))),
                    None,
                    p.dest.clone(),
                    None,
                    None,
                )
            }
            (None, Some(src)) if p.remote_src => {
                let Some(stat) = ctx.host.stat(src, true, become_).await? else {
                    return Err(Failure::new(format!("Source {src} not found")));
                };
                if stat.kind == FileKind::Directory {
                    return Err(Failure::new(format!(
                        "Source {src} is a directory: remote_src copies of folders are not supported by ply"
                    )));
                }
                let bytes = ctx
                    .host
                    .read_file(src, become_)
                    .await?
                    .ok_or_else(|| Failure::new(format!("Source {src} not found")))?;
                (
                    Some(fs::Content::Bytes(bytes)),
                    Some(src.clone()),
                    src.clone(),
                    Some(stat.mode),
                    None,
                )
            }
            (None, Some(src)) => {
                let found = fs::find_controller_file(ctx.search_path, "files", src)?;
                if found.is_dir() {
                    (None, Some(src.clone()), String::new(), None, Some(found))
                } else {
                    let content = fs::Content::from_controller_file(&found).await?;
                    let shown = found.display().to_string();
                    (
                        Some(content),
                        Some(shown.clone()),
                        shown,
                        local_mode(&found),
                        None,
                    )
                }
            }
            (None, None) => return Err(Failure::new("src (or content) is required")),
        };
        if let Some(expected) = &p.checksum {
            if let Some(content) = &content {
                let actual = content.sha1();
                if &actual != expected {
                    return Err(Failure::new(
                        "Copied file does not match the expected checksum. Transfer failed.",
                    )
                    .with("checksum", json!(actual))
                    .with("expected_checksum", json!(expected)));
                }
            }
        }

        if let Some(root) = local_dir {
            let src = p.src.clone().unwrap_or_default();
            return self
                .plan_tree(p, ctx, &root, &src, wanted, directory_mode)
                .await;
        }
        let content = content.unwrap_or(fs::Content::Bytes(Vec::new()));

        // Where the file goes: dest/basename when dest is (or is named as) a folder.
        let mut dest = p.dest.clone();
        let mut make_dirs = Vec::new();
        if let Some(src) = &p.src {
            if dest.ends_with('/') {
                make_dirs = missing_dirs(ctx, &dest).await?;
                dest = format!("{dest}{}", base_name(src));
            } else if ctx
                .host
                .stat(&dest, true, become_)
                .await?
                .is_some_and(|s| s.kind == FileKind::Directory)
            {
                dest = format!("{}/{}", dest.trim_end_matches('/'), base_name(src));
            }
        } else if ctx
            .host
            .stat(&dest, true, become_)
            .await?
            .is_some_and(|s| s.kind == FileKind::Directory)
        {
            return Err(Failure::new("can not use content with a dir as dest"));
        }
        let job = FileJob {
            dest,
            content,
            after_header,
            src: src_label,
            force: p.force,
            backup: p.backup,
            validate: p.validate.clone(),
            wanted,
            source_mode,
            follow: p.follow,
            make_dirs,
        };
        Ok(match plan_file(&job, ctx).await? {
            Plan::Done(result) => Plan::Done(result),
            Plan::Change { preview, change } => Plan::Change {
                preview,
                change: Change::One(Box::new(job), change),
            },
        })
    }

    async fn plan_tree(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
        root: &Path,
        src: &str,
        wanted: Wanted,
        dir_mode: Option<u32>,
    ) -> Result<Plan<Change>, Failure> {
        let become_ = ctx.become_.as_ref();
        // `dir/` copies the contents; `dir` copies the folder itself into dest.
        let mut base = p.dest.trim_end_matches('/').to_string();
        if base.is_empty() {
            base = "/".into();
        }
        if !src.ends_with('/') {
            base = format!("{}/{}", base.trim_end_matches('/'), base_name(src));
        }
        let join = |rel: &Path| -> String {
            if rel.as_os_str().is_empty() {
                base.clone()
            } else {
                format!("{}/{}", base.trim_end_matches('/'), rel.display())
            }
        };
        let (dirs, files) = walk(root)?;
        let mut wanted_dirs = missing_dirs(ctx, &base).await?;
        for rel in &dirs {
            let path = join(rel);
            match ctx.host.stat(&path, true, become_).await? {
                Some(s) if s.kind == FileKind::Directory => {}
                Some(_) => {
                    return Err(Failure::new(format!(
                        "Destination {path} exists and is not a directory"
                    )))
                }
                None => wanted_dirs.push(path),
            }
        }
        if ctx.check_mode && ctx.host.is_check_overlay() {
            let attributes = FileAttributes {
                mode: dir_mode,
                ..dir_attributes(&wanted)
            };
            for dir in &wanted_dirs {
                ctx.host
                    .check_record_directory(dir, &attributes, become_)
                    .await?;
            }
        }
        let mut changed = !wanted_dirs.is_empty();
        let mut jobs = Vec::new();
        let mut preview = ModuleResult::ok();
        for rel in &files {
            let local = root.join(rel);
            let content = fs::Content::from_controller_file(&local).await?;
            let job = FileJob {
                dest: join(rel),
                content,
                after_header: local.display().to_string(),
                src: Some(local.display().to_string()),
                force: p.force,
                backup: p.backup,
                validate: p.validate.clone(),
                wanted: wanted.clone(),
                source_mode: local_mode(&local),
                follow: p.follow,
                // Created with the folders above, in apply_tree.
                make_dirs: Vec::new(),
            };
            if let Plan::Change {
                preview: file_preview,
                change,
            } = plan_tree_file(&job, ctx, &wanted_dirs).await?
            {
                changed = true;
                preview.diff.extend(file_preview.diff);
                jobs.push((job, change));
            }
        }
        preview.changed = changed;
        preview.values.insert("dest".into(), json!(p.dest));
        preview.values.insert("src".into(), json!(src));
        if !changed {
            return Ok(Plan::Done(preview));
        }
        Ok(Plan::Change {
            preview,
            change: Change::Tree(TreeChange {
                dirs: wanted_dirs,
                dir_mode,
                wanted,
                files: jobs,
            }),
        })
    }
}

/// A file of a recursive copy: its folder may be one the copy creates, which plan_file would call missing.
async fn plan_tree_file(
    job: &FileJob,
    ctx: &ModuleContext<'_>,
    new_dirs: &[String],
) -> Result<Plan<FileChange>, Failure> {
    if new_dirs.contains(&parent_dir(&job.dest)) && !ctx.host.is_check_overlay() {
        // Nothing is there yet: a plain write.
        let mode = match &job.wanted.mode {
            Some(spec) => Some(spec.resolve(0o644, false, job.source_mode)?),
            None => None,
        };
        let mut preview = ModuleResult {
            changed: true,
            ..ModuleResult::ok()
        };
        if ctx.diff_mode {
            fs::content_diff(&job.dest, None, job.content.diff_bytes(), &job.after_header)
                .add_to(&mut preview);
        }
        return Ok(Plan::Change {
            preview,
            change: FileChange::Write {
                attributes: FileAttributes {
                    mode,
                    owner: job.wanted.owner.clone(),
                    group: job.wanted.group.clone(),
                },
                exists: false,
                replace_link: false,
            },
        });
    }
    plan_file(job, ctx).await
}

#[async_trait]
impl Module for Copy {
    type Params = Params;
    type Change = Change;

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, params: &Params, ctx: &ModuleContext<'_>) -> Plan<Change> {
        match self.plan_inner(params, ctx).await {
            Ok(plan) => plan,
            Err(failure) => Plan::Done(failure.into_result()),
        }
    }

    async fn apply(
        &self,
        _params: &Params,
        change: Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        let outcome = match change {
            Change::One(job, change) => apply_file(&job, change, preview, ctx).await,
            Change::Tree(tree) => apply_tree(tree, preview, ctx).await,
        };
        outcome.unwrap_or_else(Failure::into_result)
    }
}

async fn apply_tree(
    tree: TreeChange,
    preview: ModuleResult,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, Failure> {
    if !tree.dirs.is_empty() {
        make_dirs(ctx, &tree.dirs, tree.dir_mode, &tree.wanted).await?;
    }
    for (job, change) in tree.files {
        apply_file(&job, change, ModuleResult::ok(), ctx).await?;
    }
    Ok(preview)
}
