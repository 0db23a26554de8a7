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
use crate::shell_quote::shell_quote;
use algorithm::{Absent, Present};
use async_trait::async_trait;
use pyre::PyRegex;
use serde::Deserialize;
use serde_json::{json, Value};

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
    ArgSpec::new(
        "backup",
        ArgType::Bool,
        "Keep a copy of the file, named with a timestamp, before changing it.",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "firstmatch",
        ArgType::Bool,
        "Use the first line that matches regexp, search_string, insertafter or insertbefore rather than \
         the last.",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "validate",
        ArgType::Str,
        "A command to check the new file before it replaces the old one; %s is replaced by the path of a \
         temporary copy.",
    ),
    ArgSpec::new(
        "mode",
        ArgType::Raw,
        "The permissions of the file, as an octal number (quote it: '0644').",
    ),
    ArgSpec::new("owner", ArgType::Str, "The user that should own the file."),
    ArgSpec::new("group", ArgType::Str, "The group that should own the file."),
    ArgSpec::new(
        "unsafe_writes",
        ArgType::Bool,
        "Accepted for compatibility; ply always writes atomically.",
    )
    .default(ArgDefault::Bool(false)),
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
    mode: Option<Value>,
    owner: Option<String>,
    group: Option<String>,
}

/// What `apply` writes.
pub struct Change {
    content: Vec<u8>,
    /// Whether the file existed (a backup needs something to copy).
    existed: bool,
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

/// The mode given, as bits: an octal string (`'0644'`, `'644'`) or a number as YAML read it (`0644` is
/// 420). Symbolic modes are not supported.
fn parse_mode(mode: &Value) -> Result<u32, String> {
    let bad = || format!("mode must be in octal form, got: {mode}");
    match mode {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad),
        Value::String(s) => u32::from_str_radix(s.trim(), 8).map_err(|_| bad()),
        _ => Err(bad()),
    }
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
        let mode = match p.mode.as_ref().filter(|m| !m.is_null()).map(parse_mode) {
            Some(Err(e)) => return fail(e, warnings),
            Some(Ok(mode)) => Some(mode),
            None => None,
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

        // Attributes are compared after the content: a missing file is created with them.
        let attrs_differ = match (&stat, existed) {
            (Some(stat), true) => {
                mode.is_some_and(|m| m != stat.mode)
                    || p.owner.as_ref().is_some_and(|o| {
                        *o != stat.owner && o.parse::<u32>().ok() != Some(stat.uid)
                    })
                    || p.group.as_ref().is_some_and(|g| {
                        *g != stat.group && g.parse::<u32>().ok() != Some(stat.gid)
                    })
            }
            _ => false,
        };
        // Check mode on a missing file returns before the attributes are looked at.
        if attrs_differ && !(ctx.check_mode && !existed) {
            let mut msg = result.msg.take().unwrap_or_default();
            if result.changed {
                msg.push_str(" and ");
            }
            msg.push_str("ownership, perms or SE linux context changed");
            result.msg = Some(msg);
            result.changed = true;
        }

        if !result.changed {
            return Plan::Done(result);
        }
        let _ = mode;
        Plan::Change {
            preview: result,
            change: Change {
                content: after.concat(),
                existed,
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
        let become_ = ctx.become_.as_ref();
        let attributes = FileAttributes {
            mode: p
                .mode
                .as_ref()
                .filter(|m| !m.is_null())
                .and_then(|m| parse_mode(m).ok()),
            owner: p.owner.clone(),
            group: p.group.clone(),
        };
        let content_changed = !result
            .msg
            .as_deref()
            .unwrap_or_default()
            .starts_with("ownership");
        if content_changed && p.backup && change.existed {
            let backup = format!(
                "{}.{}.{}",
                p.path,
                std::process::id(),
                chrono::Local::now().format("%Y-%m-%d@%H:%M:%S~")
            );
            if let Err(e) = self
                .run_ok(
                    ctx,
                    format!("cp -p -- {} {}", shell_quote(&p.path), shell_quote(&backup)),
                    "Could not make backup",
                )
                .await
            {
                return ModuleResult::failed(e);
            }
            result.values.insert("backup".into(), json!(backup));
        }
        if let Some(validate) = &p.validate {
            if !validate.contains("%s") {
                return ModuleResult::failed(format!("validate must contain %%s: {validate}"));
            }
        }
        if let Err(e) = ctx
            .host
            .write_file(&p.path, &change.content, &attributes, become_)
            .await
        {
            return ModuleResult::from_connection_error(&e);
        }
        result
    }
}
