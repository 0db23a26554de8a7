//! rsync (ply-native) and synchronize (ansible.posix.synchronize): file trees copied with the rsync
//! program.
//!
//! Three directions:
//! - push (controller → host) and pull (host → controller): the controller runs `rsync` with an `ssh`
//!   command built from the task's connection variables (`ansible_host`, `ansible_port`, `ansible_user`,
//!   `ansible_ssh_private_key_file`); a host on the local connection gets plain local paths.
//! - host-to-host (`dest_host`): the task's host runs `rsync` itself and pushes to `dest_host` over ssh, as
//!   a replication recipe copies a data directory from a primary to a standby.
//!
//! `changed` comes from rsync's itemized output (`<<CHANGED>>%i %n%L`, as Ansible's synchronize reads it),
//! never from the exit code alone. Check mode runs the same command with `--dry-run`.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::CommandRequest;
use crate::contract::{FileDiff, ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::shell_quote::{command_line, shell_quote};
use crate::util::lines_value;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;

/// The marker Ansible's synchronize puts before each itemized line, so that rsync's other output (warnings,
/// `-v` chatter from `rsync_opts`) never counts as a change.
pub const MARKER: &str = "<<CHANGED>>";
const OUT_FORMAT: &str = "--out-format=<<CHANGED>>%i %n%L";

const fn flag(name: &'static str, description: &'static str) -> ArgSpec {
    ArgSpec::new(name, ArgType::Bool, description)
}

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "src",
        ArgType::Str,
        "Path to copy from: on the controller for push (relative paths are looked up in the role's files/ \
         and the playbook folder), on the host for pull and host-to-host. A trailing slash copies the \
         folder's content rather than the folder, as with rsync.",
    )
    .required(),
    ArgSpec::new(
        "dest",
        ArgType::Str,
        "Path to copy to: on the host for push, on the controller for pull, on dest_host for host-to-host.",
    )
    .required(),
    ArgSpec::new(
        "mode",
        ArgType::Str,
        "push copies from the controller to the host, pull from the host to the controller.",
    )
    .default(ArgDefault::Str("push"))
    .choices(&["push", "pull"]),
    ArgSpec::new(
        "dest_host",
        ArgType::Str,
        "Host-to-host: the address the task's host pushes to. The task's host runs rsync (with the task's \
         become, so it can read what it sends), logging in as ssh_user with private_key, both on that host.",
    ),
    ArgSpec::new(
        "dest_port",
        ArgType::Int,
        "The ssh port of the other end: defaults to ansible_port for push/pull and to 22 (or the source \
         host's ssh config) for host-to-host.",
    ),
    ArgSpec::new(
        "ssh_user",
        ArgType::Str,
        "The user ssh logs in as on the other end. Defaults to ansible_user for push/pull (see \
         set_remote_user), and to ssh's own default for host-to-host.",
    ),
    ArgSpec::new(
        "private_key",
        ArgType::Path,
        "The ssh private key for the rsync leg, on the machine running rsync (the controller for push/pull, \
         the task's host for host-to-host). Push/pull default to ansible_ssh_private_key_file.",
    ),
    ArgSpec::new(
        "known_hosts",
        ArgType::Path,
        "The known_hosts file ssh checks the other end's host key against (on the machine running rsync). \
         Defaults to ssh's own (~/.ssh/known_hosts of the user running rsync).",
    ),
    flag(
        "verify_host",
        "Check the other end's host key. Host-to-host always checks unless this is false. For push/pull \
         the default is false for synchronize (as Ansible: StrictHostKeyChecking=no and no known_hosts) and \
         true for rsync.",
    ),
    flag(
        "ssh_accept_new",
        "With host key checking, trust and record the key of a host never seen before \
         (StrictHostKeyChecking=accept-new) instead of failing (StrictHostKeyChecking=yes). A changed key \
         still fails. In check mode the key is trusted for the dry run but not recorded.",
    )
    .default(ArgDefault::Bool(false)),
    flag("archive", "Mirrors the rsync archive flag: recursive, links, perms, times, owner, group, -D.")
        .default(ArgDefault::Bool(true)),
    flag("checksum", "Skip based on checksum rather than mod-time and size.")
        .default(ArgDefault::Bool(false)),
    flag("compress", "Compress file data during the transfer.").default(ArgDefault::Bool(true)),
    flag(
        "delete",
        "Delete files in dest that do not exist in src (after the transfer, --delete-after). Excluded \
         files are kept.",
    )
    .default(ArgDefault::Bool(false)),
    flag("existing_only", "Skip creating new files on the receiver.").default(ArgDefault::Bool(false)),
    flag("dirs", "Transfer directories without recursing.").default(ArgDefault::Bool(false)),
    flag("copy_links", "Copy symlinks as the items they point to.").default(ArgDefault::Bool(false)),
    flag("recursive", "Recurse into directories. Defaults to the value of archive."),
    flag("links", "Copy symlinks as symlinks. Defaults to the value of archive."),
    flag("perms", "Preserve permissions. Defaults to the value of archive."),
    flag("times", "Preserve modification times. Defaults to the value of archive."),
    flag("owner", "Preserve owner (super user only). Defaults to the value of archive."),
    flag("group", "Preserve group. Defaults to the value of archive."),
    flag("partial", "Keep partially transferred files (--partial).").default(ArgDefault::Bool(false)),
    flag("inplace", "Update destination files in place (--inplace).").default(ArgDefault::Bool(false)),
    flag(
        "delay_updates",
        "Put all updated files into place at the end (--delay-updates). synchronize also passes -F (per \
         folder .rsync-filter files), as Ansible does.",
    )
    .default(ArgDefault::Bool(true)),
    ArgSpec::new(
        "rsync_path",
        ArgType::Str,
        "The rsync command on the remote end (--rsync-path), a command line run by the remote shell. With \
         become (push/pull), defaults to `sudo rsync` or `sudo -u USER rsync`.",
    ),
    ArgSpec::new(
        "rsync_opts",
        ArgType::List,
        "More rsync options, each passed as one argument.",
    )
    .elements(ArgType::Str),
    ArgSpec::new(
        "rsync_timeout",
        ArgType::Int,
        "I/O timeout in seconds (--timeout); 0 is none.",
    )
    .default(ArgDefault::Int(0)),
    ArgSpec::new(
        "exclude",
        ArgType::List,
        "rsync filter patterns to leave out (--exclude each).",
    )
    .elements(ArgType::Str),
    ArgSpec::new(
        "include",
        ArgType::List,
        "rsync filter patterns to keep (--include each). They come before the excludes, since rsync's first \
         matching rule wins: include '*.conf' with exclude '*' copies only .conf files.",
    )
    .elements(ArgType::Str),
    flag(
        "set_remote_user",
        "Put the user in front of the remote host (user@host). Set to false when the remote user should \
         come from ssh's config.",
    )
    .default(ArgDefault::Bool(true)),
    flag(
        "use_ssh_args",
        "Add the inventory's ansible_ssh_args, ansible_ssh_common_args and ansible_ssh_extra_args to the ssh \
         command.",
    )
    .default(ArgDefault::Bool(false)),
    flag(
        "ssh_connection_multiplexing",
        "Let ssh use a ControlMaster connection; off by default (ssh -S none).",
    )
    .default(ArgDefault::Bool(false)),
];

const RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new(
        "cmd",
        "str",
        "always",
        "The rsync command line that ran (or would run), shell-quoted.",
    ),
    ReturnDoc::new("rc", "int", "when rsync ran", "rsync's exit code."),
    ReturnDoc::new(
        "msg",
        "str",
        "always",
        "rsync's itemized output without the <<CHANGED>> marker (one `%i %n%L` line per change), or the \
         error.",
    ),
    ReturnDoc::new(
        "stdout_lines",
        "list",
        "when rsync ran",
        "The lines of msg.",
    ),
];

const NOTES: &[&str] = &[
    "rsync must be installed on the controller and on the hosts (both ends of a host-to-host copy).",
    "The ssh leg is run by the system ssh client with BatchMode=yes: key authentication only, no password \
     prompts.",
    "Exit codes are explained in failures: 23 partial transfer due to error, 24 source files vanished, 12 \
     protocol data stream error (often the remote rsync is missing or its shell prints text), 255 the ssh \
     connection failed, and so on.",
    "Host-to-host with a new destination: either put its key in known_hosts (the known_hosts argument or \
     ~/.ssh/known_hosts of the user running rsync on the source host) or set ssh_accept_new: true.",
    "delegate_to another host runs rsync on that host, aimed at the task's host (Ansible's synchronize \
     semantics; the login user is the delegate's ansible_user unless ssh_user is given). delegate_to the \
     task's own host runs rsync on that host with both paths local to it. dest_host is the explicit way to \
     copy host to host.",
    "Characters ' and \" cannot appear in the ssh command's words (key and known_hosts paths, ssh args), \
     because rsync splits that command itself.",
];

const EXAMPLE: &str = r#"- name: Push a folder's content
  rsync:
    src: site/
    dest: /srv/www
    delete: true
    exclude: ["*.tmp", ".git"]

- name: Pull the logs
  rsync:
    mode: pull
    src: /var/log/app/
    dest: "logs/{{ inventory_hostname }}/"

