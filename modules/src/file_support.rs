//! What the modules that write files share (copy, template, file, lineinfile): the file attribute arguments
//! (`mode`, `owner`, `group`, and the SELinux ones Ansible accepts) with Ansible's parsing and messages,
//! applying and predicting attributes with Ansible's attribute diff, backups, `validate`, checksums, the
//! content diff with Ansible's size and binary limits, and finding controller files on the search path.
//!
//! Everything reaches the host through [`ModuleContext::host`] and builds command lines with
//! [`shell_quote`], so hostile file names arrive literally. In check mode the host is the overlay, and the
//! `predict_*` helpers record would-be changes there so that later tasks of the run see them.

use crate::args::{ArgDefault, ArgSpec, ArgType};
use crate::connection::{CommandRequest, FileAttributes, FileKind, FileStat, Program};
use crate::contract::{FileDiff, ModuleContext, ModuleResult, VarMap};
use crate::shell_quote::shell_quote;
use crate::util::shlex_split;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF`: files larger than this are not diffed.
pub const MAX_DIFF_SIZE: u64 = 104_448;

/// How many leading bytes Ansible's `_diff_peek` looks at to call a file binary.
const PEEK_SIZE: usize = 8192;

pub const MODE: ArgSpec = ArgSpec::new(
    "mode",
    ArgType::Raw,
    "The permissions the resulting filesystem object should have. Give an octal number with its leading \
     zero (`0644`; YAML reads it as octal) or a quoted string (`'0644'`, `'644'`, `'u+rwx'`, \
     `'u=rw,g=r,o=r'`). A bare YAML number without the leading zero is taken as it is, in decimal, exactly \
     as Ansible does. Without it, new files get `0644` and new directories `0755` (a umask of 022), and \
     existing ones keep their mode.",
);
pub const OWNER: ArgSpec = ArgSpec::new(
    "owner",
    ArgType::Str,
    "Name (or number) of the user that should own the filesystem object, as would be fed to chown.",
);
pub const GROUP: ArgSpec = ArgSpec::new(
    "group",
    ArgType::Str,
    "Name (or number) of the group that should own the filesystem object, as would be fed to chown.",
);
pub const SEUSER: ArgSpec = ArgSpec::new(
    "seuser",
    ArgType::Str,
    "The user part of the SELinux context. Accepted and ignored: ply manages hosts without SELinux, where \
     Ansible ignores it too.",
);
pub const SEROLE: ArgSpec = ArgSpec::new(
    "serole",
    ArgType::Str,
    "The role part of the SELinux context. Accepted and ignored (no SELinux).",
);
pub const SETYPE: ArgSpec = ArgSpec::new(
    "setype",
    ArgType::Str,
    "The type part of the SELinux context. Accepted and ignored (no SELinux).",
);
pub const SELEVEL: ArgSpec = ArgSpec::new(
    "selevel",
    ArgType::Str,
    "The level part of the SELinux context. Accepted and ignored (no SELinux).",
);
pub const ATTRIBUTES: ArgSpec = ArgSpec::new(
    "attributes",
    ArgType::Str,
    "The attributes chattr would set. Accepted and ignored.",
)
.aliases(&["attr"]);
pub const UNSAFE_WRITES: ArgSpec = ArgSpec::new(
    "unsafe_writes",
    ArgType::Bool,
    "Accepted for compatibility; ply always writes atomically (a temp file beside the target, then a \
     rename).",
)
.default(ArgDefault::Bool(false));
pub const BACKUP: ArgSpec = ArgSpec::new(
    "backup",
    ArgType::Bool,
    "Create a backup file including the timestamp information so you can get the original file back if you \
     somehow clobbered it incorrectly (`PATH.PID.YYYY-MM-DD@HH:MM:SS~`).",
)
.default(ArgDefault::Bool(false));
pub const VALIDATE: ArgSpec = ArgSpec::new(
    "validate",
    ArgType::Str,
    "The validation command to run before copying the updated file into the final destination. The \
     temporary file path is put in place of `%s`, which must be present (`visudo -cf %s`). The command is \
     split into words like a shell would, and is not run through a shell.",
);

/// The attribute arguments every file module takes, in `ply doc` order. Modules list these in their
/// `ArgSpec` arrays (Rust cannot concatenate the slices in a `const`), so this is for tests that check they
/// all do.
pub const COMMON_ARG_NAMES: &[&str] = &[
    "mode",
    "owner",
    "group",
    "seuser",
    "serole",
    "setype",
    "selevel",
    "attributes",
    "unsafe_writes",
];

/// The attribute arguments as typed parameters: `#[serde(flatten)]` this into a module's `Params`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FileArgs {
    #[serde(default)]
    pub mode: Option<Value>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

/// A failure in a module's own terms: Ansible's `msg`, and the extra keys its `fail_json` adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub msg: String,
    pub values: VarMap,
}

impl Failure {
    pub fn new(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            values: VarMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.values.insert(key.to_string(), value);
        self
    }

    pub fn into_result(self) -> ModuleResult {
        ModuleResult {
            failed: true,
            msg: Some(self.msg),
            values: self.values,
            ..ModuleResult::default()
        }
    }
}

