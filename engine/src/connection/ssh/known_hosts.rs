//! Host key verification with OpenSSH's known_hosts semantics.
//!
//! russh's own check only knows exact and hashed host names in `~/.ssh/known_hosts`, misreads marker lines
//! as host names and reports a change when *any* same-type line differs, so ply matches keys itself:
//!
//! - files: the user's `~/.ssh/known_hosts` and `known_hosts2`, the system `/etc/ssh/ssh_known_hosts` and
//!   `ssh_known_hosts2` ([`default_files`]); a missing file is simply empty;
//! - host fields: comma lists of patterns with `*`/`?` wildcards and `!negation` (a matching negation
//!   excludes the line), `[host]:port` for ports other than 22, hashed `|1|salt|hash` names (HMAC-SHA1 of
//!   the looked-up name keyed with the salt), all case-insensitive;
//! - markers: `@revoked` keys are refused whatever the policy; `@cert-authority` lines are skipped with a
//!   note, since ply does not verify host certificates;
//! - verdicts ([`Verdict`]): a line with the offered key is a match even if other lines for the host differ;
//!   only a same-type key that differs, with no match anywhere, is a change.
//!
//! Keys are passed as algorithm name + base64 blob (as known_hosts holds them), so this module does not
//! depend on the SSH library's key types.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What to do with a host key that is not known to match: OpenSSH's `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Only known keys (`yes`; also `ask`, since ply never prompts). Ansible's `host_key_checking = True`.
    #[default]
    Strict,
    /// Trust and record unknown hosts on first use; a changed key still fails (`accept-new`).
    AcceptNew,
    /// Connect anyway, warning about a changed key (`no`/`off`). Revoked keys still fail.
    Off,
}

impl FromStr for HostKeyPolicy {
    type Err = String;

    /// The values of `StrictHostKeyChecking` and of Ansible's boolean `host_key_checking`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" | "yes" | "true" | "on" | "1" | "ask" => Ok(HostKeyPolicy::Strict),
            "accept-new" | "accept_new" => Ok(HostKeyPolicy::AcceptNew),
            "off" | "no" | "false" | "0" => Ok(HostKeyPolicy::Off),
            other => Err(format!(
                "unknown host key checking policy {other:?}: expected yes/strict, accept-new or no/off"
            )),
        }
    }
}

/// A known_hosts line holding a key for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub file: PathBuf,
    /// 1-based
    pub line: usize,
    pub key_type: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it
    pub fingerprint: String,
}

impl fmt::Display for KnownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} at {}:{}",
            self.key_type,
            self.fingerprint,
            self.file.display(),
            self.line
        )
    }
}

/// The outcome of looking up an offered host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line for the host holds exactly this key.
    Match,
    /// No line for the host holds a key of this type.
    Unknown,
    /// Lines for the host hold other keys of this type, none this one.
    Changed { known: Vec<KnownKey> },
    /// The key is marked `@revoked` for the host.
    Revoked { file: PathBuf, line: usize },
}

/// What the caller should do after [`decide`] let the connection go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learn {
    /// Nothing: the key is known, or checking is off and it is merely unknown.
    Nothing,
    /// Record the key ([`learn`]) in the user's known_hosts: accept-new met a new host.
    Append,
    /// Checking is off and the key changed: go on, but show this warning.
    Warn(String),
}

/// The offered key, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    pub host: &'a str,
    pub port: u16,
    pub key_type: &'a str,
    pub key_base64: &'a str,
}

impl Offered<'_> {
    /// `host` for port 22, `[host]:port` otherwise: the name known_hosts and `ssh-keygen -R` use.
    pub fn lookup_name(&self) -> String {
        lookup_name(self.host, self.port)
    }
}