- name: Copy the data directory from the primary to the standby
  rsync:
    src: /var/lib/postgresql/15/main/
    dest: /var/lib/postgresql/15/main
    dest_host: "{{ hostvars['standby']['ansible_host'] }}"
    ssh_user: postgres
    private_key: /var/lib/postgresql/.ssh/id_ed25519
    exclude: [postmaster.pid, postmaster.opts]
    delete: true
  become: true
  become_user: postgres
"#;

pub static DOC: ModuleDoc = ModuleDoc {
    name: "rsync",
    short_description: "Synchronise files with rsync: push, pull, or host to host",
    description: "Copies file trees with the rsync program: from the controller to a host (push), from a host \
        to the controller (pull), or from the task's host straight to another host (dest_host). changed is \
        read from rsync's itemized changes, check mode runs rsync with --dry-run and lists what would change.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Partial("lists the files that change (rsync's itemized lines), not their content"),
    returns: RETURNS,
    notes: NOTES,
    example: EXAMPLE,
};

pub static DOC_SYNCHRONIZE: ModuleDoc = ModuleDoc {
    name: "synchronize",
    short_description: "A wrapper around rsync to make common tasks in your playbooks quick and easy",
    description: "synchronize is a wrapper around rsync to make common tasks in your playbooks quick and \
        easy. ply runs the same implementation as its rsync module, with synchronize's defaults (host keys \
        not verified for push/pull, --delay-updates -F).",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::Full,
    diff_mode: Support::Partial("lists the files that change (rsync's itemized lines), not their content"),
    returns: RETURNS,
    notes: NOTES,
    example: r#"- name: Synchronization of src on the control machine to dest on the remote hosts
  ansible.posix.synchronize:
    src: some/relative/path
    dest: /some/absolute/path

- name: Synchronize and delete files in dest on the remote host that are not found in src
  ansible.posix.synchronize:
    src: some/relative/path
    dest: /some/absolute/path
    delete: true
    rsync_opts:
      - "--exclude=.git"
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    src: String,
    dest: String,
    mode: String,
    dest_host: Option<String>,
    dest_port: Option<i64>,
    ssh_user: Option<String>,
    private_key: Option<String>,
    known_hosts: Option<String>,
    verify_host: Option<bool>,
    ssh_accept_new: bool,
    archive: bool,
    checksum: bool,
    compress: bool,
    delete: bool,
    existing_only: bool,
    dirs: bool,
    copy_links: bool,
    recursive: Option<bool>,
    links: Option<bool>,
    perms: Option<bool>,
    times: Option<bool>,
    owner: Option<bool>,
    group: Option<bool>,
    partial: bool,
    inplace: bool,
    delay_updates: bool,
    rsync_path: Option<String>,
    #[serde(default)]
    rsync_opts: Option<Vec<String>>,
    rsync_timeout: i64,
    #[serde(default)]
    exclude: Option<Vec<String>>,
    #[serde(default)]
    include: Option<Vec<String>>,
    set_remote_user: bool,
    use_ssh_args: bool,
    ssh_connection_multiplexing: bool,
}

/// How ssh treats the other end's host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeys {
    /// Ansible's synchronize default: no checking and nothing recorded.
    Ignore,
    /// Check against `known_hosts` (ssh's own file when `None`); `accept_new` trusts first-seen hosts.
    Verify {
        known_hosts: Option<String>,
        accept_new: bool,
    },
}

/// The remote end of the transfer and how ssh reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub user: Option<String>,
    pub address: String,
    pub port: Option<u16>,
    pub private_key: Option<String>,
    pub host_keys: HostKeys,
    pub multiplexing: bool,
    /// Extra ssh words (use_ssh_args), already split.
    pub ssh_args: Vec<String>,
    /// `--rsync-path`: the command the remote shell runs.
    pub rsync_path: Option<String>,
}

