//! The OpenSSH client configuration (`~/.ssh/config`) for the settings ply's SSH connection uses.
//!
//! Parsing follows ssh_config(5) and OpenSSH's readconf.c where it matters for a client that only reads:
//!
//! - keywords are case-insensitive and take `Keyword value`, `Keyword=value` or `Keyword = value`;
//!   arguments may be double-quoted, and a word starting with `#` ends the line;
//! - `Host` lines hold several patterns (`*`, `?`, `!negation`); lines before the first `Host` apply to
//!   every host; `Match all` applies to every host, and other `Match` blocks are skipped (ply cannot
//!   evaluate `exec` and friends, and a wrong guess would send settings to the wrong host);
//! - the **first** value obtained for a keyword wins, so specific `Host` blocks go before `Host *`;
//!   `IdentityFile` accumulates instead;
//! - `Include` takes globs, relative to `~/.ssh`, and its lines apply only where the `Include` line does;
//! - unknown keywords are ignored: ply reads a subset, and OpenSSH itself is the judge of the rest.
//!
//! Values are expanded on [`SshConfig::resolve`]: `~/`, and the `%` tokens `%%`, `%d` (home), `%u` (local
//! user), `%i` (local uid), `%h` (the remote host name), `%n` (the name as given), `%p` (port), `%r`
//! (remote user).

use super::known_hosts::{wildcard_match, HostKeyPolicy};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// OpenSSH's limit on nested `Include`s; it also stops include loops.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A `ProxyJump` hop: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl JumpHost {
    /// `[user@]host[:port]`, `ssh://[user@]host[:port]`, IPv6 as `[::1]:22`.
    pub fn parse(text: &str) -> Option<JumpHost> {
        let text = text.strip_prefix("ssh://").unwrap_or(text);
        let (user, rest) = match text.rsplit_once('@') {
            Some((user, rest)) => (Some(user.to_string()), rest),
            None => (None, text),
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port.parse().ok()?),
                None if after.is_empty() => None,
                None => return None,
            };
            (host, port)
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port.parse().ok()?)),
                None => (rest, None),
            }
        };
        if host.is_empty() || user.as_deref() == Some("") {
            return None;
        }
        Some(JumpHost {
            user,
            host: host.to_string(),
            port,
        })
    }
}

/// The settings of one host. `None` means "not set in the config": the caller applies its own
/// defaults and lets inventory variables (which become `-o` options in Ansible) win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, `%h` expanded to the name asked for.
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Every `IdentityFile`, in order, `~` and tokens expanded.
    pub identity_files: Vec<PathBuf>,
    pub identities_only: Option<bool>,
    /// `ProxyJump` hops in order (first hop first); empty for none or `ProxyJump none`.
    pub proxy_jump: Vec<JumpHost>,
    /// `ProxyCommand` as written (not run by ply); `ProxyJump` and `ProxyCommand` exclude each other,
    /// and the first one set wins.
    pub proxy_command: Option<String>,
    /// `UserKnownHostsFile` (several files on one line); `Some(vec![])` for `none`.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
    pub strict_host_key_checking: Option<HostKeyPolicy>,
    pub hash_known_hosts: Option<bool>,
    pub connect_timeout: Option<Duration>,
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<u32>,
    /// `file:line:` notes about values that did not parse and were skipped (the next one for the same
    /// keyword may apply instead).
    pub notes: Vec<String>,
}

impl HostConfig {
    /// The host to connect to: `HostName`, or the name asked for.
    pub fn host_name_or<'a>(&'a self, name: &'a str) -> &'a str {
        self.host_name.as_deref().unwrap_or(name)
    }
}

/// A config file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read ssh config {}: {source}", path.display())]
pub struct SshConfigError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// `Host` patterns (lowercased), each with its negation flag.
    Host(Vec<(bool, String)>),
    /// A `Match` block ply does not evaluate.
    Never,
}

impl Condition {
    fn holds(&self, name: &str) -> bool {
        match self {
            Condition::Host(patterns) => super::known_hosts::match_pattern_list(patterns, name),
            Condition::Never => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Directive {
    /// Every condition must hold: the block's own and those of the blocks that `Include`d it.
    conditions: Vec<Condition>,
    /// lowercased
    keyword: String,
    args: Vec<String>,
    file: PathBuf,
    line: usize,
}

/// A parsed `~/.ssh/config` and what it includes.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    directives: Vec<Directive>,
    notes: Vec<String>,
    home: PathBuf,
    local_user: String,
}

impl SshConfig {
    /// Reads `path` (usually `~/.ssh/config`, see [`SshConfig::default_path`]); a missing file is an
    /// empty config. `~` is `$HOME`, the local user `$USER`.
    pub fn load(path: &Path) -> Result<SshConfig, SshConfigError> {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "root".into());
        SshConfig::load_in(path, &home, &user)
    }

    /// [`SshConfig::load`] with an explicit home directory (for `~`, `%d` and relative `Include`s) and
    /// local user name (`%u`).
    pub fn load_in(
        path: &Path,
        home: &Path,
        local_user: &str,
    ) -> Result<SshConfig, SshConfigError> {
        let mut config = SshConfig {
            home: home.to_path_buf(),
            local_user: local_user.to_string(),
            ..SshConfig::default()
        };
        match fs::read_to_string(path) {
            Ok(text) => config.add_text(&text, path, &[], 0)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SshConfigError {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        Ok(config)
    }

    /// `~/.ssh/config`.
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".ssh").join("config"))
    }