/// Why a host key was refused. Display gives the whole story: host, offered and known fingerprints with
/// file:line, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyError {
    /// Strict checking and no key of this type known.
    #[error("{}", unknown_message(.host, *.port, .key_type, .fingerprint))]
    Unknown {
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
    },
    /// A different key of this type is known (strict or accept-new).
    #[error("{}", changed_message(.host, *.port, .key_type, .fingerprint, .known))]
    Changed {
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
        known: Vec<KnownKey>,
    },
    /// The key is `@revoked`.
    #[error("{}", revoked_message(.host, *.port, .key_type, .fingerprint, .file, *.line))]
    Revoked {
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
}

fn unknown_message(host: &str, port: u16, key_type: &str, fingerprint: &str) -> String {
    let name = lookup_name(host, port);
    let port_option = if port == 22 {
        String::new()
    } else {
        format!("-p {port} ")
    };
    format!(
        "host key verification failed for {name}: no {key_type} host key is known for it and host key \
         checking is strict.\n\
         The host offered {key_type} key {fingerprint}.\n\
         If that is the host's key, add it to your known_hosts:\n  \
         ssh-keyscan {port_option}-t {key_type} {host} >> ~/.ssh/known_hosts\n\
         or let ply learn new hosts on first connect with `StrictHostKeyChecking accept-new` in \
         ~/.ssh/config (ANSIBLE_HOST_KEY_CHECKING=False turns checking off)."
    )
}

fn changed_message(
    host: &str,
    port: u16,
    key_type: &str,
    fingerprint: &str,
    known: &[KnownKey],
) -> String {
    let name = lookup_name(host, port);
    let mut text = format!(
        "REMOTE HOST IDENTIFICATION HAS CHANGED for {name}!\n\
         The host offered {key_type} key {fingerprint}, but known_hosts holds another key for it:\n"
    );
    for key in known {
        text.push_str(&format!("  {key}\n"));
    }
    text.push_str(
        "Someone could be eavesdropping on you (a man-in-the-middle attack), or the host was reinstalled \
         and got a new key.\n\
         If you know the change is expected, remove the old key and connect again:\n",
    );
    let mut files: Vec<&Path> = known.iter().map(|k| k.file.as_path()).collect();
    files.dedup();
    for file in files {
        text.push_str(&format!(
            "  ssh-keygen -R '{name}' -f {}\n",
            shell_word(&file.display().to_string())
        ));
    }
    text.push_str(
        "(a line matching by wildcard is not removed by ssh-keygen -R: edit it at the file:line above)",
    );
    text
}

fn revoked_message(
    host: &str,
    port: u16,
    key_type: &str,
    fingerprint: &str,
    file: &Path,
    line: usize,
) -> String {
    format!(
        "host key for {} is REVOKED: the offered {key_type} key {fingerprint} is marked @revoked at {}:{line}.\n\
         ply refuses revoked keys whatever the host key checking policy; the host needs a new key (or \
         remove that line if the revocation is a mistake).",
        lookup_name(host, port),
        file.display()
    )
}