impl Remote {
    /// `user@address:path`, with IPv6 addresses in brackets as rsync wants them.
    fn spec(&self, path: &str) -> String {
        let host = if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        };
        match &self.user {
            Some(user) => format!("{user}@{host}:{path}"),
            None => format!("{host}:{path}"),
        }
    }

    /// The words of the ssh command rsync runs (`--rsh`). A dry run (check mode) must not change the
    /// known_hosts file either: a first-seen key that accept-new trusts goes to /dev/null, listed first
    /// (ssh adds keys to the first file and checks all of them), and ssh learns no other keys of the host
    /// (`UpdateHostKeys=no`).
    pub fn ssh_words(&self, dry_run: bool) -> Vec<String> {
        let mut words = vec!["ssh".to_string()];
        if !self.multiplexing {
            words.extend(["-S".into(), "none".into()]);
        }
        // Nothing may prompt: the controller's ply and a host-to-host rsync have no terminal to ask on.
        words.extend(["-o".into(), "BatchMode=yes".into()]);
        if let Some(key) = &self.private_key {
            words.extend(["-i".into(), key.clone()]);
            words.extend(["-o".into(), "IdentitiesOnly=yes".into()]);
        }
        if let Some(port) = self.port {
            words.extend(["-o".into(), format!("Port={port}")]);
        }
        match &self.host_keys {
            HostKeys::Ignore => words.extend([
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
            ]),
            HostKeys::Verify {
                known_hosts,
                accept_new,
            } => {
                let policy = if *accept_new { "accept-new" } else { "yes" };
                words.extend(["-o".into(), format!("StrictHostKeyChecking={policy}")]);
                match known_hosts {
                    Some(file) if dry_run && *accept_new => {
                        words.extend(["-o".into(), format!("UserKnownHostsFile=/dev/null {file}")])
                    }
                    None if dry_run && *accept_new => words.extend([
                        "-o".into(),
                        "UserKnownHostsFile=/dev/null ~/.ssh/known_hosts ~/.ssh/known_hosts2"
                            .into(),
                    ]),
                    Some(file) => words.extend(["-o".into(), format!("UserKnownHostsFile={file}")]),
                    None => {}
                }
                if dry_run {
                    words.extend(["-o".into(), "UpdateHostKeys=no".into()]);
                }
            }
        }
        words.extend(self.ssh_args.iter().cloned());
        words
    }
}

/// Which way the files go relative to the remote end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The machine running rsync sends to the remote (push, host-to-host).
    ToRemote,
    /// The machine running rsync receives from the remote (pull).
    FromRemote,
}

/// Everything that decides the rsync command line, gathered so that building it is a pure function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub rsync: String,
    pub synchronize: bool,
    pub src: String,
    pub dest: String,
    /// `None`: both paths are local to the machine running rsync.
    pub remote: Option<Remote>,
    pub direction: Direction,
    pub dry_run: bool,
    pub archive: bool,
    pub checksum: bool,
    pub compress: bool,
    pub delete: bool,
    pub existing_only: bool,
    pub dirs: bool,
    pub copy_links: bool,
    /// recursive, links, perms, times, owner, group: `None` follows archive.
    pub recursive: Option<bool>,
    pub links: Option<bool>,
    pub perms: Option<bool>,
    pub times: Option<bool>,
    pub owner: Option<bool>,
    pub group: Option<bool>,
    pub partial: bool,
    pub inplace: bool,
    pub delay_updates: bool,
    pub timeout: i64,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub rsync_opts: Vec<String>,
}

impl Invocation {
    /// The argument vector, in Ansible's synchronize order (plus ply's include/exclude and inplace).
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut argv = vec![self.rsync.clone()];
        if self.delay_updates {
            argv.push("--delay-updates".into());
            if self.synchronize {
                argv.push("-F".into());
            }
        }
        if self.compress {
            argv.push("--compress".into());
        }
        if self.timeout > 0 {
            argv.push(format!("--timeout={}", self.timeout));
        }
        if self.dry_run {
            argv.push("--dry-run".into());
        }
        if self.delete {
            argv.push("--delete-after".into());
        }
        if self.existing_only {
            argv.push("--existing".into());
        }
        if self.checksum {
            argv.push("--checksum".into());
        }
        if self.copy_links {
            argv.push("--copy-links".into());
        }
        let parts = [
            ("recursive", self.recursive),
            ("links", self.links),
            ("perms", self.perms),
            ("times", self.times),
            ("owner", self.owner),
            ("group", self.group),
        ];
        if self.archive {
            argv.push("--archive".into());
            for (name, value) in parts {
                if value == Some(false) {
                    argv.push(format!("--no-{name}"));
                }
            }
        } else {
            for (name, value) in parts {
                if value == Some(true) {
                    argv.push(format!("--{name}"));
                }
            }
        }
        if self.dirs {
            argv.push("--dirs".into());
        }
        let user_rsh = self
            .rsync_opts
            .iter()
            .any(|o| o.starts_with("--rsh") || o == "-e" || o.starts_with("-e"));
        if let Some(remote) = &self.remote {
            if !user_rsh {
                let words = remote.ssh_words(self.dry_run);
                // rsync splits the --rsh value itself, honouring quotes but not sh's `'\''` escape.
                if let Some(bad) = words.iter().find(|w| w.contains(['\'', '"'])) {
                    return Err(format!(
                        "cannot pass {bad:?} in the ssh command: rsync does not accept quotes there"
                    ));
                }
                argv.push(format!("--rsh={}", command_line(&words)));
            }
            if let Some(path) = &remote.rsync_path {
                argv.push(format!("--rsync-path={path}"));
            }
        }
        for pattern in &self.include {
            argv.push(format!("--include={pattern}"));
        }
        for pattern in &self.exclude {
            argv.push(format!("--exclude={pattern}"));
        }
        argv.extend(self.rsync_opts.iter().cloned());
        if self.partial {
            argv.push("--partial".into());
        }
        if self.inplace {
            argv.push("--inplace".into());
        }
        argv.push("--itemize-changes".into());
        argv.push(OUT_FORMAT.into());
        let (src, dest) = match (&self.remote, self.direction) {
            (None, _) => (self.src.clone(), self.dest.clone()),
            (Some(remote), Direction::ToRemote) => (self.src.clone(), remote.spec(&self.dest)),
            (Some(remote), Direction::FromRemote) => (remote.spec(&self.src), self.dest.clone()),
        };
        // `--` keeps a path starting with a dash from being read as an option.
        argv.push("--".into());
        argv.push(src);
        argv.push(dest);
        Ok(argv)
    }
}