    /// What was skipped and why, as `file:line: ...` (`Match` blocks, bad values, include loops).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn add_text(
        &mut self,
        text: &str,
        file: &Path,
        outer: &[Condition],
        depth: usize,
    ) -> Result<(), SshConfigError> {
        // Lines before the first Host/Match of a file apply wherever the file applies.
        let mut conditions = outer.to_vec();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let Some((keyword, args)) = split_line(raw) else {
                continue;
            };
            match keyword.as_str() {
                "host" => {
                    let patterns = args
                        .iter()
                        .map(|p| match p.strip_prefix('!') {
                            Some(negated) => (true, negated.to_ascii_lowercase()),
                            None => (false, p.to_ascii_lowercase()),
                        })
                        .collect();
                    conditions = outer.to_vec();
                    conditions.push(Condition::Host(patterns));
                }
                "match" => {
                    conditions = outer.to_vec();
                    let all = args.len() == 1 && args[0].eq_ignore_ascii_case("all");
                    if !all {
                        self.notes.push(format!(
                            "{}:{line}: Match {} is not evaluated by ply; its settings are skipped",
                            file.display(),
                            args.join(" ")
                        ));
                        conditions.push(Condition::Never);
                    }
                }
                "include" => {
                    for pattern in &args {
                        self.include(pattern, file, line, &conditions, depth)?;
                    }
                }
                _ => self.directives.push(Directive {
                    conditions: conditions.clone(),
                    keyword,
                    args,
                    file: file.to_path_buf(),
                    line,
                }),
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        pattern: &str,
        file: &Path,
        line: usize,
        conditions: &[Condition],
        depth: usize,
    ) -> Result<(), SshConfigError> {
        if depth + 1 > MAX_INCLUDE_DEPTH {
            self.notes.push(format!(
                "{}:{line}: Include nested deeper than {MAX_INCLUDE_DEPTH} levels (an include loop?); skipped",
                file.display()
            ));
            return Ok(());
        }
        let expanded = expand_tilde(pattern, &self.home);
        // A user config's relative includes live in ~/.ssh (ssh_config(5)), not beside the file.
        let anchored = if Path::new(&expanded).is_absolute() {
            PathBuf::from(expanded)
        } else {
            self.home.join(".ssh").join(expanded)
        };
        for path in glob(&anchored) {
            if path.is_dir() {
                continue;
            }
            match fs::read_to_string(&path) {
                Ok(text) => self.add_text(&text, &path, conditions, depth + 1)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(SshConfigError { path, source }),
            }
        }
        Ok(())
    }

    /// The settings for `host` (the name as given: an inventory host's `ansible_host`, or its name).
    pub fn resolve(&self, host: &str) -> HostConfig {
        let name = host.to_ascii_lowercase();
        let mut config = HostConfig::default();
        let mut raw_identity_files: Vec<String> = Vec::new();
        let mut raw_user_known_hosts: Option<Vec<String>> = None;
        let mut raw_global_known_hosts: Option<Vec<String>> = None;
        let mut proxy_set = false;
        for directive in &self.directives {
            if !directive.conditions.iter().all(|c| c.holds(&name)) {
                continue;
            }
            let args = &directive.args;
            let Some(first) = args.first() else {
                continue;
            };
            let applied = match directive.keyword.as_str() {
                "hostname" => set_first(&mut config.host_name, || {
                    Some(expand_percent_h(first, host))
                }),
                "user" => set_first(&mut config.user, || Some(first.clone())),
                "port" => set_first(&mut config.port, || first.parse().ok()),
                "identityfile" => {
                    raw_identity_files.push(first.clone());
                    Ok(())
                }
                "identitiesonly" => set_first(&mut config.identities_only, || yes_no(first)),
                "proxyjump" if !proxy_set => {
                    if first.eq_ignore_ascii_case("none") {
                        proxy_set = true;
                        Ok(())
                    } else {
                        let hops: Option<Vec<JumpHost>> = first
                            .split(',')
                            .map(|hop| JumpHost::parse(hop.trim()))
                            .collect();
                        hops.map(|hops| {
                            proxy_set = true;
                            config.proxy_jump = hops;
                        })
                        .ok_or(())
                    }
                }
                "proxycommand" if !proxy_set => {
                    proxy_set = true;
                    if !first.eq_ignore_ascii_case("none") {
                        config.proxy_command = Some(args.join(" "));
                    }
                    Ok(())
                }
                "userknownhostsfile" => set_first(&mut raw_user_known_hosts, || Some(args.clone())),
                "globalknownhostsfile" => {
                    set_first(&mut raw_global_known_hosts, || Some(args.clone()))
                }
                "stricthostkeychecking" => {
                    set_first(&mut config.strict_host_key_checking, || first.parse().ok())
                }
                "hashknownhosts" => set_first(&mut config.hash_known_hosts, || yes_no(first)),
                "connecttimeout" => set_first(&mut config.connect_timeout, || parse_time(first)),
                "serveraliveinterval" => {
                    set_first(&mut config.server_alive_interval, || parse_time(first))
                }
                "serveralivecountmax" => {
                    set_first(&mut config.server_alive_count_max, || first.parse().ok())
                }
                _ => Ok(()),
            };
            // Like ssh, name the bad line; unlike ssh (which refuses to run), go on without the value.
            if applied.is_err() {
                config.notes.push(format!(
                    "{}:{}: bad value {:?} for {} (ignored)",
                    directive.file.display(),
                    directive.line,
                    args.join(" "),
                    directive.keyword
                ));
            }
        }
        // Tokens see the final values (%h is the HostName, %r the User), so expand last.
        let host_name = config.host_name_or(host).to_string();
        let remote_user = config
            .user
            .clone()
            .unwrap_or_else(|| self.local_user.clone());
        let tokens = Tokens {
            home: &self.home,
            local_user: &self.local_user,
            given: host,
            host_name: &host_name,
            port: config.port.unwrap_or(22),
            remote_user: &remote_user,
        };
        config.identity_files = raw_identity_files
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case("none"))
            .map(|f| PathBuf::from(tokens.expand_path(f)))
            .collect();
        let files = |raw: Option<Vec<String>>| {
            raw.map(|files| {
                files
                    .iter()
                    .filter(|f| !f.eq_ignore_ascii_case("none"))
                    .map(|f| PathBuf::from(tokens.expand_path(f)))
                    .collect()
            })
        };
        config.user_known_hosts_files = files(raw_user_known_hosts);
        config.global_known_hosts_files = files(raw_global_known_hosts);
        config
    }
}

