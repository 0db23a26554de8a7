//! ansible.builtin.file: files, folders and links, and their attributes. Path operations are shell
//! commands with every path quoted (`mkdir -p`, `rm -rf`, `ln -s`, `touch`), decided in `plan` from what
//! the host has, so check mode and `--diff` come from the same decisions. In check mode the would-be
//! folders, removals and touched files are recorded in the overlay so later tasks see them.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::{FileAttributes, FileKind, FileStat};
use crate::contract::{FileDiff, ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::file_support::{
    self as fs, parent_dir, AttrPlan, Failure, FileArgs, ModeSpec, Wanted, ATTRIBUTES, GROUP, MODE,
    OWNER, SELEVEL, SEROLE, SETYPE, SEUSER, UNSAFE_WRITES,
};
use crate::shell_quote::shell_quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("path", ArgType::Path, "Path to the file being managed.")
        .required()
        .aliases(&["dest", "name"]),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "If absent, directories will be recursively deleted, and files or symlinks will be unlinked. If \
         directory, all intermediate subdirectories will be created if they do not exist. If file, with no \
         other options, returns the current state of path; the file must exist. If link, the symbolic link \
         will be created or changed. If hard, the hard link will be created or changed. If touch, an empty \
         file will be created if the file does not exist, while an existing file or directory will receive \
         updated file access and modification times. Default: the current state if path exists, else file.",
    )
    .choices(&["absent", "directory", "file", "hard", "link", "touch"]),
    ArgSpec::new(
        "src",
        ArgType::Path,
        "Path of the file to link to. Only for state=link and state=hard. A relative path is relative to the \
         link's folder.",
    ),
    ArgSpec::new(
        "recurse",
        ArgType::Bool,
        "Recursively set the specified file attributes on directory contents (state=directory only).",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "force",
        ArgType::Bool,
        "Force the creation of the links in two cases: if the link will replace an existing file, or if the \
         source file does not exist yet.",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "follow",
        ArgType::Bool,
        "This flag indicates that filesystem links, if they exist, should be followed.",
    )
    .default(ArgDefault::Bool(true)),
    ArgSpec::new(
        "modification_time",
        ArgType::Str,
        "Accepted with `preserve` (touch keeps the times and reports no change) or `now`.",
    ),
    ArgSpec::new(
        "modification_time_format",
        ArgType::Str,
        "Accepted for compatibility.",
    )
    .default(ArgDefault::Str("%Y%m%d%H%M.%S")),
    ArgSpec::new(
        "access_time",
        ArgType::Str,
        "Accepted with `preserve` or `now`, as modification_time.",
    ),
    ArgSpec::new("access_time_format", ArgType::Str, "Accepted for compatibility.")
        .default(ArgDefault::Str("%Y%m%d%H%M.%S")),
    MODE,
    OWNER,
    GROUP,
    SEUSER,
    SEROLE,
    SETYPE,
    SELEVEL,
    ATTRIBUTES,
    UNSAFE_WRITES,
];

const RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new("path", "str", "always", "Destination file/path."),
    ReturnDoc::new(
        "state",
        "str",
        "always",
        "The state of the path afterwards: file, directory, link, hard or absent.",
    ),
    ReturnDoc::new(
        "uid, gid, owner, group, mode, size",
        "various",
        "when the path exists afterwards",
        "The path's attributes after the change.",
    ),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "file",
    short_description: "Manage files and file properties",
    description: "Set attributes of files, directories, or symlinks and their targets. Alternatively, remove \
        files, symlinks or directories.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Partial("the path's state and attributes, not the contents of a removed folder"),
    returns: RETURNS,
    notes: &[
        "Symbolic modes assume the host's umask is 022 for clauses without a user part (`+x`).",
        "modification_time and access_time take only `now` and `preserve` in ply.",
    ],
    example: r#"- name: Change file ownership, group and permissions
  ansible.builtin.file:
    path: /etc/foo.conf
    owner: foo
    group: foo
    mode: '0644'

- name: Create a directory if it does not exist
  ansible.builtin.file:
    path: /etc/some_directory
    state: directory
    mode: '0755'

- name: Create a symbolic link
  ansible.builtin.file:
    src: /file/to/link/to
    dest: /path/to/symlink
    state: link
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    path: String,
    state: Option<String>,
    src: Option<String>,
    recurse: bool,
    force: bool,
    follow: bool,
    modification_time: Option<String>,
    access_time: Option<String>,
    #[serde(flatten)]
    attrs: FileArgs,
}