/// Quotes a path for the shell only when it needs it.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=~".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Turns a [`Verdict`] into go / no-go under `policy`.
pub fn decide(
    policy: HostKeyPolicy,
    verdict: &Verdict,
    offered: &Offered<'_>,
) -> Result<Learn, HostKeyError> {
    let fingerprint = fingerprint_sha256(offered.key_base64);
    let key_type = key_family_name(offered.key_type).to_string();
    match (verdict, policy) {
        (Verdict::Match, _) => Ok(Learn::Nothing),
        (Verdict::Revoked { file, line }, _) => Err(HostKeyError::Revoked {
            host: offered.host.into(),
            port: offered.port,
            key_type,
            fingerprint,
            file: file.clone(),
            line: *line,
        }),
        (Verdict::Unknown, HostKeyPolicy::Strict) => Err(HostKeyError::Unknown {
            host: offered.host.into(),
            port: offered.port,
            key_type,
            fingerprint,
        }),
        (Verdict::Unknown, HostKeyPolicy::AcceptNew) => Ok(Learn::Append),
        // Ansible users who turn checking off expect silence for new hosts (ssh would add them to
        // known_hosts; ply leaves the user's files alone instead).
        (Verdict::Unknown, HostKeyPolicy::Off) => Ok(Learn::Nothing),
        (Verdict::Changed { known }, HostKeyPolicy::Strict | HostKeyPolicy::AcceptNew) => {
            Err(HostKeyError::Changed {
                host: offered.host.into(),
                port: offered.port,
                key_type,
                fingerprint,
                known: known.clone(),
            })
        }
        (Verdict::Changed { known }, HostKeyPolicy::Off) => Ok(Learn::Warn(format!(
            "the {key_type} host key of {} has changed (now {fingerprint}; known: {}); connecting anyway \
             because host key checking is off",
            offered.lookup_name(),
            known
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `SHA256:<unpadded base64 of the SHA-256 of the key blob>`, like `ssh-keygen -l`.
pub fn fingerprint_sha256(key_base64: &str) -> String {
    match STANDARD.decode(key_base64.trim()) {
        Ok(blob) => format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&blob))),
        Err(_) => "SHA256:(not a base64 key)".into(),
    }
}

/// `host` for port 22, `[host]:port` otherwise.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The files OpenSSH reads by default: the user's, then the system's.
pub fn default_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        let ssh = PathBuf::from(home).join(".ssh");
        files.push(ssh.join("known_hosts"));
        files.push(ssh.join("known_hosts2"));
    }
    files.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    files.push(PathBuf::from("/etc/ssh/ssh_known_hosts2"));
    files
}

/// The file ply records new keys in: `~/.ssh/known_hosts`.
pub fn default_user_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".ssh").join("known_hosts"))
}

/// A known_hosts file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read known_hosts file {}: {source}", path.display())]
pub struct KnownHostsError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
}

#[derive(Debug, Clone)]
enum HostField {
    /// `|1|salt|hash`
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// Comma-separated patterns, lowercased, each with its negation flag.
    Patterns(Vec<(bool, String)>),
}

impl HostField {
    fn parse(field: &str) -> Option<HostField> {
        if let Some(rest) = field.strip_prefix("|1|") {
            let (salt, hash) = rest.split_once('|')?;
            return Some(HostField::Hashed {
                salt: STANDARD.decode(salt).ok()?,
                hash: STANDARD.decode(hash).ok()?,
            });
        }
        Some(HostField::Patterns(
            field
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| match p.strip_prefix('!') {
                    Some(negated) => (true, negated.to_ascii_lowercase()),
                    None => (false, p.to_ascii_lowercase()),
                })
                .collect(),
        ))
    }

    /// `name` is the lowercased lookup name (`host` or `[host]:port`).
    fn matches(&self, name: &str) -> bool {
        match self {
            HostField::Hashed { salt, hash } => hash_host(salt, name) == *hash,
            HostField::Patterns(patterns) => match_pattern_list(patterns, name),
        }
    }
}