impl From<crate::connection::ConnectionError> for Failure {
    fn from(e: crate::connection::ConnectionError) -> Self {
        Failure::new(e.to_string())
    }
}

/// A `mode` argument, parsed as Ansible's `set_mode_if_different` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModeSpec {
    /// Permission bits (`0o644`).
    Octal(u32),
    /// `u=rw,g=r,o=r`, `u+x,go-w`, `a=rX`: applied to the current mode.
    Symbolic(String),
    /// `preserve` (copy and template): the source file's mode.
    Preserve,
}

const PERM_BITS: u32 = 0o7777;
/// The umask Ansible's module would run with on a stock host; symbolic modes without a user part (`+x`)
/// leave the bits it masks alone.
const DEFAULT_UMASK: u32 = 0o022;

impl ModeSpec {
    /// Reads `mode`: a number is used as it is (YAML `0644` arrives as 420), a string is octal if it parses
    /// as octal, `preserve` is kept for the caller, and anything else must be symbolic.
    pub fn parse(value: &Value) -> Result<ModeSpec, Failure> {
        let invalid = |details: Value| {
            Failure::new("Invalid mode supplied, only permission info is allowed")
                .with("details", details)
        };
        match value {
            Value::Number(n) => match n.as_u64() {
                Some(m) if m <= u64::from(PERM_BITS) => Ok(ModeSpec::Octal(m as u32)),
                _ => Err(invalid(value.clone())),
            },
            Value::String(text) => {
                let digits = text.strip_prefix("0o").unwrap_or(text);
                if !digits.is_empty() && digits.chars().all(|c| c.is_digit(8)) {
                    return match u64::from_str_radix(digits, 8) {
                        Ok(m) if m <= u64::from(PERM_BITS) => Ok(ModeSpec::Octal(m as u32)),
                        Ok(m) => Err(invalid(json!(m))),
                        Err(_) => Err(invalid(value.clone())),
                    };
                }
                if text == "preserve" {
                    return Ok(ModeSpec::Preserve);
                }
                // Checked now against a plain file so a bad mode fails before anything changes.
                symbolic_to_octal(text, 0o644, false).map_err(|details| {
                    Failure::new("mode must be in octal or symbolic form")
                        .with("details", json!(details))
                })?;
                Ok(ModeSpec::Symbolic(text.clone()))
            }
            other => Err(Failure::new("mode must be in octal or symbolic form").with(
                "details",
                json!(format!("bad symbolic permission for mode: {other}")),
            )),
        }
    }

    /// The mode an object whose mode is now `current` ends up with. `preserve` means `source_mode`.
    pub fn resolve(
        &self,
        current: u32,
        is_dir: bool,
        source_mode: Option<u32>,
    ) -> Result<u32, Failure> {
        match self {
            ModeSpec::Octal(m) => Ok(*m),
            ModeSpec::Symbolic(text) => {
                symbolic_to_octal(text, current, is_dir).map_err(|details| {
                    Failure::new("mode must be in octal or symbolic form")
                        .with("details", json!(details))
                })
            }
            ModeSpec::Preserve => Ok(source_mode.unwrap_or(current)),
        }
    }
}

/// Ansible's `_symbolic_mode_to_octal`: comma-separated clauses of users (`ugoa`, empty meaning all within
/// the umask), then operator/permission pairs (`+rw-x`, `=rX`, `=u`).
pub fn symbolic_to_octal(symbolic: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    let mut mode = current & PERM_BITS;
    for clause in symbolic.split(',') {
        let bad = || format!("bad symbolic permission for mode: {clause}");
        let Some(first_op) = clause.find(['+', '-', '=']) else {
            return Err(bad());
        };
        let users_part = &clause[..first_op];
        let use_umask = users_part.is_empty();
        let users = if users_part.is_empty() || users_part == "a" {
            "ugo"
        } else {
            users_part
        };
        if !users.chars().all(|c| "ugo".contains(c)) {
            return Err(bad());
        }
        let mut rest = &clause[first_op..];
        while let Some(op) = rest.chars().next() {
            let after = &rest[1..];
            let end = after.find(['+', '-', '=']).unwrap_or(after.len());
            let perms = &after[..end];
            if !perms.chars().all(|c| "rwxXstugo".contains(c)) {
                return Err(bad());
            }
            for user in users.chars() {
                let bits = perm_bits(user, perms, use_umask, mode, is_dir);
                mode = apply_operation(user, op, bits, mode);
            }
            rest = &after[end..];
        }
    }
    Ok(mode)
}

fn perm_bits(user: char, perms: &str, use_umask: bool, prev: u32, is_dir: bool) -> u32 {
    let rev_umask = if use_umask {
        DEFAULT_UMASK ^ PERM_BITS
    } else {
        PERM_BITS
    };
    let apply_x = is_dir || prev & 0o111 != 0;
    let (shift, special, sticky) = match user {
        'u' => (6, 0o4000, 0),
        'g' => (3, 0o2000, 0),
        _ => (0, 0, 0o1000),
    };
    let copy_of = |from_shift: u32| ((prev >> from_shift) & 0o7) << shift;
    perms.chars().fold(0, |acc, p| {
        acc | match p {
            'r' => rev_umask & (0o4 << shift),
            'w' => rev_umask & (0o2 << shift),
            'x' => rev_umask & (0o1 << shift),
            'X' if apply_x => 0o1 << shift,
            'X' => 0,
            's' => special,
            't' => sticky,
            'u' => copy_of(6),
            'g' => copy_of(3),
            'o' => copy_of(0),
            _ => 0,
        }
    })
}