/// What to do on the host, in order: one shell script, then the attribute changes.
pub struct Change {
    script: String,
    attrs: Option<AttrPlan>,
    /// `chmod -R`/`chown -R` of a folder's contents (recurse).
    recurse: Option<String>,
}

pub struct File;

fn kind_state(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Directory => "directory",
        FileKind::Symlink => "link",
        FileKind::File | FileKind::Other => "file",
    }
}

/// The file module's diff: `path` and, when it changes, `state`, plus attribute changes.
fn state_diff(
    path: &str,
    before_state: &str,
    after_state: &str,
    attrs: Option<&AttrPlan>,
) -> FileDiff {
    let mut before = VarMap::new();
    let mut after = VarMap::new();
    before.insert("path".into(), json!(path));
    after.insert("path".into(), json!(path));
    if before_state != after_state {
        before.insert("state".into(), json!(before_state));
        after.insert("state".into(), json!(after_state));
    }
    if let Some(plan) = attrs {
        plan.extend_diff(&mut before, &mut after);
    }
    FileDiff {
        before: fs::serialize_diff(&before),
        after: fs::serialize_diff(&after),
        ..FileDiff::default()
    }
}

fn result_for(path: &str, stat: Option<&FileStat>, state: &str) -> ModuleResult {
    let mut result = ModuleResult::ok();
    if let Some(stat) = stat {
        result.values.extend(fs::stat_values(stat));
    }
    result.values.insert("path".into(), json!(path));
    result.values.insert("state".into(), json!(state));
    result
}

impl File {
    async fn plan_inner(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
    ) -> Result<Plan<Change>, Failure> {
        let wanted = Wanted::from_args(&p.attrs)?;
        let become_ = ctx.become_.as_ref();
        let path = p.path.clone();
        let q = shell_quote(&path).into_owned();
        let lstat = ctx.host.stat(&path, false, become_).await?;
        let prev_state = match &lstat {
            None => "absent",
            Some(s) => kind_state(s.kind),
        };
        let state = match p.state.as_deref() {
            Some(s) => s,
            None if p.src.is_some() => {
                return Err(Failure::new(
                    "src option requires state to be 'link' or 'hard'",
                ))
            }
            None if lstat.is_some() => {
                if prev_state == "link" {
                    "link"
                } else if prev_state == "directory" {
                    "directory"
                } else {
                    "file"
                }
            }
            None => "file",
        };
        if p.src.is_some() && !matches!(state, "link" | "hard") {
            return Err(Failure::new(
                "src option requires state to be 'link' or 'hard'",
            ));
        }
        if p.recurse && state != "directory" {
            return Err(Failure::new(
                "recurse option requires state to be 'directory'",
            ));
        }
        // What attributes apply to: a link's target when following (except for state=link itself).
        let follow_stat = |lstat: &Option<FileStat>| {
            let p_follow = p.follow;
            let path = path.clone();
            let lstat = lstat.clone();
            async move {
                match lstat {
                    Some(s) if s.kind == FileKind::Symlink && p_follow => {
                        ctx.host.stat(&path, true, become_).await
                    }
                    other => Ok(other),
                }
            }
        };

        match state {
            "absent" => {
                let Some(_) = lstat else {
                    return Ok(Plan::Done(result_for(&path, None, "absent")));
                };
                let mut preview = result_for(&path, None, "absent");
                preview.changed = true;
                if ctx.diff_mode {
                    preview
                        .diff
                        .push(state_diff(&path, prev_state, "absent", None));
                }
                if ctx.check_mode {
                    ctx.host.check_record_absent(&path);
                }
                Ok(Plan::Change {
                    preview,
                    change: Change {
                        script: format!("rm -rf -- {q}"),
                        attrs: None,
                        recurse: None,
                    },
                })
            }
            "file" => {
                let stat = follow_stat(&lstat).await?;
                let Some(stat) = stat.filter(|s| s.kind != FileKind::Directory) else {
                    let what = if lstat.is_some() {
                        "directory"
                    } else {
                        "absent"
                    };
                    return Err(
                        Failure::new(format!("file ({path}) is {what}, cannot continue"))
                            .with("path", json!(path))
                            .with("state", json!(what)),
                    );
                };
                self.attributes_only(ctx, &path, &stat, &wanted, "file", prev_state)
                    .await
            }
            "directory" => {
                let stat = follow_stat(&lstat).await?;
                match stat {
                    Some(s) if s.kind == FileKind::Directory => {
                        let mut plan = self
                            .attributes_only(ctx, &path, &s, &wanted, "directory", prev_state)
                            .await?;
                        if p.recurse && !wanted.is_empty() {
                            plan = self.recurse(ctx, &path, &wanted, plan).await?;
                        }
                        Ok(plan)
                    }
                    Some(_) => Err(Failure::new(format!(
                        "{path} already exists as a {prev_state}"
                    ))
                    .with("path", json!(path))),
                    None => self.create_directory(ctx, &path, &wanted, prev_state).await,
                }
            }
            "touch" => {
                let preserve = p.modification_time.as_deref() == Some("preserve")
                    && p.access_time.as_deref() == Some("preserve");
                let stat = follow_stat(&lstat).await?;
                match stat {
                    Some(s) => {
                        let plan = fs::plan_attributes(ctx, &path, &s, &wanted, None).await?;
                        let after = plan.stat_after(&s);
                        let mut preview = result_for(&path, Some(&after), kind_state(s.kind));
                        preview.changed = !preserve || plan.changed();
                        if !preview.changed {
                            return Ok(Plan::Done(preview));
                        }
                        if ctx.diff_mode {
                            preview
                                .diff
                                .push(state_diff(&path, prev_state, "touch", Some(&plan)));
                        }
                        if ctx.check_mode {
                            fs::predict_attributes(ctx, &plan, s.kind).await?;
                        }
                        Ok(Plan::Change {
                            preview,
                            change: Change {
                                script: if preserve {
                                    String::new()
                                } else {
                                    format!("touch -- {q}")
                                },
                                attrs: Some(plan),
                                recurse: None,
                            },
                        })
                    }
                    None => {
                        let mode = match &wanted.mode {
                            Some(spec) => Some(spec.resolve(0o644, false, None)?),
                            None => None,
                        };
                        let attributes = FileAttributes {
                            mode,
                            owner: wanted.owner.clone(),
                            group: wanted.group.clone(),
                        };
                        let mut preview = result_for(&path, None, "file");
                        preview.changed = true;
                        if ctx.diff_mode {
                            preview
                                .diff
                                .push(state_diff(&path, "absent", "touch", None));
                        }
                        fs::predict_write(ctx, &path, b"", &attributes).await?;
                        Ok(Plan::Change {
                            preview,
                            change: Change {
                                script: format!("touch -- {q}"),
                                attrs: Some(new_object_attrs(&path, &attributes)),
                                recurse: None,
                            },
                        })
                    }
                }
            }
            "link" | "hard" => self.link(ctx, p, state, &lstat, &wanted, prev_state).await,
            other => Err(Failure::new(format!("unexpected state {other}"))),
        }
    }