/// OpenSSH's rule: the first value obtained wins. A value that does not parse counts as not set, so a
/// later valid one can still apply.
fn set_first<T>(slot: &mut Option<T>, value: impl FnOnce() -> Option<T>) -> Result<(), ()> {
    if slot.is_none() {
        *slot = value();
        if slot.is_none() {
            return Err(());
        }
    }
    Ok(())
}

fn yes_no(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// sshd/ssh time format: `30`, `30s`, `5m`, `1h30m`, `1d`, `1w` (a bare number is seconds).
fn parse_time(text: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        total = total.checked_add(number.parse().ok()?)?;
    } else if text.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// One config line as (lowercased keyword, arguments), or None for blank and comment lines.
fn split_line(raw: &str) -> Option<(String, Vec<String>)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // The keyword ends at whitespace or '='; one '=' (with optional spaces) may separate it from the value.
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    Some((keyword, split_args(rest)))
}

/// Whitespace-separated words, `"quoted words"` kept whole; a word starting with `#` ends the line.
fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                quoted = !quoted;
                chars.next();
                continue;
            }
            if c.is_whitespace() && !quoted {
                break;
            }
            word.push(c);
            chars.next();
        }
        args.push(word);
    }
    args
}

/// `~` or `~/...` → the home directory.
fn expand_tilde(text: &str, home: &Path) -> String {
    if text == "~" {
        home.display().to_string()
    } else if let Some(rest) = text.strip_prefix("~/") {
        home.join(rest).display().to_string()
    } else {
        text.to_string()
    }
}

/// `HostName` knows only `%h` (the name asked for) and `%%`.
fn expand_percent_h(text: &str, given: &str) -> String {
    expand_tokens(text, |c| match c {
        'h' => Some(given.to_string()),
        _ => None,
    })
}

struct Tokens<'a> {
    home: &'a Path,
    local_user: &'a str,
    given: &'a str,
    host_name: &'a str,
    port: u16,
    remote_user: &'a str,
}

impl Tokens<'_> {
    fn expand_path(&self, text: &str) -> String {
        let expanded = expand_tokens(text, |c| match c {
            'd' => Some(self.home.display().to_string()),
            'u' => Some(self.local_user.to_string()),
            'i' => Some(rustix::process::getuid().as_raw().to_string()),
            'h' => Some(self.host_name.to_string()),
            'n' => Some(self.given.to_string()),
            'p' => Some(self.port.to_string()),
            'r' => Some(self.remote_user.to_string()),
            _ => None,
        });
        expand_tilde(&expanded, self.home)
    }
}

/// Replaces `%c` with `value(c)` and `%%` with `%`; unknown tokens stay as written.
fn expand_tokens(text: &str, value: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(token) => match value(token) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('%');
                    out.push(token);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

/// glob(3) for `*` and `?` in any path component, sorted; hidden names match only a pattern that
/// starts with '.'.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("/")];
    if !pattern.is_absolute() {
        found = vec![PathBuf::new()];
    }
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if matches!(component, std::path::Component::RootDir) {
            continue;
        }
        if !part.contains(['*', '?']) {
            found = found.into_iter().map(|p| p.join(&*part)).collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                .filter(|n| wildcard_match(&part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        found = next;
    }
    found.into_iter().filter(|p| p.exists()).collect()
}
