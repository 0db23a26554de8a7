//! ansible.builtin.template: renders a Jinja template on the controller, then writes it as `copy` does
//! (SHA-1 compare, backup, validate, attributes, diff).

use super::copy::{self, local_mode, FileChange, FileJob, FOLLOW, FORCE};
use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, Support};
use crate::driver::{Module, Plan};
use crate::file_support::{
    self as fs, Failure, FileArgs, Wanted, ATTRIBUTES, BACKUP, GROUP, MODE, OWNER, SELEVEL, SEROLE,
    SETYPE, SEUSER, UNSAFE_WRITES, VALIDATE,
};
use async_trait::async_trait;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "src",
        ArgType::Path,
        "Path of a Jinja2 formatted template on the Ansible controller. This can be a relative or an \
         absolute path: relative paths are looked for in the role's or playbook's `templates/` folder, then \
         beside it. The file must be encoded with utf-8.",
    )
    .required(),
    ArgSpec::new(
        "dest",
        ArgType::Path,
        "Location to render the template to on the remote machine.",
    )
    .required(),
    ArgSpec::new(
        "newline_sequence",
        ArgType::Str,
        "Specify the newline sequence to use for templating files.",
    )
    .default(ArgDefault::Str("\n"))
    .choices(&["\n", "\r", "\r\n", "\\n", "\\r", "\\r\\n"]),
    ArgSpec::new(
        "trim_blocks",
        ArgType::Bool,
        "Determine when newlines should be removed from blocks. When set to yes the first newline after a \
         block is removed (block, not variable tag!).",
    )
    .default(ArgDefault::Bool(true)),
    ArgSpec::new(
        "lstrip_blocks",
        ArgType::Bool,
        "Determine when leading spaces and tabs should be stripped. When set to yes leading spaces and tabs \
         are stripped from the start of a line to a block.",
    )
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "block_start_string",
        ArgType::Str,
        "The string marking the beginning of a block.",
    )
    .default(ArgDefault::Str("{%")),
    ArgSpec::new(
        "block_end_string",
        ArgType::Str,
        "The string marking the end of a block.",
    )
    .default(ArgDefault::Str("%}")),
    ArgSpec::new(
        "variable_start_string",
        ArgType::Str,
        "The string marking the beginning of a print statement.",
    )
    .default(ArgDefault::Str("{{")),
    ArgSpec::new(
        "variable_end_string",
        ArgType::Str,
        "The string marking the end of a print statement.",
    )
    .default(ArgDefault::Str("}}")),
    ArgSpec::new(
        "comment_start_string",
        ArgType::Str,
        "The string marking the beginning of a comment statement.",
    ),
    ArgSpec::new(
        "comment_end_string",
        ArgType::Str,
        "The string marking the end of a comment statement.",
    ),
    ArgSpec::new(
        "output_encoding",
        ArgType::Str,
        "Overrides the encoding used to write the template file defined by dest (only utf-8 in ply).",
    )
    .default(ArgDefault::Str("utf-8"))
    .choices(&["utf-8", "utf8", "UTF-8"]),
    FORCE,
    FOLLOW,
    BACKUP,
    VALIDATE,
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

pub static DOC: ModuleDoc = ModuleDoc {
    name: "template",
    short_description: "Template a file out to a target host",
    description: "Templates are processed by the Jinja2 templating language on the controller, with the \
        task's variables plus template_host, template_path, template_fullpath, template_mtime, template_uid, \
        template_run_date, template_destpath and ansible_managed. The result is then written as copy writes: \
        compared by SHA1 first, so an unchanged file is not touched.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Full,
    returns: copy::RETURNS,
    notes: &[
        "A first line `#jinja2: trim_blocks: False, lstrip_blocks: True` overrides the task's settings for \
         that template, as in Ansible.",
        "When trim_blocks, lstrip_blocks or a delimiter differs from its default, ply renders a temporary copy \
         of the template with the settings in its `#jinja2:` header, so `template_path` names that copy.",
        "mode: preserve gives the destination the template file's mode.",
    ],
    example: r#"- name: Template a file to /etc/file.conf
  ansible.builtin.template:
    src: /mytemplates/foo.j2
    dest: /etc/file.conf
    owner: bin
    group: wheel
    mode: '0644'

- name: Copy a new sudoers file into place, after passing validation with visudo
  ansible.builtin.template:
    src: /mine/sudoers
    dest: /etc/sudoers
    validate: /usr/sbin/visudo -cf %s
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    src: String,
    dest: String,
    newline_sequence: String,
    trim_blocks: bool,
    lstrip_blocks: bool,
    block_start_string: String,
    block_end_string: String,
    variable_start_string: String,
    variable_end_string: String,
    comment_start_string: Option<String>,
    comment_end_string: Option<String>,
    force: bool,
    follow: bool,
    backup: bool,
    validate: Option<String>,
    #[serde(flatten)]
    attrs: FileArgs,
}