    async fn attributes_only(
        &self,
        ctx: &ModuleContext<'_>,
        path: &str,
        stat: &FileStat,
        wanted: &Wanted,
        state: &str,
        prev_state: &str,
    ) -> Result<Plan<Change>, Failure> {
        let plan = fs::plan_attributes(ctx, path, stat, wanted, None).await?;
        let after = plan.stat_after(stat);
        let mut preview = result_for(path, Some(&after), state);
        if !plan.changed() {
            return Ok(Plan::Done(preview));
        }
        preview.changed = true;
        if ctx.diff_mode {
            let prev = if prev_state == "link" {
                state
            } else {
                prev_state
            };
            preview
                .diff
                .push(state_diff(path, prev, state, Some(&plan)));
        }
        if ctx.check_mode {
            fs::predict_attributes(ctx, &plan, stat.kind).await?;
        }
        Ok(Plan::Change {
            preview,
            change: Change {
                script: String::new(),
                attrs: Some(plan),
                recurse: None,
            },
        })
    }

    /// `mkdir -p` with each new folder given the task's attributes, as Ansible's ensure_directory does.
    async fn create_directory(
        &self,
        ctx: &ModuleContext<'_>,
        path: &str,
        wanted: &Wanted,
        prev_state: &str,
    ) -> Result<Plan<Change>, Failure> {
        let become_ = ctx.become_.as_ref();
        let mut missing = Vec::new();
        let mut at = path.trim_end_matches('/').to_string();
        while !at.is_empty() && at != "/" && at != "." {
            match ctx.host.stat(&at, true, become_).await? {
                Some(s) if s.kind == FileKind::Directory => break,
                Some(s) => {
                    return Err(Failure::new(format!(
                        "There was an issue creating {at} as requested: {at} exists as a {}",
                        kind_state(s.kind)
                    ))
                    .with("path", json!(path)))
                }
                None => missing.push(at.clone()),
            }
            at = parent_dir(&at);
        }
        missing.reverse();
        let mode = match &wanted.mode {
            Some(spec) => Some(spec.resolve(0o755, true, None)?),
            None => None,
        };
        let attributes = FileAttributes {
            mode,
            owner: wanted.owner.clone(),
            group: wanted.group.clone(),
        };
        let mut script = String::new();
        for dir in &missing {
            let d = shell_quote(dir);
            script.push_str(&format!("mkdir -- {d} || exit 1\n"));
            if let Some(owner) = &attributes.owner {
                script.push_str(&format!("chown -- {} {d} || exit 1\n", shell_quote(owner)));
            }
            if let Some(group) = &attributes.group {
                script.push_str(&format!("chgrp -- {} {d} || exit 1\n", shell_quote(group)));
            }
            if let Some(mode) = mode {
                script.push_str(&format!("chmod -- {mode:o} {d} || exit 1\n"));
            }
        }
        let mut preview = result_for(path, None, "directory");
        preview.changed = true;
        if ctx.diff_mode {
            preview
                .diff
                .push(state_diff(path, prev_state, "directory", None));
        }
        if ctx.check_mode {
            for dir in &missing {
                ctx.host
                    .check_record_directory(dir, &attributes, become_)
                    .await?;
            }
        }
        Ok(Plan::Change {
            preview,
            change: Change {
                script,
                attrs: None,
                recurse: None,
            },
        })
    }

