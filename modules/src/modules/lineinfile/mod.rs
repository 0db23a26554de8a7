//! ansible.builtin.lineinfile: ensures a particular line is in a file, or replaces an existing line
//! using a back-referenced regular expression.
//!
//! The decisions are Ansible's byte for byte (see [`algorithm`]); patterns are Python's `re` on bytes (see
//! [`pyre`]). Everything the module does to the host goes through `ctx.host`, and the whole result (the
//! message, the diff, `changed`) is computed in `plan`, so check mode predicts exactly what a run does.

mod algorithm;
mod pyre;

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::{CommandRequest, FileAttributes, FileKind};
use crate::contract::{FileDiff, ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::file_support::{self as fs, AttrPlan, FileArgs, ModeSpec, Wanted};
use crate::shell_quote::shell_quote;
use algorithm::{Absent, Present};
use async_trait::async_trait;
use pyre::PyRegex;
use serde::Deserialize;
use serde_json::json;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("path", ArgType::Path, "The file to modify.")
        .required()
        .aliases(&["dest", "destfile", "name"]),
    ArgSpec::new(
        "regexp",
        ArgType::Str,
        "The regular expression (Python syntax) to look for in every line of the file, line end included. \
         For state=present, the pattern to replace if found; only the last line found is replaced (the \
         first with firstmatch). For state=absent, every matching line is removed.",
    )
    .aliases(&["regex"]),
    ArgSpec::new(
        "search_string",
        ArgType::Str,
        "The literal string to look for in every line of the file. For state=present, the line to replace \
         if found; only the last line found is replaced. For state=absent, every line containing it is \
         removed.",
    ),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "Whether the line should be there or not.",
    )
    .choices(&["absent", "present"])
    .default(ArgDefault::Str("present")),
    ArgSpec::new(
        "line",
        ArgType::Str,
        "The line to insert or replace. Required for state=present. With backrefs, it may contain \\1, \
         \\g<1> or \\g<name> references to the regexp's groups.",
    )
    .aliases(&["value"]),
    ArgSpec::new(
        "backrefs",
        ArgType::Bool,
        "Expand back-references of regexp in line. When regexp matches nowhere the file is left unchanged; \
         insertafter and insertbefore are then ignored.",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "insertafter",
        ArgType::Str,
        "Insert the line after the last line matching this regular expression (the first with firstmatch), \
         or at EOF or BOF. Used only when regexp and search_string match nowhere; when it matches nowhere \
         either the line goes to the end of the file. Default EOF.",
    ),
    ArgSpec::new(
        "insertbefore",
        ArgType::Str,
        "Insert the line before the last line matching this regular expression (the first with firstmatch), \
         or at BOF. Used only when regexp and search_string match nowhere.",
    ),
    ArgSpec::new(
        "create",
        ArgType::Bool,
        "Create the file (and its parent directories) when it does not exist. Otherwise a missing file \
         fails.",
    )
    .default(ArgDefault::Bool(false)),
    fs::BACKUP,
    ArgSpec::new(
        "firstmatch",
        ArgType::Bool,
        "Use the first line that matches regexp, search_string, insertafter or insertbefore rather than \
         the last.",
    )
    .default(ArgDefault::Bool(false)),
    fs::VALIDATE,
    fs::MODE,
    fs::OWNER,
    fs::GROUP,
    fs::SEUSER,
    fs::SEROLE,
    fs::SETYPE,
    fs::SELEVEL,
    fs::ATTRIBUTES,
    fs::UNSAFE_WRITES,
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "lineinfile",
    short_description: "Manage lines in text files",
    description: "This module ensures a particular line is in a file, or replaces an existing line using a \
        back-referenced regular expression. This is primarily useful when you want to change a single line in \
        a file only. Patterns are Python regular expressions, matched against each line with its line end, \
        exactly as Ansible does.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Full,
    returns: &[
        ReturnDoc::new("changed", "bool", "always", "Whether the file changed."),
        ReturnDoc::new(
            "msg",
            "str",
            "always",
            "line added, line replaced, N line(s) removed, or empty.",
        ),
        ReturnDoc::new(
            "backup",
            "str",
            "always",
            "The backup file, when backup=yes made one, else an empty string.",
        ),
        ReturnDoc::new(
            "found",
            "int",
            "state=absent",
            "The number of lines removed.",
        ),
    ],
    notes: &[
        "The line is appended with a \\n line end whatever line ends the file uses, as Ansible does on POSIX \
         hosts.",
    ],
    example: r#"- name: Ensure SELinux is set to enforcing mode
  ansible.builtin.lineinfile:
    path: /etc/selinux/config
    regexp: '^SELINUX='
    line: SELINUX=enforcing