fn apply_operation(user: char, op: char, bits: u32, current: u32) -> u32 {
    match op {
        '=' => {
            let mask = match user {
                'u' => 0o4700,
                'g' => 0o2070,
                _ => 0o1007,
            };
            (current & (mask ^ PERM_BITS)) | bits
        }
        '+' => current | bits,
        _ => current & !bits,
    }
}

/// Ansible's way of showing a mode: `'0%03o'` (`0644`, `04755`).
pub fn format_mode(mode: u32) -> String {
    format!("0{:03o}", mode & PERM_BITS)
}

/// The attributes a task asks for, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub mode: Option<ModeSpec>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Wanted {
    pub fn from_args(args: &FileArgs) -> Result<Wanted, Failure> {
        Ok(Wanted {
            mode: args.mode.as_ref().map(ModeSpec::parse).transpose()?,
            owner: args.owner.clone().filter(|o| !o.is_empty()),
            group: args.group.clone().filter(|g| !g.is_empty()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// What would change on one path's attributes: Ansible's order is owner, group, mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttrPlan {
    pub path: String,
    /// The owner to give (as the task wrote it) and the uid it means.
    pub owner: Option<(String, u32)>,
    pub group: Option<(String, u32)>,
    pub mode: Option<u32>,
    /// Ansible's diff dictionaries (`owner`/`group` as ids, `mode` as `0644`), in the order changed.
    pub before: VarMap,
    pub after: VarMap,
    /// `chown -h`: change a symlink itself rather than its target.
    pub no_dereference: bool,
}

impl AttrPlan {
    pub fn changed(&self) -> bool {
        self.owner.is_some() || self.group.is_some() || self.mode.is_some()
    }

    /// The attributes as [`FileAttributes`] for a write that sets them at once.
    pub fn as_attributes(&self) -> FileAttributes {
        FileAttributes {
            mode: self.mode,
            owner: self.owner.as_ref().map(|(o, _)| o.clone()),
            group: self.group.as_ref().map(|(g, _)| g.clone()),
        }
    }

    /// The stat the path would have afterwards (ids as resolved, names as given).
    pub fn stat_after(&self, stat: &FileStat) -> FileStat {
        let mut out = stat.clone();
        if let Some((name, uid)) = &self.owner {
            out.uid = *uid;
            if !name.chars().all(|c| c.is_ascii_digit()) {
                out.owner = name.clone();
            }
        }
        if let Some((name, gid)) = &self.group {
            out.gid = *gid;
            if !name.chars().all(|c| c.is_ascii_digit()) {
                out.group = name.clone();
            }
        }
        if let Some(mode) = self.mode {
            out.mode = mode;
        }
        out
    }

    /// The diff Ansible shows for attribute changes (lineinfile's `PATH (file attributes)` pair): the
    /// dictionaries as the default callback serializes them. `None` when nothing changes.
    pub fn diff(&self, header: Option<&str>) -> Option<FileDiff> {
        if !self.changed() {
            return None;
        }
        Some(FileDiff {
            before_header: header.unwrap_or_default().to_string(),
            after_header: header.unwrap_or_default().to_string(),
            before: serialize_diff(&self.before),
            after: serialize_diff(&self.after),
        })
    }

    /// Adds the attribute changes to a diff dictionary pair (the file module's `before`/`after`).
    pub fn extend_diff(&self, before: &mut VarMap, after: &mut VarMap) {
        before.extend(self.before.clone());
        after.extend(self.after.clone());
    }
}

/// The default callback's `_serialize_diff`: `json.dumps(sort_keys=True, indent=4)` and a newline.
pub fn serialize_diff(map: &VarMap) -> String {
    let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let sorted: serde_json::Map<String, Value> = sorted
        .into_iter()
        .map(|(k, v)| (k.clone(), sort_value(v)))
        .collect();
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buf, formatter);
    serde::Serialize::serialize(&Value::Object(sorted), &mut serializer)
        .expect("a JSON value always serializes");
    let mut out = String::from_utf8(buf).expect("serde_json writes UTF-8");
    out.push('\n');
    out
}

fn sort_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut items: Vec<(&String, &Value)> = map.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                items
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sort_value(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_value).collect()),
        other => other.clone(),
    }
}