    /// recurse=yes: what below the folder differs, found with `find`; changed with `chown -R`/`chmod -R`.
    async fn recurse(
        &self,
        ctx: &ModuleContext<'_>,
        path: &str,
        wanted: &Wanted,
        plan: Plan<Change>,
    ) -> Result<Plan<Change>, Failure> {
        let q = shell_quote(path);
        let mut tests = Vec::new();
        let mut commands = Vec::new();
        if let Some(owner) = &wanted.owner {
            let o = shell_quote(owner);
            tests.push(format!("! -user {o}"));
            commands.push(format!("chown -R -- {o} {q}"));
        }
        if let Some(group) = &wanted.group {
            let g = shell_quote(group);
            tests.push(format!("! -group {g}"));
            commands.push(format!("chgrp -R -- {g} {q}"));
        }
        match &wanted.mode {
            Some(ModeSpec::Octal(m)) => {
                tests.push(format!("! -perm {m:04o}"));
                commands.push(format!("chmod -R -- {m:o} {q}"));
            }
            Some(ModeSpec::Symbolic(s)) => {
                // chmod applies X, u=..., and friends per entry exactly as Ansible's recursion does; whether
                // it changes anything is only known by doing it, so `-c` reports it.
                commands.push(format!("chmod -R -c -- {} {q}", shell_quote(s)));
                tests.push("-true".into());
            }
            _ => {}
        }
        if tests.is_empty() {
            return Ok(plan);
        }
        let script = format!(
            "find {q} -mindepth 1 \\( {} \\) -print -quit",
            tests.join(" -o ")
        );
        let out = fs::run_shell(ctx, script).await?;
        let differs = out.rc == 0 && !out.stdout.is_empty();
        if !differs {
            return Ok(plan);
        }
        let joined = format!("{} || exit 1", commands.join(" || exit 1\n"));
        Ok(match plan {
            Plan::Done(mut preview) => {
                preview.changed = true;
                Plan::Change {
                    preview,
                    change: Change {
                        script: String::new(),
                        attrs: None,
                        recurse: Some(joined),
                    },
                }
            }
            Plan::Change {
                preview,
                mut change,
            } => {
                change.recurse = Some(joined);
                Plan::Change { preview, change }
            }
        })
    }