/// One itemized change: `%i %n%L` parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The 11-character itemize code (`>f+++++++++`), or `*deleting`.
    pub code: String,
    /// The path relative to the transfer root.
    pub name: String,
    /// ` -> target` for symlinks, empty otherwise.
    pub link: String,
}

impl Change {
    pub fn is_deletion(&self) -> bool {
        self.code == "*deleting"
    }

    /// Whether rsync created the item (all attribute columns `+`).
    pub fn is_new(&self) -> bool {
        self.code.len() == 11 && self.code[2..].chars().all(|c| c == '+')
    }
}

/// The itemized lines of rsync's output: the lines carrying the marker, without it.
pub fn parse_itemized(stdout: &str) -> Vec<Change> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(MARKER))
        .filter_map(parse_item)
        .collect()
}

fn parse_item(text: &str) -> Option<Change> {
    // `*deleting` is followed by padding up to the code's width; other codes are 11 characters (12 with
    // ACLs/xattrs compiled in). The code never holds a space, the name may.
    let (code, rest) = text.split_once(' ')?;
    let rest = if code == "*deleting" {
        rest.trim_start_matches(' ')
    } else {
        rest
    };
    let (name, link) = match rest.find(" -> ") {
        Some(at) if code.as_bytes().get(1) == Some(&b'L') => (&rest[..at], &rest[at..]),
        _ => (rest, ""),
    };
    Some(Change {
        code: code.to_string(),
        name: name.to_string(),
        link: link.to_string(),
    })
}

/// What rsync's exit codes mean (rsync(1) EXIT VALUES; 255 is ssh's own failure).
pub fn exit_meaning(rc: i32) -> &'static str {
    match rc {
        0 => "Success",
        1 => "Syntax or usage error",
        2 => "Protocol incompatibility",
        3 => "Errors selecting input/output files, dirs",
        4 => "Requested action not supported",
        5 => "Error starting client-server protocol",
        6 => "Daemon unable to append to log-file",
        10 => "Error in socket I/O",
        11 => "Error in file I/O",
        12 => "Error in rsync protocol data stream",
        13 => "Errors with program diagnostics",
        14 => "Error in IPC code",
        20 => "Received SIGUSR1 or SIGINT",
        21 => "Some error returned by waitpid()",
        22 => "Error allocating core memory buffers",
        23 => "Partial transfer due to error",
        24 => "Partial transfer due to vanished source files",
        25 => "The --max-delete limit stopped deletions",
        30 => "Timeout in data send/receive",
        35 => "Timeout waiting for daemon connection",
        127 => "rsync (or the remote shell) was not found",
        255 => "The ssh connection failed",
        _ => "Unknown rsync exit code",
    }
}

/// The result of a finished rsync run.
pub fn outcome(cmd: &str, rc: i32, stdout: &str, stderr: &str, dest: &str) -> ModuleResult {
    let mut values = serde_json::Map::new();
    values.insert("cmd".into(), json!(cmd));
    values.insert("rc".into(), json!(rc));
    if rc != 0 {
        let stderr = stderr.trim_end();
        let mut result = ModuleResult::failed(format!(
            "rsync failed with exit code {rc} ({}): {stderr}",
            exit_meaning(rc)
        ));
        values.insert("stdout_lines".into(), lines_value(stdout));
        values.insert("stderr".into(), json!(stderr));
        result.values = values;
        return result;
    }
    // Ansible's msg: the output with the marker stripped; other rsync lines stay.
    let msg = stdout.replace(MARKER, "");
    let changes = parse_itemized(stdout);
    values.insert("stdout_lines".into(), lines_value(&msg));
    let diff = if changes.is_empty() {
        Vec::new()
    } else {
        vec![FileDiff {
            before_header: dest.to_string(),
            after_header: dest.to_string(),
            before: String::new(),
            after: msg.clone(),
        }]
    };
    ModuleResult {
        changed: !changes.is_empty(),
        msg: Some(msg),
        values,
        diff,
        ..ModuleResult::default()
    }
}