/// Resolves a user and a group (names or numbers) to ids on the host with one command, as the module's
/// `pwd.getpwnam`/`grp.getgrnam` would there. Numbers are taken as they are, as Ansible does.
pub async fn lookup_ids(
    ctx: &ModuleContext<'_>,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), Failure> {
    let numeric = |s: &str| s.parse::<u32>().ok();
    let owner_id = owner.and_then(numeric);
    let group_id = group.and_then(numeric);
    let ask_owner = owner.filter(|_| owner_id.is_none());
    let ask_group = group.filter(|_| group_id.is_none());
    if ask_owner.is_none() && ask_group.is_none() {
        return Ok((owner_id, group_id));
    }
    let script = format!(
        "u={}; g={}\n\
         if [ -n \"$u\" ]; then id -u -- \"$u\" 2>/dev/null || exit 3; else echo; fi\n\
         if [ -n \"$g\" ]; then\n  \
           e=$(getent group -- \"$g\" 2>/dev/null) || e=$(awk -F: -v g=\"$g\" '$1==g{{print; exit}}' /etc/group)\n  \
           [ -n \"$e\" ] || exit 4\n  \
           echo \"$e\" | cut -d: -f3\n\
         else echo; fi",
        shell_quote(ask_owner.unwrap_or("")),
        shell_quote(ask_group.unwrap_or(""))
    );
    let out = run_shell(ctx, script).await?;
    match out.rc {
        0 => {}
        3 => {
            return Err(Failure::new(format!(
                "chown failed: failed to look up user {}",
                ask_owner.unwrap_or_default()
            )))
        }
        4 => {
            return Err(Failure::new(format!(
                "chgrp failed: failed to look up group {}",
                ask_group.unwrap_or_default()
            )))
        }
        rc => {
            return Err(Failure::new(format!(
                "could not look up owner and group (exit {rc}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().map(str::trim);
    let asked_owner = lines.next().and_then(|l| l.parse::<u32>().ok());
    let asked_group = lines.next().and_then(|l| l.parse::<u32>().ok());
    Ok((owner_id.or(asked_owner), group_id.or(asked_group)))
}

/// Decides which attributes of the object described by `stat` differ from `wanted`. `source_mode` is what
/// `mode: preserve` means. Ids are looked up on the host only when the names differ, so a converged run
/// costs no command.
pub async fn plan_attributes(
    ctx: &ModuleContext<'_>,
    path: &str,
    stat: &FileStat,
    wanted: &Wanted,
    source_mode: Option<u32>,
) -> Result<AttrPlan, Failure> {
    let mut plan = AttrPlan {
        path: path.to_string(),
        no_dereference: stat.kind == FileKind::Symlink,
        ..AttrPlan::default()
    };
    let owner = wanted
        .owner
        .as_deref()
        .filter(|o| *o != stat.owner && o.parse::<u32>().ok() != Some(stat.uid));
    let group = wanted
        .group
        .as_deref()
        .filter(|g| *g != stat.group && g.parse::<u32>().ok() != Some(stat.gid));
    if owner.is_some() || group.is_some() {
        let (uid, gid) = lookup_ids(ctx, owner, group).await?;
        if let (Some(name), Some(uid)) = (owner, uid) {
            if uid != stat.uid {
                plan.before.insert("owner".into(), json!(stat.uid));
                plan.after.insert("owner".into(), json!(uid));
                plan.owner = Some((name.to_string(), uid));
            }
        }
        if let (Some(name), Some(gid)) = (group, gid) {
            if gid != stat.gid {
                plan.before.insert("group".into(), json!(stat.gid));
                plan.after.insert("group".into(), json!(gid));
                plan.group = Some((name.to_string(), gid));
            }
        }
    }
    // A symlink's own mode cannot be changed on Linux (no lchmod); Ansible leaves it alone too.
    if let (Some(spec), false) = (&wanted.mode, stat.kind == FileKind::Symlink) {
        let mode = spec.resolve(stat.mode, stat.kind == FileKind::Directory, source_mode)?;
        if mode != stat.mode & PERM_BITS {
            plan.before
                .insert("mode".into(), json!(format_mode(stat.mode)));
            plan.after.insert("mode".into(), json!(format_mode(mode)));
            plan.mode = Some(mode);
        }
    }
    Ok(plan)
}

/// Changes the attributes of `plan.path` on the host: `chown`, `chgrp`, `chmod`, in Ansible's order, in one
/// command. Failures carry Ansible's messages (`chown failed`, ...).
pub async fn apply_attributes(ctx: &ModuleContext<'_>, plan: &AttrPlan) -> Result<(), Failure> {
    if !plan.changed() {
        return Ok(());
    }
    let p = shell_quote(&plan.path);
    let h = if plan.no_dereference { "-h " } else { "" };
    let mut script = String::new();
    if let Some((owner, _)) = &plan.owner {
        script.push_str(&format!(
            "chown {h}-- {} {p} || exit 11\n",
            shell_quote(owner)
        ));
    }
    if let Some((group, _)) = &plan.group {
        script.push_str(&format!(
            "chgrp {h}-- {} {p} || exit 12\n",
            shell_quote(group)
        ));
    }
    if let Some(mode) = plan.mode {
        script.push_str(&format!("chmod -- {mode:o} {p} || exit 13\n"));
    }
    let out = run_shell(ctx, script).await?;
    let what = match out.rc {
        0 => return Ok(()),
        11 => "chown failed",
        12 => "chgrp failed",
        13 => "chmod failed",
        _ => "setting file attributes failed",
    };
    Err(Failure::new(what).with("path", json!(plan.path)).with(
        "details",
        json!(String::from_utf8_lossy(&out.stderr).trim()),
    ))
}

/// Check mode: records the attribute changes in the overlay so later tasks see them. Files are rewritten
/// there with their current content, directories recorded with their new attributes. Does nothing on a
/// connection that is not the overlay, or for symlinks (the overlay has no links).
pub async fn predict_attributes(
    ctx: &ModuleContext<'_>,
    plan: &AttrPlan,
    kind: FileKind,
) -> Result<(), Failure> {
    if !plan.changed() || !ctx.host.is_check_overlay() {
        return Ok(());
    }
    let become_ = ctx.become_.as_ref();
    match kind {
        FileKind::Directory => {
            ctx.host
                .check_record_directory(&plan.path, &plan.as_attributes(), become_)
                .await?
        }
        FileKind::File => {
            if let Some(content) = ctx.host.read_file(&plan.path, become_).await? {
                ctx.host
                    .write_file(&plan.path, &content, &plan.as_attributes(), become_)
                    .await?;
            }
        }
        FileKind::Symlink | FileKind::Other => {}
    }
    Ok(())
}

/// Check mode: records a whole file write (content and attributes) in the overlay. Nothing happens on
/// other connections, so this is safe to call from `plan`.
pub async fn predict_write(
    ctx: &ModuleContext<'_>,
    path: &str,
    content: &[u8],
    attributes: &FileAttributes,
) -> Result<(), Failure> {
    if ctx.check_mode && ctx.host.is_check_overlay() {
        ctx.host
            .write_file(path, content, attributes, ctx.become_.as_ref())
            .await?;
    }
    Ok(())
}

/// Runs a shell script on the host with the task's become and environment.
pub async fn run_shell(
    ctx: &ModuleContext<'_>,
    script: String,
) -> Result<crate::connection::CommandOutput, Failure> {
    let mut request = CommandRequest::shell(script);
    request.become_ = ctx.become_.clone();
    request.env = ctx.environment.clone();
    Ok(ctx.host.run(&request).await?)
}

/// SHA-1 of bytes as lowercase hex: what Ansible's `checksum` values are.
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    hex(&Sha1::digest(bytes))
}

/// Sources up to this size are read into memory (one round trip, inline); larger ones stream from
/// their file, so copying a file of any size holds at most a few buffers on the controller.
pub const STREAM_THRESHOLD: u64 = 4 * 1024 * 1024;

/// What a file module writes: bytes it made (templates, `content:`, small sources), or a controller
/// file streamed from disk.
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    File(StreamedFile),
}

/// A large controller file, hashed once while planning; its bytes are read again only to be sent.
#[derive(Debug, Clone)]
pub struct StreamedFile {
    pub path: std::path::PathBuf,
    pub size: u64,
    pub sha1: String,
    pub md5: String,
    /// The first bytes (just over the diff limit), which is all a diff or a binary check looks at.
    pub peek: Vec<u8>,
}

impl Content {
    /// A controller file: read whole when small, else hashed in one streaming pass off the runtime.
    pub async fn from_controller_file(path: &std::path::Path) -> Result<Content, Failure> {
        let failure =
            |e: std::io::Error| Failure::new(format!("could not read {}: {e}", path.display()));
        let size = std::fs::metadata(path).map_err(failure)?.len();
        if size <= STREAM_THRESHOLD {
            return Ok(Content::Bytes(std::fs::read(path).map_err(failure)?));
        }
        let owned = path.to_path_buf();
        let hashed = tokio::task::spawn_blocking(move || hash_file(&owned))
            .await
            .map_err(|e| Failure::new(format!("hashing {}: {e}", path.display())))?;
        hashed.map_err(failure).map(Content::File)
    }

    pub fn sha1(&self) -> String {
        match self {
            Content::Bytes(bytes) => sha1_hex(bytes),
            Content::File(file) => file.sha1.clone(),
        }
    }

    pub fn md5(&self) -> String {
        match self {
            Content::Bytes(bytes) => md5_hex(bytes),
            Content::File(file) => file.md5.clone(),
        }
    }

    /// The bytes a diff is made from: all of them, or (streamed) a prefix longer than any diff, so the
    /// diff is skipped as "source file size is greater than".
    pub fn diff_bytes(&self) -> &[u8] {
        match self {
            Content::Bytes(bytes) => bytes,
            Content::File(file) => &file.peek,
        }
    }

    /// Writes the content to `path` on the host, atomically.
    pub async fn write(
        &self,
        ctx: &ModuleContext<'_>,
        path: &str,
        attributes: &FileAttributes,
    ) -> Result<(), Failure> {
        let become_ = ctx.become_.as_ref();
        match self {
            Content::Bytes(bytes) => {
                ctx.host
                    .write_file(path, bytes, attributes, become_)
                    .await?
            }
            Content::File(file) => {
                let mut source = tokio::fs::File::open(&file.path).await.map_err(|e| {
                    Failure::new(format!("could not read {}: {e}", file.path.display()))
                })?;
                ctx.host
                    .write_file_stream(path, &mut source, attributes, become_)
                    .await?
            }
        }
        Ok(())
    }
}

fn hash_file(path: &std::path::Path) -> std::io::Result<StreamedFile> {
    use md5::Digest as _;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut sha1 = sha1::Sha1::new();
    let mut md5 = md5::Md5::new();
    let mut peek = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        md5.update(&buf[..n]);
        let wanted = (MAX_DIFF_SIZE as usize + 1).saturating_sub(peek.len());
        peek.extend_from_slice(&buf[..n.min(wanted)]);
        size += n as u64;
    }
    Ok(StreamedFile {
        path: path.to_path_buf(),
        size,
        sha1: hex(&sha1.finalize()),
        md5: hex(&md5.finalize()),
        peek,
    })
}

/// MD5 of bytes as lowercase hex (copy's `md5sum`).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex(&Md5::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Ansible's `backup_local` name: `PATH.PID.YYYY-MM-DD@HH:MM:SS~`, local time. The PID is ply's (Ansible's
/// is the module process's), which keeps names unique per run as Ansible's are.
pub fn backup_name(path: &str) -> String {
    backup_name_at(path, std::process::id(), &chrono::Local::now())
}

pub fn backup_name_at(path: &str, pid: u32, at: &chrono::DateTime<chrono::Local>) -> String {
    format!("{path}.{pid}.{}~", at.format("%Y-%m-%d@%H:%M:%S"))
}

/// Copies `path` to its backup name on the host keeping mode, owner and times (`cp -p`, as `shutil.copy2`)
/// and returns the backup's path.
pub async fn make_backup(ctx: &ModuleContext<'_>, path: &str) -> Result<String, Failure> {
    let backup = backup_name(path);
    let script = format!("cp -p -- {} {}", shell_quote(path), shell_quote(&backup));
    let out = run_shell(ctx, script).await?;
    if out.rc != 0 {
        return Err(Failure::new(format!(
            "Could not make backup of {path} to {backup}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(backup)
}

/// The output of a `validate` command run against a temp copy of the new content.
#[derive(Clone, Debug)]
pub struct Validation {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Validation {
    pub fn ok(&self) -> bool {
        self.rc == 0
    }

    /// copy's and template's failure: `failed to validate`, with the command's exit status and output.
    pub fn copy_failure(&self) -> Failure {
        Failure::new("failed to validate")
            .with("exit_status", json!(self.rc))
            .with("stdout", json!(self.stdout))
            .with("stderr", json!(self.stderr))
    }
}

/// Checks a `validate` argument before anything runs: copy's `validate must contain %s: CMD`.
pub fn check_validate(command: &str) -> Result<(), Failure> {
    if command.contains("%s") {
        Ok(())
    } else {
        Err(Failure::new(format!("validate must contain %s: {command}")))
    }
}

/// Runs `validate` against `content`, written to a temp file beside `dest` (same filesystem, same
/// permissions as the final file would need). The command is split into words like `shlex.split`, `%s` in
/// each word becomes the temp path, and no shell is involved, so any path arrives literally. The temp file
/// is removed afterwards.
pub async fn validate(
    ctx: &ModuleContext<'_>,
    command: &str,
    content: &Content,
    dest: &str,
    attributes: &FileAttributes,
) -> Result<Validation, Failure> {
    check_validate(command)?;
    let words = shlex_split(command).map_err(|e| Failure::new(format!("validate: {e}")))?;
    let dir = match dest.rfind('/') {
        Some(0) => "/".to_string(),
        Some(cut) => dest[..cut].to_string(),
        None => ".".to_string(),
    };
    let temp = format!(
        "{}/.ply-validate-{}-{}",
        dir.trim_end_matches('/'),
        std::process::id(),
        random_suffix()
    );
    content.write(ctx, &temp, attributes).await?;
    let argv: Vec<String> = words.iter().map(|w| w.replace("%s", &temp)).collect();
    let mut request = CommandRequest::new(Program::Argv(argv));
    request.become_ = ctx.become_.clone();
    request.env = ctx.environment.clone();
    let result = ctx.host.run(&request).await;
    let _ = run_shell(ctx, format!("rm -f -- {}", shell_quote(&temp))).await;
    let out = result.map_err(Failure::from)?;
    Ok(Validation {
        rc: out.rc,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn random_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:08x}")
}

/// Why a content diff was not made, as Ansible's diff dictionary says it (`dst_larger: 104448`, ...).
/// The default callback prints [`DiffSkip::message`] instead of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffSkip {
    DstBinary,
    SrcBinary,
    DstLarger,
    SrcLarger,
}

impl DiffSkip {
    pub fn key(self) -> &'static str {
        match self {
            DiffSkip::DstBinary => "dst_binary",
            DiffSkip::SrcBinary => "src_binary",
            DiffSkip::DstLarger => "dst_larger",
            DiffSkip::SrcLarger => "src_larger",
        }
    }

    pub fn message(self) -> String {
        match self {
            DiffSkip::DstBinary => "diff skipped: destination file appears to be binary".into(),
            DiffSkip::SrcBinary => "diff skipped: source file appears to be binary".into(),
            DiffSkip::DstLarger => {
                format!("diff skipped: destination file size is greater than {MAX_DIFF_SIZE}")
            }
            DiffSkip::SrcLarger => {
                format!("diff skipped: source file size is greater than {MAX_DIFF_SIZE}")
            }
        }
    }
}

/// A content change as `--diff` shows it: the before/after texts, or why they were left out.
#[derive(Clone, Debug, PartialEq)]
pub enum ContentDiff {
    Text(FileDiff),
    Skipped(Vec<DiffSkip>),
}

impl ContentDiff {
    /// Puts the diff in a result: the text pair for the output, or Ansible's `diff` dictionary with the
    /// skip keys in the values (the output has no text to show then).
    pub fn add_to(self, result: &mut ModuleResult) {
        match self {
            ContentDiff::Text(diff) => result.diff.push(diff),
            ContentDiff::Skipped(skips) => {
                let mut map = VarMap::new();
                for skip in &skips {
                    let value = match skip {
                        DiffSkip::DstLarger | DiffSkip::SrcLarger => json!(MAX_DIFF_SIZE),
                        _ => json!(1),
                    };
                    map.insert(skip.key().into(), value);
                }
                result.values.insert("diff".into(), Value::Object(map));
                result.warnings.extend(skips.iter().map(|s| s.message()));
            }
        }
    }
}

/// copy's `_get_diff_data`: `before` is the destination's text (empty when absent) under the header
/// `dest`, `after` the new content under `after_header`. Binary sides (a NUL byte; the destination's first
/// 8192 bytes, as `_diff_peek` reads) and sides over [`MAX_DIFF_SIZE`] are skipped with Ansible's reasons.
pub fn content_diff(
    dest: &str,
    before: Option<&[u8]>,
    after: &[u8],
    after_header: &str,
) -> ContentDiff {
    let mut skips = Vec::new();
    let mut diff = FileDiff::default();
    match before {
        None => {}
        Some(b) if b[..b.len().min(PEEK_SIZE)].contains(&0) => skips.push(DiffSkip::DstBinary),
        Some(b) if b.len() as u64 > MAX_DIFF_SIZE => skips.push(DiffSkip::DstLarger),
        Some(b) => {
            diff.before_header = dest.to_string();
            diff.before = String::from_utf8_lossy(b).into_owned();
        }
    }
    if after.len() as u64 > MAX_DIFF_SIZE {
        skips.push(DiffSkip::SrcLarger);
    } else if after.contains(&0) {
        skips.push(DiffSkip::SrcBinary);
    } else {
        diff.after_header = after_header.to_string();
        diff.after = String::from_utf8_lossy(after).into_owned();
    }
    if skips.is_empty() {
        ContentDiff::Text(diff)
    } else {
        ContentDiff::Skipped(skips)
    }
}

/// Reads what is at `dest` for a diff: nothing when it does not exist, and not even the bytes when its
/// size already rules the diff out (the caller gets a placeholder that [`content_diff`] skips).
pub async fn read_for_diff(
    ctx: &ModuleContext<'_>,
    dest: &str,
    stat: Option<&FileStat>,
) -> Result<Option<Vec<u8>>, Failure> {
    match stat {
        None => Ok(None),
        Some(s) if s.kind != FileKind::File => Ok(None),
        Some(s) if s.size > MAX_DIFF_SIZE => Ok(Some(vec![b' '; MAX_DIFF_SIZE as usize + 1])),
        Some(_) => Ok(ctx.host.read_file(dest, ctx.become_.as_ref()).await?),
    }
}

/// The stat keys copy, template and file return (`uid`, `gid`, `owner`, `group`, `mode`, `state`, `size`).
pub fn stat_values(stat: &FileStat) -> VarMap {
    let mut values = VarMap::new();
    values.insert("uid".into(), json!(stat.uid));
    values.insert("gid".into(), json!(stat.gid));
    values.insert("owner".into(), json!(stat.owner));
    values.insert("group".into(), json!(stat.group));
    values.insert("mode".into(), json!(format_mode(stat.mode)));
    values.insert("state".into(), json!(state_name(stat.kind)));
    values.insert("size".into(), json!(stat.size));
    values
}

/// The file module's name for a kind of object (`file`, `directory`, `link`).
pub fn state_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "link",
        FileKind::Other => "file",
    }
}

/// Finds a controller file named by a task: an absolute path as it is; a relative one in each search path
/// folder's `subdir` (`files`, `templates`) and then the folder itself, as Ansible's `find_needle` does.
pub fn find_controller_file(
    search_path: &[PathBuf],
    subdir: &str,
    name: &str,
) -> Result<PathBuf, Failure> {
    let candidate = Path::new(name);
    if candidate.is_absolute() {
        return if candidate.exists() {
            Ok(candidate.to_path_buf())
        } else {
            Err(not_found(name, &[candidate.to_path_buf()]))
        };
    }
    let mut searched = Vec::new();
    for dir in search_path {
        for place in [dir.join(subdir).join(name), dir.join(name)] {
            if place.exists() {
                return Ok(place);
            }
            searched.push(place);
        }
    }
    if search_path.is_empty() && candidate.exists() {
        return Ok(candidate.to_path_buf());
    }
    Err(not_found(name, &searched))
}

fn not_found(name: &str, searched: &[PathBuf]) -> Failure {
    let mut msg = format!("Could not find or access '{name}'\nSearched in:");
    for place in searched {
        msg.push_str(&format!("\n\t{}", place.display()));
    }
    msg.push_str(
        " on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, \
         see the remote_src option",
    );
    Failure::new(msg)
}

/// The folder part of a host path (`/` for `/x`, `.` for a bare name).
pub fn parent_dir(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(cut) => trimmed[..cut].to_string(),
        None => ".".to_string(),
    }
}

/// The last part of a path, ignoring a trailing slash (`basename` of `a/b/` is `b`).
pub fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_like_ansible() {
        let ok: &[(Value, ModeSpec)] = &[
            (json!(420), ModeSpec::Octal(0o644)),
            (json!("0644"), ModeSpec::Octal(0o644)),
            (json!("644"), ModeSpec::Octal(0o644)),
            (json!("0o750"), ModeSpec::Octal(0o750)),
            (json!("04755"), ModeSpec::Octal(0o4755)),
            (json!(644), ModeSpec::Octal(644)),
            (json!("preserve"), ModeSpec::Preserve),
            (
                json!("u=rw,g=r,o=r"),
                ModeSpec::Symbolic("u=rw,g=r,o=r".into()),
            ),
        ];
        for (value, expected) in ok {
            assert_eq!(&ModeSpec::parse(value).unwrap(), expected, "{value}");
        }
        let bad = ModeSpec::parse(&json!("u=rwz")).unwrap_err();
        assert_eq!(bad.msg, "mode must be in octal or symbolic form");
        assert_eq!(
            bad.values["details"],
            json!("bad symbolic permission for mode: u=rwz")
        );
        let bad = ModeSpec::parse(&json!("q+r")).unwrap_err();
        assert_eq!(
            bad.values["details"],
            json!("bad symbolic permission for mode: q+r")
        );
        let bad = ModeSpec::parse(&json!(70000)).unwrap_err();
        assert_eq!(
            bad.msg,
            "Invalid mode supplied, only permission info is allowed"
        );
    }

    #[test]
    fn symbolic_modes_apply_like_chmod() {
        let cases: &[(&str, u32, bool, u32)] = &[
            ("u=rw,g=r,o=r", 0o777, false, 0o644),
            ("u+x,go-w", 0o666, false, 0o744),
            ("a=rX", 0o700, false, 0o555),
            ("a=rX", 0o600, false, 0o444),
            ("a=rX", 0o600, true, 0o555),
            ("+x", 0o644, false, 0o755),
            ("=rw", 0o000, false, 0o644),
            ("g=u", 0o740, false, 0o770),
            ("u+s,o+t", 0o755, true, 0o5755),
            ("o-rwx", 0o777, false, 0o770),
            ("u=rwx,g=rx,o=", 0o000, true, 0o750),
        ];
        for (symbolic, current, is_dir, expected) in cases {
            assert_eq!(
                symbolic_to_octal(symbolic, *current, *is_dir).unwrap(),
                *expected,
                "{symbolic} on {current:o}"
            );
        }
    }

    #[test]
    fn backup_names_and_formats() {
        use chrono::TimeZone;
        let at = chrono::Local
            .with_ymd_and_hms(2024, 5, 1, 13, 4, 5)
            .single()
            .unwrap();
        assert_eq!(
            backup_name_at("/etc/motd", 4242, &at),
            "/etc/motd.4242.2024-05-01@13:04:05~"
        );
        assert_eq!(format_mode(0o644), "0644");
        assert_eq!(format_mode(0o4755), "04755");
        assert_eq!(format_mode(0o7), "0007");
        assert_eq!(
            sha1_hex(b"hello\n"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(md5_hex(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(parent_dir("/etc/motd"), "/etc");
        assert_eq!(parent_dir("/motd"), "/");
        assert_eq!(base_name("a/b/"), "b");
    }

    #[test]
    fn diffs_follow_ansible_limits() {
        let ContentDiff::Text(d) = content_diff("/d", Some(b"a\n"), b"b\n", "/d") else {
            panic!("text diff")
        };
        assert_eq!(
            (
                d.before_header.as_str(),
                d.before.as_str(),
                d.after.as_str()
            ),
            ("/d", "a\n", "b\n")
        );
        let ContentDiff::Text(d) = content_diff("/d", None, b"b\n", "src.txt") else {
            panic!("text diff")
        };
        assert_eq!(
            (d.before_header.as_str(), d.after_header.as_str()),
            ("", "src.txt")
        );
        let big = vec![b'x'; MAX_DIFF_SIZE as usize + 1];
        assert_eq!(
            content_diff("/d", Some(&big), b"x", "/d"),
            ContentDiff::Skipped(vec![DiffSkip::DstLarger])
        );
        assert_eq!(
            content_diff("/d", Some(b"a\0b"), b"x\0", "/d"),
            ContentDiff::Skipped(vec![DiffSkip::DstBinary, DiffSkip::SrcBinary])
        );
        assert_eq!(
            DiffSkip::DstLarger.message(),
            "diff skipped: destination file size is greater than 104448"
        );
        let mut before = VarMap::new();
        before.insert("mode".into(), json!("0644"));
        assert_eq!(serialize_diff(&before), "{\n    \"mode\": \"0644\"\n}\n");
    }
}