    async fn link(
        &self,
        ctx: &ModuleContext<'_>,
        p: &Params,
        state: &str,
        lstat: &Option<FileStat>,
        wanted: &Wanted,
        prev_state: &str,
    ) -> Result<Plan<Change>, Failure> {
        let path = &p.path;
        let become_ = ctx.become_.as_ref();
        let Some(src) = p.src.clone() else {
            return Err(Failure::new(format!(
                "state is {state} but all of the following are missing: src"
            )));
        };
        let q = shell_quote(path).into_owned();
        let s = shell_quote(&src).into_owned();
        // A relative target is relative to the link's folder.
        let resolved = if src.starts_with('/') {
            src.clone()
        } else {
            format!("{}/{src}", parent_dir(path))
        };
        let src_stat = ctx.host.stat(&resolved, true, become_).await?;
        if src_stat.is_none() && (state == "hard" || !p.force) {
            return Err(Failure::new(format!(
                "src file does not exist, use \"force=yes\" if you really want to create the link: {resolved}"
            ))
            .with("path", json!(path))
            .with("src", json!(src)));
        }
        let in_place = match (state, lstat) {
            ("link", Some(l)) => {
                l.kind == FileKind::Symlink && l.link_target.as_deref() == Some(&src)
            }
            ("hard", Some(l)) if l.kind != FileKind::Symlink => {
                let test = format!("[ {q} -ef {s} ]");
                fs::run_shell(ctx, test).await?.rc == 0
            }
            _ => false,
        };
        let mut script = String::new();
        if !in_place {
            match lstat {
                None => {}
                Some(l) if l.kind == FileKind::Symlink => {}
                Some(l) if state == "hard" && l.kind == FileKind::File => {}
                Some(l) if !p.force => {
                    return Err(Failure::new(format!(
                        "refusing to convert from {} to {state}link for {path}",
                        kind_state(l.kind),
                        state = if state == "hard" { "hard" } else { "sym" }
                    ))
                    .with("path", json!(path)));
                }
                Some(l) if l.kind == FileKind::Directory => {
                    script.push_str(&format!("rmdir -- {q} || exit 1\n"));
                }
                Some(_) => script.push_str(&format!("rm -f -- {q} || exit 1\n")),
            }
            if state == "link" {
                script.push_str(&format!("ln -sfn -- {s} {q}"));
            } else {
                script.push_str(&format!("ln -f -- {s} {q}"));
            }
        }
        // Attributes: of the link itself for symlinks (chown -h), of the file for hard links.
        let target_stat = match (in_place, state) {
            (true, "link") => lstat.clone(),
            (true, _) => ctx.host.stat(path, true, become_).await?,
            (false, "link") => None,
            (false, _) => src_stat.clone(),
        };
        let attrs = match &target_stat {
            Some(st) => Some(fs::plan_attributes(ctx, path, st, wanted, None).await?),
            None if !wanted.is_empty() => Some(AttrPlan {
                path: path.clone(),
                owner: wanted.owner.clone().map(|o| (o, 0)),
                group: wanted.group.clone().map(|g| (g, 0)),
                no_dereference: true,
                ..AttrPlan::default()
            }),
            None => None,
        };
        let attrs_change = attrs.as_ref().is_some_and(AttrPlan::changed);
        let after_state = if state == "link" { "link" } else { "hard" };
        let mut preview = result_for(path, target_stat.as_ref(), after_state);
        preview.values.insert("src".into(), json!(src));
        if in_place && !attrs_change {
            return Ok(Plan::Done(preview));
        }
        preview.changed = true;
        if ctx.diff_mode {
            preview
                .diff
                .push(state_diff(path, prev_state, after_state, attrs.as_ref()));
        }
        Ok(Plan::Change {
            preview,
            change: Change {
                script,
                attrs,
                recurse: None,
            },
        })
    }
}

/// The attributes a newly made object gets beyond what its creation gives it.
fn new_object_attrs(path: &str, attributes: &FileAttributes) -> AttrPlan {
    AttrPlan {
        path: path.to_string(),
        owner: attributes.owner.clone().map(|o| (o, 0)),
        group: attributes.group.clone().map(|g| (g, 0)),
        mode: attributes.mode,
        ..AttrPlan::default()
    }
}

#[async_trait]
impl Module for File {
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
        params: &Params,
        change: Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        let outcome: Result<ModuleResult, Failure> = async {
            if !change.script.is_empty() {
                let out = fs::run_shell(ctx, change.script.clone()).await?;
                if out.rc != 0 {
                    return Err(Failure::new(
                        String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    )
                    .with("path", json!(params.path)));
                }
            }
            if let Some(plan) = &change.attrs {
                fs::apply_attributes(ctx, plan).await?;
            }
            if let Some(script) = &change.recurse {
                let out = fs::run_shell(ctx, script.clone()).await?;
                if out.rc != 0 {
                    return Err(Failure::new(
                        String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    )
                    .with("path", json!(params.path)));
                }
            }
            let mut result = preview;
            let state = result
                .values
                .get("state")
                .and_then(|s| s.as_str())
                .unwrap_or("");
            if state != "absent" {
                let follow = state != "link";
                if let Some(stat) = ctx
                    .host
                    .stat(&params.path, follow, ctx.become_.as_ref())
                    .await?
                {
                    let state = result.values["state"].clone();
                    result.values.extend(fs::stat_values(&stat));
                    result.values.insert("state".into(), state);
                }
            }
            Ok(result)
        }
        .await;
        outcome.unwrap_or_else(Failure::into_result)
    }
}