- name: Make sure group wheel is not in the sudoers configuration
  ansible.builtin.lineinfile:
    path: /etc/sudoers
    state: absent
    regexp: '^%wheel'

- name: Ensure the default Apache port is 8080
  ansible.builtin.lineinfile:
    path: /etc/httpd/conf/httpd.conf
    regexp: '^Listen '
    insertafter: '^#Listen '
    line: Listen 8080

- name: Validate the sudoers file before saving
  ansible.builtin.lineinfile:
    path: /etc/sudoers
    state: present
    regexp: '^%ADMIN ALL='
    line: '%ADMIN ALL=(ALL) NOPASSWD: ALL'
    validate: /usr/sbin/visudo -cf %s
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    path: String,
    regexp: Option<String>,
    search_string: Option<String>,
    state: String,
    line: Option<String>,
    backrefs: bool,
    insertafter: Option<String>,
    insertbefore: Option<String>,
    create: bool,
    backup: bool,
    firstmatch: bool,
    validate: Option<String>,
    #[serde(flatten)]
    attrs: FileArgs,
}

/// What `apply` writes.
pub struct Change {
    /// The new content, when it changes.
    content: Option<Vec<u8>>,
    /// Whether the file existed (a backup needs something to copy; a new file gets its attributes after
    /// it is written, as Ansible sets them on the file it made).
    existed: bool,
    /// The attribute changes of an existing file.
    attrs: AttrPlan,
    wanted: Wanted,
}

pub struct Lineinfile;

const EMPTY_PATTERN: &str = "The {} is an empty string, which will match every line in the file. This may \
    have unintended consequences, such as replacing the last line in the file rather than appending.";

fn fail_rc(msg: String, rc: i64, warnings: Vec<String>) -> Plan<Change> {
    let mut result = ModuleResult::failed(msg);
    result.values.insert("rc".into(), json!(rc));
    result.warnings = warnings;
    Plan::Done(result)
}

fn fail(msg: String, warnings: Vec<String>) -> Plan<Change> {
    let mut result = ModuleResult::failed(msg);
    result.warnings = warnings;
    Plan::Done(result)
}

/// A pattern that does not compile fails the task (Ansible's module dies with Python's `re.error`).
fn compile(pattern: &str) -> Result<PyRegex, String> {
    PyRegex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// `to_native(bytes)` for the diff: text, with anything that is not UTF-8 shown as replacement characters.
fn text(lines: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&lines.concat()).into_owned()
}