pub struct Rsync {
    pub synchronize: bool,
}

/// A variable of the task as text, `None` when undefined, null or empty.
fn var(ctx: &ModuleContext<'_>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        // An undefined variable is an error from the evaluator: the same as not set here.
        match ctx.evaluator.eval_expr(name) {
            Ok(Value::String(s)) if !s.is_empty() => Some(s),
            Ok(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    })
}

fn port_of(text: Option<String>, what: &str) -> Result<Option<u16>, String> {
    match text {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u16>()
            .map(Some)
            .map_err(|_| format!("{what} '{text}' is not a port number")),
    }
}

/// `rsync_path` with become on the remote end, as Ansible's synchronize adds it (sudo only).
fn become_rsync_path(ctx: &ModuleContext<'_>, explicit: Option<&str>) -> Option<String> {
    if let Some(path) = explicit {
        return Some(path.to_string());
    }
    let become_ = ctx.become_.as_ref()?;
    Some(if become_.user == "root" {
        "sudo rsync".into()
    } else {
        format!("sudo -u {} rsync", shell_quote(&become_.user))
    })
}

/// Where the task runs rsync.
enum Runner {
    Controller,
    /// The task's host (dest_host), with the task's become so it can read what it sends.
    Host,
    /// A delegate_to host, without become as in Ansible (become applies to the remote end via rsync_path).
    Delegate,
}