/// A comma list's verdict: some positive pattern matches and no negated one does.
pub fn match_pattern_list(patterns: &[(bool, String)], text: &str) -> bool {
    let mut positive = false;
    for (negated, pattern) in patterns {
        if wildcard_match(pattern, text) {
            if *negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// OpenSSH's glob: `*` any run of characters, `?` one character, everything else literal. Callers
/// lowercase both sides for case-insensitive matching.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Greedy with one backtrack point (the last `*`): linear enough for host names.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// HMAC-SHA1 of `name` keyed with `salt`: the hash of a `|1|` host field.
fn hash_host(salt: &[u8], name: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).expect("HMAC takes any key length");
    mac.update(name.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A `|1|salt|hash` host field for `name` with a fresh random salt (what `ssh-keygen -H` writes).
pub fn hashed_host_field(name: &str) -> String {
    let salt: Vec<u8> = (0..20).map(|_| fastrand::u8(..)).collect();
    hashed_host_field_with_salt(name, &salt)
}

/// [`hashed_host_field`] with a given salt, for reproducible output.
pub fn hashed_host_field_with_salt(name: &str, salt: &[u8]) -> String {
    let hash = hash_host(salt, &name.to_ascii_lowercase());
    format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash))
}

#[derive(Debug, Clone)]
struct Entry {
    file: PathBuf,
    line: usize,
    marker: Marker,
    hosts: HostField,
    key_type: String,
    blob: Vec<u8>,
    key_base64: String,
}

/// The parsed lines of some known_hosts files.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    notes: Vec<String>,
}

impl KnownHosts {
    /// Reads `files` in order; a missing file counts as empty (as in OpenSSH).
    pub fn load(files: &[PathBuf]) -> Result<KnownHosts, KnownHostsError> {
        let mut known = KnownHosts::default();
        for file in files {
            match fs::read(file) {
                Ok(bytes) => known.add_text(&String::from_utf8_lossy(&bytes), file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(KnownHostsError {
                        path: file.clone(),
                        source,
                    })
                }
            }
        }
        Ok(known)
    }

    /// Parses `text` as if it were the content of `file`.
    pub fn parse(text: &str, file: &Path) -> KnownHosts {
        let mut known = KnownHosts::default();
        known.add_text(text, file);
        known
    }

    /// What was skipped and why (`@cert-authority` lines, malformed lines), as `file:line: ...`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn add_text(&mut self, text: &str, file: &Path) {
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let marker = match first {
                "@revoked" => Marker::Revoked,
                "@cert-authority" => {
                    self.notes.push(format!(
                        "{}:{line}: @cert-authority line ignored (ply does not verify host certificates)",
                        file.display()
                    ));
                    continue;
                }
                m if m.starts_with('@') => {
                    self.notes.push(format!(
                        "{}:{line}: unknown marker {m} (line ignored)",
                        file.display()
                    ));
                    continue;
                }
                _ => Marker::None,
            };
            if marker != Marker::None {
                first = fields.next().unwrap_or_default();
            }
            let (Some(key_type), Some(key_base64)) = (fields.next(), fields.next()) else {
                self.notes.push(format!(
                    "{}:{line}: not a `hosts key-type key` line (ignored)",
                    file.display()
                ));
                continue;
            };
            let (Some(hosts), Ok(blob)) = (HostField::parse(first), STANDARD.decode(key_base64))
            else {
                self.notes.push(format!(
                    "{}:{line}: malformed host field or key (ignored)",
                    file.display()
                ));
                continue;
            };
            self.entries.push(Entry {
                file: file.to_path_buf(),
                line,
                marker,
                hosts,
                key_type: key_type.to_string(),
                blob,
                key_base64: key_base64.to_string(),
            });
        }
    }

    /// Looks up the key `host:port` offered. `key_type` is the key's algorithm name (`ssh-ed25519`,
    /// `ecdsa-sha2-nistp256`, `ssh-rsa`; RSA signature names `rsa-sha2-*` count as `ssh-rsa`).
    pub fn check(&self, host: &str, port: u16, key_type: &str, key_base64: &str) -> Verdict {
        let name = lookup_name(host, port).to_ascii_lowercase();
        let offered_blob = STANDARD.decode(key_base64.trim()).ok();
        let family = key_family(key_type);
        let for_host = self.entries.iter().filter(|e| e.hosts.matches(&name));
        let mut matched = false;
        let mut changed = Vec::new();
        for entry in for_host {
            let same_key = offered_blob.as_deref() == Some(entry.blob.as_slice());
            match entry.marker {
                // A revoked key is refused even if another line also lists it as good.
                Marker::Revoked if same_key => {
                    return Verdict::Revoked {
                        file: entry.file.clone(),
                        line: entry.line,
                    }
                }
                Marker::Revoked => {}
                Marker::None if same_key => matched = true,
                Marker::None if key_family(&entry.key_type) == family => {
                    changed.push(KnownKey {
                        file: entry.file.clone(),
                        line: entry.line,
                        key_type: entry.key_type.clone(),
                        fingerprint: fingerprint_sha256(&entry.key_base64),
                    });
                }
                Marker::None => {}
            }
        }
        if matched {
            Verdict::Match
        } else if changed.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::Changed { known: changed }
        }
    }

    /// [`check`](Self::check), [`decide`], and for accept-new [`learn`] into `learn_file`: the whole
    /// verification of one offered key. Returns a warning to show, if any.
    pub fn verify(
        &self,
        policy: HostKeyPolicy,
        offered: &Offered<'_>,
        learn_file: &Path,
    ) -> Result<Option<String>, VerifyError> {
        let verdict = self.check(
            offered.host,
            offered.port,
            offered.key_type,
            offered.key_base64,
        );
        match decide(policy, &verdict, offered)? {
            Learn::Nothing => Ok(None),
            Learn::Warn(warning) => Ok(Some(warning)),
            Learn::Append => {
                learn(
                    learn_file,
                    offered.host,
                    offered.port,
                    offered.key_type,
                    offered.key_base64,
                )
                .map_err(|source| VerifyError::Learn {
                    path: learn_file.to_path_buf(),
                    source,
                })?;
                Ok(Some(format!(
                    "Permanently added '{}' ({}) to the list of known hosts ({}).",
                    offered.lookup_name(),
                    key_family_name(offered.key_type),
                    learn_file.display()
                )))
            }
        }
    }
}