impl Lineinfile {
    async fn run_ok(
        &self,
        ctx: &ModuleContext<'_>,
        script: String,
        what: &str,
    ) -> Result<(), String> {
        let mut request = CommandRequest::shell(script);
        request.become_ = ctx.become_.clone();
        let output = ctx.host.run(&request).await.map_err(|e| e.to_string())?;
        if output.rc != 0 {
            return Err(format!(
                "{what}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Module for Lineinfile {
    type Params = Params;
    type Change = Change;

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Change> {
        let mut warnings = Vec::new();
        if p.regexp.as_deref() == Some("") {
            warnings.push(format!(
                "{} If this is desired, use '^' to match every line in the file and avoid this warning.",
                EMPTY_PATTERN.replace("{}", "regular expression")
            ));
        } else if p.search_string.as_deref() == Some("") {
            warnings.push(EMPTY_PATTERN.replace("{}", "search string"));
        }

        let become_ = ctx.become_.as_ref();
        // `os.path.isdir` follows symlinks.
        let stat = match ctx.host.stat(&p.path, true, become_).await {
            Ok(stat) => stat,
            Err(e) => return Plan::Done(ModuleResult::from_connection_error(&e)),
        };
        if stat.as_ref().is_some_and(|s| s.kind == FileKind::Directory) {
            return fail_rc(format!("Path {} is a directory !", p.path), 256, warnings);
        }
        let wanted = match Wanted::from_args(&p.attrs) {
            Ok(wanted) => wanted,
            Err(e) => return fail(e.msg, warnings),
        };

        let present = p.state == "present";
        if present {
            if p.backrefs && p.regexp.is_none() {
                return fail("regexp is required with backrefs=true".into(), warnings);
            }
            if p.line.is_none() {
                return fail("line is required with state=present".into(), warnings);
            }
        } else if p.regexp.is_none() && p.search_string.is_none() && p.line.is_none() {
            return fail(
                "one of line, search_string, or regexp is required with state=absent".into(),
                warnings,
            );
        }

        let content = match ctx.host.read_file(&p.path, become_).await {
            Ok(content) => content,
            Err(e) => return Plan::Done(ModuleResult::from_connection_error(&e)),
        };
        let existed = content.is_some();
        let mut result = ModuleResult::ok();
        result.warnings = warnings;

        if !present && !existed {
            result.msg = Some("file not present".into());
            return Plan::Done(result);
        }
        if present && !existed && !p.create {
            return fail_rc(
                format!("Destination {} does not exist !", p.path),
                257,
                result.warnings,
            );
        }

        if present && !existed && !ctx.check_mode {
            // Ansible makes the parent folders of a file to create as soon as it sees the file is missing,
            // before deciding anything, so they are made even when no line is then written (backrefs
            // without a match). Never in check mode.
            if let Some((dir, _)) = p.path.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
                let missing = match ctx.host.stat(dir, true, become_).await {
                    Ok(stat) => stat.is_none(),
                    Err(e) => return Plan::Done(ModuleResult::from_connection_error(&e)),
                };
                if missing {
                    let made = self
                        .run_ok(
                            ctx,
                            format!("mkdir -p -- {}", shell_quote(dir)),
                            &format!("Error creating {dir}"),
                        )
                        .await;
                    if let Err(e) = made {
                        return fail(e, result.warnings);
                    }
                }
            }
        }
        let before = algorithm::split_lines(content.as_deref().unwrap_or_default());
        let regexp = match p.regexp.as_deref().map(compile).transpose() {
            Ok(re) => re,
            Err(e) => return fail(e, result.warnings),
        };
        let decided = if present {
            // main() defaults insertafter to EOF only when neither insert option is given.
            let insertafter = match (&p.insertafter, &p.insertbefore) {
                (None, None) => Some("EOF"),
                (a, _) => a.as_deref(),
            };
            let insertbefore = p.insertbefore.as_deref();
            let insert = match algorithm::insert_pattern(insertafter, insertbefore)
                .map(compile)
                .transpose()
            {
                Ok(re) => re,
                Err(e) => return fail(e, result.warnings),
            };
            let args = Present {
                regexp: regexp.as_ref(),
                search_string: p.search_string.as_deref().map(str::as_bytes),
                line: p.line.as_deref().unwrap_or_default().as_bytes(),
                insertafter,
                insertbefore,
                backrefs: p.backrefs,
                firstmatch: p.firstmatch,
            };
            algorithm::present(before.clone(), &args, insert.as_ref())
                .map(|o| (o.lines, o.changed, o.msg))
        } else {
            let what = match (&regexp, &p.search_string, &p.line) {
                (Some(re), _, _) => Absent::Regexp(re),
                (None, Some(s), _) => Absent::SearchString(s.as_bytes()),
                (None, None, line) => Absent::Line(line.as_deref().unwrap_or_default().as_bytes()),
            };
            algorithm::absent(before.clone(), &what).map(|(lines, found)| {
                result.values.insert("found".into(), json!(found));
                let msg = if found > 0 {
                    format!("{found} line(s) removed")
                } else {
                    String::new()
                };
                (lines, found > 0, msg)
            })
        };
        let (after, changed, msg) = match decided {
            Ok(decided) => decided,
            Err(e) => return fail(e, result.warnings),
        };

        result.changed = changed;
        result.msg = Some(msg);
        result.values.insert("backup".into(), json!(""));
        if ctx.diff_mode {
            let header = format!("{} (content)", p.path);
            result.diff.push(FileDiff {
                before_header: header.clone(),
                after_header: header,
                before: text(&before),
                after: text(&after),
            });
        }

        // Attributes are compared after the content. A new file gets them once written (in apply); check
        // mode on a missing file returns before looking at them, as Ansible does.
        let mut attrs = AttrPlan::default();
        if let (Some(stat), true) = (&stat, existed) {
            attrs = match fs::plan_attributes(ctx, &p.path, stat, &wanted, None).await {
                Ok(plan) => plan,
                Err(e) => return fail(e.msg, result.warnings),
            };
            if attrs.changed() {
                add_attr_message(&mut result);
                if ctx.diff_mode {
                    let header = format!("{} (file attributes)", p.path);
                    result.diff.extend(attrs.diff(Some(&header)));
                }
            }
        }

        let content = changed.then(|| after.concat());
        // Check mode: record the predicted file so that later tasks of the run see it, with the folders a
        // real run would make for it.
        if !existed && content.is_some() && ctx.check_mode && ctx.host.is_check_overlay() {
            if let Err(e) = record_parents(ctx, &p.path).await {
                return fail(e.to_string(), result.warnings);
            }
        }
        let predicted = match &content {
            Some(content) => {
                let attributes = if existed {
                    attrs.as_attributes()
                } else {
                    new_file_attributes(&wanted)
                };
                fs::predict_write(ctx, &p.path, content, &attributes).await
            }
            None => fs::predict_attributes(ctx, &attrs, FileKind::File).await,
        };
        if let Err(e) = predicted {
            return fail(e.msg, result.warnings);
        }

        if !result.changed {
            return Plan::Done(result);
        }
        Plan::Change {
            preview: result,
            change: Change {
                content,
                existed,
                attrs,
                wanted,
            },
        }
    }

    async fn apply(
        &self,
        p: &Params,
        change: Change,
        mut result: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        match self.write(p, change, &mut result, ctx).await {
            Ok(()) => result,
            Err(e) => {
                let mut failed = e.into_result();
                failed.warnings = result.warnings;
                failed
            }
        }
    }
}

impl Lineinfile {
    /// Backup, validation and the atomic write, then the attributes: Ansible's order.
    async fn write(
        &self,
        p: &Params,
        change: Change,
        result: &mut ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> Result<(), fs::Failure> {
        let become_ = ctx.become_.as_ref();
        let Some(content) = change.content else {
            return fs::apply_attributes(ctx, &change.attrs).await;
        };
        if p.backup && change.existed {
            let backup = fs::make_backup(ctx, &p.path).await?;
            result.values.insert("backup".into(), json!(backup));
        }
        if let Some(command) = &p.validate {
            let validation = fs::validate(
                ctx,
                command,
                &fs::Content::Bytes(content.clone()),
                &p.path,
                &change.attrs.as_attributes(),
            )
            .await?;
            if !validation.ok() {
                return Err(fs::Failure::new(format!(
                    "failed to validate: rc:{} error:{}",
                    validation.rc, validation.stderr
                )));
            }
        }
        let attributes = if change.existed {
            change.attrs.as_attributes()
        } else {
            FileAttributes::default()
        };
        ctx.host
            .write_file(&p.path, &content, &attributes, become_)
            .await?;
        if !change.existed && !change.wanted.is_empty() {
            // Ansible writes the new file first, then sets what differs from how it was made.
            let stat = ctx
                .host
                .stat(&p.path, true, become_)
                .await?
                .ok_or_else(|| fs::Failure::new(format!("{} vanished after writing", p.path)))?;
            let plan = fs::plan_attributes(ctx, &p.path, &stat, &change.wanted, None).await?;
            if plan.changed() {
                fs::apply_attributes(ctx, &plan).await?;
                add_attr_message(result);
                if ctx.diff_mode {
                    let header = format!("{} (file attributes)", p.path);
                    result.diff.extend(plan.diff(Some(&header)));
                }
            }
        }
        Ok(())
    }
}

/// `check_file_attrs`: the attribute change joins the content message.
fn add_attr_message(result: &mut ModuleResult) {
    let mut msg = result.msg.take().unwrap_or_default();
    if result.changed {
        msg.push_str(" and ");
    }
    msg.push_str("ownership, perms or SE linux context changed");
    result.msg = Some(msg);
    result.changed = true;
}

/// The attributes a new file is predicted with in check mode: an octal mode, owner and group as given.
fn new_file_attributes(wanted: &Wanted) -> FileAttributes {
    FileAttributes {
        mode: match wanted.mode {
            Some(ModeSpec::Octal(mode)) => Some(mode),
            _ => None,
        },
        owner: wanted.owner.clone(),
        group: wanted.group.clone(),
    }
}

/// Check mode: records in the overlay the missing folders above `path`, outermost first.
async fn record_parents(
    ctx: &ModuleContext<'_>,
    path: &str,
) -> Result<(), crate::connection::ConnectionError> {
    let become_ = ctx.become_.as_ref();
    let mut missing = Vec::new();
    let mut at = path;
    while let Some((dir, _)) = at.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
        if ctx.host.stat(dir, true, become_).await?.is_some() {
            break;
        }
        missing.push(dir);
        at = dir;
    }
    for dir in missing.into_iter().rev() {
        ctx.host
            .check_record_directory(dir, &FileAttributes::default(), become_)
            .await?;
    }
    Ok(())
}