/// A Python string literal for a `#jinja2:` header value.
fn py_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `#jinja2:` items for the task's settings that differ from Ansible's defaults.
fn header_items(p: &Params) -> Vec<String> {
    let mut items = Vec::new();
    if !p.trim_blocks {
        items.push("trim_blocks: False".to_string());
    }
    if p.lstrip_blocks {
        items.push("lstrip_blocks: True".to_string());
    }
    let delimiters = [
        ("block_start_string", Some(&p.block_start_string), "{%"),
        ("block_end_string", Some(&p.block_end_string), "%}"),
        (
            "variable_start_string",
            Some(&p.variable_start_string),
            "{{",
        ),
        ("variable_end_string", Some(&p.variable_end_string), "}}"),
        (
            "comment_start_string",
            p.comment_start_string.as_ref(),
            "{#",
        ),
        ("comment_end_string", p.comment_end_string.as_ref(), "#}"),
    ];
    for (key, value, default) in delimiters {
        if let Some(value) = value.filter(|v| v.as_str() != default) {
            items.push(format!("{key}: {}", py_literal(value)));
        }
    }
    items
}

/// Renders through the engine. Task-level settings go into a temporary copy's `#jinja2:` header, before
/// the template's own items so that those still win, as in Ansible.
fn render(p: &Params, source: &Path, ctx: &ModuleContext<'_>) -> Result<String, Failure> {
    let items = header_items(p);
    if items.is_empty() {
        return ctx
            .evaluator
            .render_template(source, &p.dest)
            .map_err(Failure::new);
    }
    let text = std::fs::read(source)
        .map_err(|e| Failure::new(format!("could not read template {}: {e}", source.display())))?;
    let text = String::from_utf8(text)
        .map_err(|_| Failure::new("Template source files must be utf-8 encoded"))?;
    let (own, body) = match text.strip_prefix("#jinja2:") {
        Some(rest) => match rest.split_once('\n') {
            Some((line, body)) => (Some(line.trim().to_string()), body.to_string()),
            None => (Some(rest.trim().to_string()), String::new()),
        },
        None => (None, text.clone()),
    };
    let mut header = format!("#jinja2: {}", items.join(", "));
    if let Some(own) = own.filter(|o| !o.is_empty()) {
        header.push_str(", ");
        header.push_str(&own);
    }
    let dir = std::env::temp_dir().join(format!(
        "ply-template-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(format!("could not create {}: {e}", dir.display())))?;
    let copy: PathBuf = dir.join(source.file_name().unwrap_or_default());
    let written = std::fs::write(&copy, format!("{header}\n{body}"))
        .map_err(|e| Failure::new(format!("could not write {}: {e}", copy.display())));
    let rendered = written.and_then(|()| {
        ctx.evaluator
            .render_template(&copy, &p.dest)
            // The error names the source, not the temporary copy with the task's header.
            .map_err(|e| {
                Failure::new(e.replace(&copy.display().to_string(), &source.display().to_string()))
            })
    });
    let _ = std::fs::remove_dir_all(&dir);
    rendered
}

fn newline(sequence: &str) -> &'static str {
    match sequence {
        "\r" | "\\r" => "\r",
        "\r\n" | "\\r\\n" => "\r\n",
        _ => "\n",
    }
}

pub struct Template;

impl Template {
    async fn plan_inner(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
    ) -> Result<Plan<(Box<FileJob>, FileChange)>, Failure> {
        let wanted = Wanted::from_args(&p.attrs)?;
        if let Some(command) = &p.validate {
            fs::check_validate(command)?;
        }
        let source = fs::find_controller_file(ctx.search_path, "templates", &p.src)?;
        let mut text = render(p, &source, ctx)?;
        let sequence = newline(&p.newline_sequence);
        if sequence != "\n" {
            text = text.replace('\n', sequence);
        }
        let mut dest = p.dest.clone();
        let become_ = ctx.become_.as_ref();
        if dest.ends_with('/')
            || ctx
                .host
                .stat(&dest, true, become_)
                .await?
                .is_some_and(|s| s.kind == crate::connection::FileKind::Directory)
        {
            dest = format!("{}/{}", dest.trim_end_matches('/'), fs::base_name(&p.src));
        }
        let job = FileJob {
            after_header: dest.clone(),
            dest,
            content: crate::file_support::Content::Bytes(text.into_bytes()),
            src: Some(source.display().to_string()),
            force: p.force,
            backup: p.backup,
            validate: p.validate.clone(),
            wanted,
            source_mode: local_mode(&source),
            follow: p.follow,
            make_dirs: Vec::new(),
        };
        Ok(match copy::plan_file(&job, ctx).await? {
            Plan::Done(result) => Plan::Done(result),
            Plan::Change { preview, change } => Plan::Change {
                preview,
                change: (Box::new(job), change),
            },
        })
    }
}

#[async_trait]
impl Module for Template {
    type Params = Params;
    type Change = (Box<FileJob>, FileChange);

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, params: &Params, ctx: &ModuleContext<'_>) -> Plan<Self::Change> {
        match self.plan_inner(params, ctx).await {
            Ok(plan) => plan,
            Err(failure) => Plan::Done(failure.into_result()),
        }
    }

    async fn apply(
        &self,
        _params: &Params,
        (job, change): Self::Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        copy::apply_file(&job, change, preview, ctx)
            .await
            .unwrap_or_else(Failure::into_result)
    }
}