/// Why [`KnownHosts::verify`] refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    #[error("could not record the new host key in {}: {source}", path.display())]
    Learn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Key types that compete for "changed": all RSA signature names are one RSA key; all ECDSA curves are one
/// type to OpenSSH (a known nistp256 key and an offered nistp384 key is a change, as in ssh).
fn key_family(key_type: &str) -> &str {
    match key_type {
        "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512" => "rsa",
        t if t.starts_with("ecdsa-sha2-") => "ecdsa",
        t => t,
    }
}

/// The key type name known_hosts uses for an algorithm (RSA signature names → `ssh-rsa`).
pub(crate) fn key_family_name(key_type: &str) -> &str {
    match key_type {
        "rsa-sha2-256" | "rsa-sha2-512" => "ssh-rsa",
        t => t,
    }
}

/// Appends `host:port`'s key to `file` in plain form (`[host]:port` for non-22 ports).
pub fn learn(
    file: &Path,
    host: &str,
    port: u16,
    key_type: &str,
    key_base64: &str,
) -> io::Result<()> {
    append_key(file, host, port, key_type, key_base64, false)
}

/// [`learn`] with a hashed host field (`HashKnownHosts yes`), for users who ask for it.
pub fn learn_hashed(
    file: &Path,
    host: &str,
    port: u16,
    key_type: &str,
    key_base64: &str,
) -> io::Result<()> {
    append_key(file, host, port, key_type, key_base64, true)
}

fn append_key(
    file: &Path,
    host: &str,
    port: u16,
    key_type: &str,
    key_base64: &str,
    hashed: bool,
) -> io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            // ~/.ssh must not be readable by others, or ssh complains about it later.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let mut handle = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)?;
    // Parallel first connects (forks, several ply processes) append to the same file: the lock makes the
    // "already there?" check and the write one step, so each key is recorded once and lines never interleave.
    handle.lock()?;
    let mut existing = String::new();
    File::read_to_string(&mut handle, &mut existing)?;
    let known = KnownHosts::parse(&existing, file);
    if known.check(host, port, key_type, key_base64) == Verdict::Match {
        return Ok(());
    }
    let name = lookup_name(host, port);
    let host_field = if hashed {
        hashed_host_field(&name)
    } else {
        name
    };
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let line = format!(
        "{separator}{host_field} {} {}\n",
        key_family_name(key_type),
        key_base64.trim()
    );
    handle.write_all(line.as_bytes())?;
    handle.flush()
}