impl Rsync {
    fn invocation(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
    ) -> Result<(Invocation, Runner), String> {
        let pull = p.mode == "pull";
        let mut src = p.src.clone();
        let mut dest = p.dest.clone();
        // With delegate_to another host, the connection is the delegate's while the variables stay the
        // task host's: Ansible's synchronize then runs rsync on the delegate, aimed at the task host.
        let delegate = var(ctx, &["inventory_hostname"]).filter(|name| name != ctx.host.host());
        // Delegated to the task's own host (`delegate_to: "{{ inventory_hostname }}"`): Ansible runs rsync
        // on that host with both paths local to it.
        let delegated_to_itself = delegate.is_none()
            && ctx
                .evaluator
                .eval_condition("ansible_delegated_vars is defined")
                .unwrap_or(false);
        let (remote, runner) = match &p.dest_host {
            None if delegated_to_itself => (None, Runner::Host),
            Some(dest_host) => {
                if pull {
                    return Err(
                        "dest_host copies from the task's host to dest_host: it needs mode push"
                            .into(),
                    );
                }
                let port = match p.dest_port {
                    Some(port) => Some(
                        u16::try_from(port)
                            .map_err(|_| format!("dest_port {port} is not a port number"))?,
                    ),
                    None => None,
                };
                let host_keys = if p.verify_host == Some(false) {
                    HostKeys::Ignore
                } else {
                    HostKeys::Verify {
                        known_hosts: p.known_hosts.clone(),
                        accept_new: p.ssh_accept_new,
                    }
                };
                let remote = Remote {
                    user: p.ssh_user.clone().filter(|_| p.set_remote_user),
                    address: dest_host.clone(),
                    port,
                    private_key: p.private_key.clone(),
                    host_keys,
                    multiplexing: p.ssh_connection_multiplexing,
                    ssh_args: Vec::new(),
                    rsync_path: p.rsync_path.clone(),
                };
                (Some(remote), Runner::Host)
            }
            None if delegate.is_some() => {
                let address = var(
                    ctx,
                    &["ansible_host", "ansible_ssh_host", "inventory_hostname"],
                )
                .ok_or("the host has no address (ansible_host or inventory_hostname)")?;
                let port = match p.dest_port {
                    Some(port) => Some(
                        u16::try_from(port)
                            .map_err(|_| format!("dest_port {port} is not a port number"))?,
                    ),
                    None => port_of(
                        var(ctx, &["ansible_port", "ansible_ssh_port"]),
                        "ansible_port",
                    )?,
                };
                // Ansible logs in with the delegate's ansible_user: the delegate's identity travels.
                let delegate_user = ctx.host.host();
                let user = p
                    .ssh_user
                    .clone()
                    .or_else(|| {
                        let quoted = serde_json::to_string(delegate_user).ok()?;
                        var(ctx, &[&format!("hostvars[{quoted}].ansible_user")])
                    })
                    .filter(|_| p.set_remote_user);
                let verify = p.verify_host.unwrap_or(!self.synchronize);
                let host_keys = if verify {
                    HostKeys::Verify {
                        known_hosts: p.known_hosts.clone(),
                        accept_new: p.ssh_accept_new,
                    }
                } else {
                    HostKeys::Ignore
                };
                let remote = Remote {
                    user,
                    address,
                    port,
                    private_key: p.private_key.clone(),
                    host_keys,
                    multiplexing: p.ssh_connection_multiplexing,
                    ssh_args: Vec::new(),
                    rsync_path: become_rsync_path(ctx, p.rsync_path.as_deref()),
                };
                (Some(remote), Runner::Delegate)
            }
            None => {
                let local = var(ctx, &["ansible_connection"]).as_deref() == Some("local");
                // A relative controller path is found as copy finds its src (role files/, playbook dir).
                if pull {
                    dest = controller_dest(ctx, &dest);
                } else {
                    src = controller_src(ctx, &src)?;
                }
                if local {
                    (None, Runner::Controller)
                } else {
                    let address = var(
                        ctx,
                        &["ansible_host", "ansible_ssh_host", "inventory_hostname"],
                    )
                    .ok_or("the host has no address (ansible_host or inventory_hostname)")?;
                    let port = match p.dest_port {
                        Some(port) => Some(
                            u16::try_from(port)
                                .map_err(|_| format!("dest_port {port} is not a port number"))?,
                        ),
                        None => port_of(
                            var(ctx, &["ansible_port", "ansible_ssh_port"]),
                            "ansible_port",
                        )?,
                    };
                    let user = p
                        .ssh_user
                        .clone()
                        .or_else(|| var(ctx, &["ansible_user", "ansible_ssh_user"]))
                        .filter(|_| p.set_remote_user);
                    let private_key = p.private_key.clone().or_else(|| {
                        var(
                            ctx,
                            &["ansible_ssh_private_key_file", "ansible_private_key_file"],
                        )
                    });
                    let verify = p.verify_host.unwrap_or(!self.synchronize);
                    let host_keys = if verify {
                        HostKeys::Verify {
                            known_hosts: p.known_hosts.clone(),
                            accept_new: p.ssh_accept_new,
                        }
                    } else {
                        HostKeys::Ignore
                    };
                    let mut ssh_args = Vec::new();
                    if p.use_ssh_args {
                        for name in [
                            "ansible_ssh_args",
                            "ansible_ssh_common_args",
                            "ansible_ssh_extra_args",
                        ] {
                            if let Some(text) = var(ctx, &[name]) {
                                ssh_args.extend(crate::util::shlex_split(&text)?);
                            }
                        }
                    }
                    let remote = Remote {
                        user,
                        address,
                        port,
                        private_key: private_key.map(|k| expand_home(&k)),
                        host_keys,
                        multiplexing: p.ssh_connection_multiplexing,
                        ssh_args,
                        rsync_path: become_rsync_path(ctx, p.rsync_path.as_deref()),
                    };
                    (Some(remote), Runner::Controller)
                }
            }
        };
        let rsync = match runner {
            Runner::Controller => {
                var(ctx, &["ansible_rsync_path"]).unwrap_or_else(|| "rsync".into())
            }
            Runner::Host | Runner::Delegate => "rsync".into(),
        };
        let invocation = Invocation {
            rsync,
            synchronize: self.synchronize,
            src,
            dest,
            remote,
            direction: if pull {
                Direction::FromRemote
            } else {
                Direction::ToRemote
            },
            dry_run: ctx.check_mode,
            archive: p.archive,
            checksum: p.checksum,
            compress: p.compress,
            delete: p.delete,
            existing_only: p.existing_only,
            dirs: p.dirs,
            copy_links: p.copy_links,
            recursive: p.recursive,
            links: p.links,
            perms: p.perms,
            times: p.times,
            owner: p.owner,
            group: p.group,
            partial: p.partial,
            inplace: p.inplace,
            delay_updates: p.delay_updates,
            timeout: p.rsync_timeout,
            include: p.include.clone().unwrap_or_default(),
            exclude: p.exclude.clone().unwrap_or_default(),
            rsync_opts: p.rsync_opts.clone().unwrap_or_default(),
        };
        Ok((invocation, runner))
    }
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

/// A push source on the controller: absolute as given, relative found in the role's files/ or the playbook
/// folder. The trailing slash (copy the content, not the folder) is kept.
fn controller_src(ctx: &ModuleContext<'_>, src: &str) -> Result<String, String> {
    if Path::new(src).is_absolute() || ctx.search_path.is_empty() {
        return Ok(src.to_string());
    }
    let trimmed = src.trim_end_matches('/');
    let slash = if trimmed.len() < src.len() { "/" } else { "" };
    let found = crate::file_support::find_controller_file(ctx.search_path, "files", trimmed)
        .map_err(|f| f.into_result().msg.unwrap_or_default())?;
    Ok(format!("{}{slash}", found.display()))
}

/// A pull destination on the controller: relative paths are relative to the playbook folder, as Ansible's
/// synchronize makes them (the last search path entry is the playbook's own folder).
fn controller_dest(ctx: &ModuleContext<'_>, dest: &str) -> String {
    match ctx.search_path.last() {
        Some(dir) if !Path::new(dest).is_absolute() => {
            let trimmed = dest.trim_end_matches('/');
            let slash = if trimmed.len() < dest.len() { "/" } else { "" };
            format!("{}{slash}", dir.join(trimmed).display())
        }
        _ => dest.to_string(),
    }
}

async fn run_on_controller(
    argv: &[String],
    ctx: &ModuleContext<'_>,
) -> Result<(i32, String, String), String> {
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .envs(ctx.environment.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null());
    let output = command
        .output()
        .await
        .map_err(|e| format!("could not run {}: {e}", argv[0]))?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// A built rsync command, ready to run.
pub struct Prepared {
    argv: Vec<String>,
    cmd: String,
    runner: Runner,
    dest: String,
}

async fn run_prepared(prepared: &Prepared, ctx: &ModuleContext<'_>) -> ModuleResult {
    let ran = match prepared.runner {
        Runner::Controller => run_on_controller(&prepared.argv, ctx).await,
        Runner::Host | Runner::Delegate => {
            let mut request = CommandRequest::argv(prepared.argv.clone());
            request.env = ctx.environment.clone();
            if matches!(prepared.runner, Runner::Host) {
                request.become_ = ctx.become_.clone();
            }
            match ctx.host.run(&request).await {
                Ok(out) => Ok((
                    out.rc,
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )),
                Err(e) => {
                    let mut result = ModuleResult::from_connection_error(&e);
                    result.values.insert("cmd".into(), json!(prepared.cmd));
                    return result;
                }
            }
        }
    };
    match ran {
        Ok((rc, stdout, stderr)) => outcome(&prepared.cmd, rc, &stdout, &stderr, &prepared.dest),
        Err(msg) => {
            let mut result = ModuleResult::failed(msg);
            result.values.insert("cmd".into(), json!(prepared.cmd));
            result
        }
    }
}

#[async_trait]
impl Module for Rsync {
    type Params = Params;
    type Change = Prepared;

    fn doc(&self) -> &'static ModuleDoc {
        if self.synchronize {
            &DOC_SYNCHRONIZE
        } else {
            &DOC
        }
    }

    /// Builds the command. Only rsync itself knows what would change, so check mode runs it here with
    /// --dry-run (the invocation carries that flag) and reports its itemized output; a real run is left to
    /// apply.
    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Prepared> {
        let (invocation, runner) = match self.invocation(p, ctx) {
            Ok(found) => found,
            Err(msg) => return Plan::Done(ModuleResult::failed(msg)),
        };
        let argv = match invocation.argv() {
            Ok(argv) => argv,
            Err(msg) => return Plan::Done(ModuleResult::failed(msg)),
        };
        let prepared = Prepared {
            cmd: command_line(&argv),
            argv,
            runner,
            dest: invocation.dest.clone(),
        };
        let mut warnings = Vec::new();
        if invocation.rsync_opts.iter().any(String::is_empty) {
            warnings.push(
                "The empty string is present in rsync_opts which will cause rsync to transfer the current \
                 working directory. If this is intended, use \".\" instead to get rid of this warning. If \
                 this is unintended, check for empty string(s) in the template used to create rsync_opts."
                    .to_string(),
            );
        }
        if ctx.check_mode {
            let mut result = run_prepared(&prepared, ctx).await;
            result.warnings.extend(warnings);
            return Plan::Done(result);
        }
        let mut preview = ModuleResult::ok();
        preview.warnings = warnings;
        Plan::Change {
            preview,
            change: prepared,
        }
    }

    async fn apply(
        &self,
        _p: &Params,
        prepared: Prepared,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        let mut result = run_prepared(&prepared, ctx).await;
        result.warnings = preview.warnings;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meanings_cover_the_usual_failures() {
        assert_eq!(exit_meaning(23), "Partial transfer due to error");
        assert_eq!(exit_meaning(12), "Error in rsync protocol data stream");
        assert_eq!(exit_meaning(255), "The ssh connection failed");
    }
}
