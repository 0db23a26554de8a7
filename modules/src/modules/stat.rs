//! ansible.builtin.stat: what is at a path, as `stat: {...}`. Reads go through the connection, so in check
//! mode they see what earlier tasks would have written.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::FileKind;
use crate::contract::{ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::file_support::{self as fs, format_mode, parent_dir, Failure};
use crate::shell_quote::shell_quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "path",
        ArgType::Path,
        "The full path of the file/object to get the facts of.",
    )
    .required()
    .aliases(&["dest", "name"]),
    ArgSpec::new("follow", ArgType::Bool, "Whether to follow symlinks.")
        .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "get_checksum",
        ArgType::Bool,
        "Whether to return a checksum of the file.",
    )
    .default(ArgDefault::Bool(true)),
    ArgSpec::new(
        "checksum_algorithm",
        ArgType::Str,
        "Algorithm to determine checksum of file (sha1 is computed by the connection; the others by the \
         host's `*sum` tools).",
    )
    .default(ArgDefault::Str("sha1"))
    .aliases(&["checksum", "checksum_algo"])
    .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
    ArgSpec::new(
        "get_mime",
        ArgType::Bool,
        "Accepted; ply does not return mime types.",
    )
    .default(ArgDefault::Bool(true))
    .aliases(&["mime", "mime_type", "mime-type"]),
    ArgSpec::new(
        "get_attributes",
        ArgType::Bool,
        "Accepted; ply does not return lsattr attributes.",
    )
    .default(ArgDefault::Bool(true))
    .aliases(&["attr", "attributes"]),
];

const RETURNS: &[ReturnDoc] = &[ReturnDoc::new(
    "stat",
    "dict",
    "success",
    "Dictionary containing all the stat data: exists, path, mode (`0644`), isdir, isreg, islnk, ischr, \
     isblk, isfifo, issock, uid, gid, pw_name, gr_name, size, mtime, the permission flags (rusr, wusr, \
     xusr, rgrp, wgrp, xgrp, roth, woth, xoth, isuid, isgid), checksum (regular files, get_checksum), and \
     lnk_source/lnk_target (links). Only `exists: false` when nothing is there.",
)];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "stat",
    short_description: "Retrieve file or file system status",
    description: "Retrieves facts for a file similar to the Linux/Unix stat command.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::None,
    returns: RETURNS,
    notes: &["atime, ctime, inode, dev, nlink, readable/writeable/executable and mimetype are not returned."],
    example: r#"- name: Get stats of a file
  ansible.builtin.stat:
    path: /etc/foo.conf
  register: st

- name: Fail if the file does not belong to 'root'
  ansible.builtin.fail:
    msg: "Whoops! file ownership has changed"
  when: st.stat.pw_name != 'root'
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    path: String,
    follow: bool,
    get_checksum: bool,
    checksum_algorithm: String,
}

pub struct Stat;

/// Resolves a link target against the link's folder, without `..` games: what `realpath` would say for a
/// link to an existing path, asked of the host so chains of links resolve too.
async fn link_source(ctx: &ModuleContext<'_>, path: &str, target: &str) -> String {
    let script = format!("readlink -f -- {}", shell_quote(path));
    if let Ok(out) = fs::run_shell(ctx, script).await {
        let text = String::from_utf8_lossy(&out.stdout);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if out.rc == 0 && !text.is_empty() {
            return text.to_string();
        }
    }
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", parent_dir(path))
    }
}

async fn checksum(
    ctx: &ModuleContext<'_>,
    path: &str,
    algorithm: &str,
) -> Result<Option<String>, Failure> {
    if algorithm == "sha1" {
        return Ok(ctx.host.checksum_sha1(path, ctx.become_.as_ref()).await?);
    }
    let out = fs::run_shell(ctx, format!("{algorithm}sum -- {}", shell_quote(path))).await?;
    if out.rc != 0 {
        return Err(Failure::new(format!(
            "could not compute the {algorithm} checksum of {path}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string))
}

impl Stat {
    async fn inner(&self, p: &Params, ctx: &ModuleContext<'_>) -> Result<ModuleResult, Failure> {
        let mut stat = VarMap::new();
        let Some(st) = ctx
            .host
            .stat(&p.path, p.follow, ctx.become_.as_ref())
            .await?
        else {
            stat.insert("exists".into(), json!(false));
            return Ok(with_stat(stat));
        };
        let m = st.mode;
        let bit = |b: u32| Value::Bool(m & b != 0);
        stat.insert("exists".into(), json!(true));
        stat.insert("path".into(), json!(p.path));
        stat.insert("mode".into(), json!(format_mode(m)));
        stat.insert("isdir".into(), json!(st.kind == FileKind::Directory));
        stat.insert("ischr".into(), json!(false));
        stat.insert("isblk".into(), json!(false));
        stat.insert("isreg".into(), json!(st.kind == FileKind::File));
        stat.insert("isfifo".into(), json!(false));
        stat.insert("islnk".into(), json!(st.kind == FileKind::Symlink));
        stat.insert("issock".into(), json!(false));
        stat.insert("uid".into(), json!(st.uid));
        stat.insert("gid".into(), json!(st.gid));
        stat.insert("size".into(), json!(st.size));
        stat.insert("mtime".into(), json!(st.mtime));
        for (name, b) in [
            ("wusr", 0o200),
            ("rusr", 0o400),
            ("xusr", 0o100),
            ("wgrp", 0o020),
            ("rgrp", 0o040),
            ("xgrp", 0o010),
            ("woth", 0o002),
            ("roth", 0o004),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            stat.insert(name.into(), bit(b));
        }
        stat.insert("pw_name".into(), json!(st.owner));
        stat.insert("gr_name".into(), json!(st.group));
        if st.kind == FileKind::Symlink {
            let target = st.link_target.clone().unwrap_or_default();
            stat.insert(
                "lnk_source".into(),
                json!(link_source(ctx, &p.path, &target).await),
            );
            stat.insert("lnk_target".into(), json!(target));
        }
        if st.kind == FileKind::File && p.get_checksum {
            if let Some(sum) = checksum(ctx, &p.path, &p.checksum_algorithm).await? {
                stat.insert("checksum".into(), json!(sum));
            }
        }
        Ok(with_stat(stat))
    }
}

fn with_stat(stat: VarMap) -> ModuleResult {
    let mut result = ModuleResult::ok();
    result.values.insert("stat".into(), Value::Object(stat));
    result
}

#[async_trait]
impl Module for Stat {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, params: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        Plan::Done(
            self.inner(params, ctx)
                .await
                .unwrap_or_else(Failure::into_result),
        )
    }
}
