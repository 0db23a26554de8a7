//! A throwaway OpenSSH server for the SSH tests: the machine's own `/usr/sbin/sshd` on 127.0.0.1, with its
//! own host keys, client keys, `authorized_keys` and config in a temp dir, stopped when dropped.
//!
//! ```no_run
//! use ply_tests::sshd::{KeyKind, Sshd};
//! let mut sshd = Sshd::start();
//! let inventory = sshd.aliases(20); // host1..host20, all this daemon
//! let key = sshd.key(KeyKind::Ed25519);
//! let known_hosts = sshd.known_hosts(); // "[127.0.0.1]:PORT ssh-ed25519 AAAA...\n" and the other two
//! sshd.kill(); // the host dies mid-play
//! ```
//!
//! The test users `plyssh` (NOPASSWD sudo) and `plysshpw` (sudo asks for its password) are created once per
//! machine, with random passwords ([`user_password`], [`sudo_pw_password`]) generated once per boot and kept
//! in the root-only [`PASSWORD_FILE`], so parallel test processes agree. `tests/run` removes the users, their
//! sudoers drop-in and that file when it ends (`tests/cleanup-users`, which can also be run by hand). sshd
//! refuses to run unprivileged with password auth and other users, so this needs root: the tests that use
//! it are built only with `--features system-tests` (tests/run, which CI runs as root, turns it on).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The normal test user: password login allowed, `sudo` without a password.
pub const USER: &str = "plyssh";
/// The test user whose `sudo` asks for its password (and never caches it).
pub const SUDO_PW_USER: &str = "plysshpw";
/// The test users' passwords, `USER:PASSWORD` lines (chpasswd's input), mode 0600 in a 0700 directory.
/// On /run, so a reboot forgets them; `tests/cleanup-users` removes the file with the users.
pub const PASSWORD_FILE: &str = "/run/ply-tests/passwords";
/// The passphrase of [`KeyKind::Ed25519Encrypted`].
pub const KEY_PASSPHRASE: &str = "ply key passphrase";
/// Where the daemon listens.
pub const ADDRESS: &str = "127.0.0.1";

const SSHD: &str = "/usr/sbin/sshd";
/// Serializes machine setup (users, sudoers, key cache) across parallel test processes.
const SETUP_LOCK: &str = "/tmp/ply-sshd-setup.lock";
/// Keys generated once per machine and copied into every daemon's dir: RSA-3072 generation costs ~1 s,
/// too much per test. Bump the suffix when the set of keys changes.
const KEY_CACHE: &str = "/tmp/ply-sshd-keys-v1";
const SUDOERS_DROP_IN: &str = "/etc/sudoers.d/ply-sshd-tests";
/// Every test process holds a shared lock on this file for its lifetime, so `tests/cleanup-users` (which
/// needs the exclusive lock) never removes the users while a test still uses them.
const IN_USE_LOCK: &str = "/tmp/ply-sshd-in-use.lock";
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The client keys every daemon authorizes for both test users (and root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Ed25519,
    /// ecdsa-sha2-nistp256
    Ecdsa,
    /// RSA 3072
    Rsa,
    /// ed25519 protected with [`KEY_PASSPHRASE`]
    Ed25519Encrypted,
}

impl KeyKind {
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Ed25519,
        KeyKind::Ecdsa,
        KeyKind::Rsa,
        KeyKind::Ed25519Encrypted,
    ];

    fn file_name(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "id_ed25519",
            KeyKind::Ecdsa => "id_ecdsa",
            KeyKind::Rsa => "id_rsa",
            KeyKind::Ed25519Encrypted => "id_ed25519_encrypted",
        }
    }

    fn keygen_args(self) -> &'static [&'static str] {
        match self {
            KeyKind::Ed25519 => &["-t", "ed25519", "-N", ""],
            KeyKind::Ecdsa => &["-t", "ecdsa", "-b", "256", "-N", ""],
            KeyKind::Rsa => &["-t", "rsa", "-b", "3072", "-N", ""],
            KeyKind::Ed25519Encrypted => &["-t", "ed25519", "-N", KEY_PASSPHRASE],
        }
    }

    /// The passphrase ssh asks for, if any.
    pub fn passphrase(self) -> Option<&'static str> {
        (self == KeyKind::Ed25519Encrypted).then_some(KEY_PASSPHRASE)
    }
}

/// The daemon's host key types, in the order known_hosts lines are written.
const HOST_KEYS: [(&str, &[&str]); 3] = [
    ("ssh_host_ed25519_key", &["-t", "ed25519", "-N", ""]),
    (
        "ssh_host_ecdsa_key",
        &["-t", "ecdsa", "-b", "256", "-N", ""],
    ),
    ("ssh_host_rsa_key", &["-t", "rsa", "-b", "3072", "-N", ""]),
];

/// One of the daemon's host public keys, as a known_hosts line holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPublicKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256` or `ssh-rsa`
    pub algorithm: String,
    /// The key blob in base64, as in `.pub` files.
    pub base64: String,
}

/// Options for [`Sshd`]; `Sshd::builder().max_sessions(2).start()`.
#[derive(Debug, Clone)]
pub struct SshdBuilder {
    max_sessions: u32,
    password_authentication: bool,
    fresh_keys: bool,
    log_level: String,
    extra: Vec<String>,
}

impl Default for SshdBuilder {
    fn default() -> Self {
        SshdBuilder {
            max_sessions: 10,
            password_authentication: true,
            fresh_keys: false,
            log_level: "INFO".into(),
            extra: Vec::new(),
        }
    }
}

impl SshdBuilder {
    /// `MaxSessions` (channels per connection); OpenSSH's default 10.
    pub fn max_sessions(mut self, n: u32) -> Self {
        self.max_sessions = n;
        self
    }

    /// `PasswordAuthentication` (default yes).
    pub fn password_authentication(mut self, yes: bool) -> Self {
        self.password_authentication = yes;
        self
    }

    /// Generate host and client keys for this daemon alone instead of copying the machine's cached set
    /// (slower: RSA generation takes about a second).
    pub fn fresh_keys(mut self) -> Self {
        self.fresh_keys = true;
        self
    }

    /// `LogLevel` (default INFO); `DEBUG1`..`DEBUG3` to see why a client was refused, via [`Sshd::log`].
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.into();
        self
    }

    /// A raw sshd_config line, e.g. `ClientAliveInterval 1`. Written before the harness's own settings
    /// because in sshd_config the first value of a keyword wins, so this overrides them.
    pub fn config_line(mut self, line: &str) -> Self {
        self.extra.push(line.into());
        self
    }

    pub fn start(self) -> Sshd {
        prepare_machine();
        let dir = tempfile::Builder::new()
            .prefix("ply-sshd-")
            .tempdir()
            .expect("temp dir for sshd");
        // sshd reads authorized_keys as the logging-in user, so the dir must be traversable by them.
        set_mode(dir.path(), 0o755);
        if self.fresh_keys {
            generate_keys(dir.path());
        } else {
            for name in key_file_names() {
                for file in [name.clone(), format!("{name}.pub")] {
                    fs::copy(Path::new(KEY_CACHE).join(&file), dir.path().join(&file))
                        .unwrap_or_else(|e| panic!("copy cached key {file}: {e}"));
                }
            }
        }
        let sshd = Sshd {
            log: dir.path().join("sshd.log"),
            config: dir.path().join("sshd_config"),
            dir,
            port: 0,
            child: None,
            options: self,
        };
        sshd.write_authorized_keys();
        let mut sshd = sshd;
        sshd.spawn_on_free_port();
        sshd
    }
}

/// A running sshd; dropping it kills the daemon and every session it forked.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    options: SshdBuilder,
}

impl Sshd {
    /// A daemon with the default options, ready to accept connections.
    pub fn start() -> Sshd {
        Sshd::builder().start()
    }

    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Always `127.0.0.1`.
    pub fn address(&self) -> &'static str {
        ADDRESS
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The normal test user, `plyssh`.
    pub fn user(&self) -> &'static str {
        USER
    }

    /// The login (and sudo) password of [`USER`] or [`SUDO_PW_USER`].
    pub fn password(&self, user: &str) -> &'static str {
        match user {
            USER => user_password(),
            SUDO_PW_USER => sudo_pw_password(),
            other => panic!("{other} is not a test user"),
        }
    }

    /// The private key file of `kind` (its public key is beside it, `.pub`).
    pub fn key(&self, kind: KeyKind) -> PathBuf {
        self.dir.path().join(kind.file_name())
    }

    /// The daemon's temp dir, for scratch files that should vanish with it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The host public keys, read from the daemon's key files (so they follow [`Sshd::rotate_host_keys`]).
    pub fn host_public_keys(&self) -> Vec<HostPublicKey> {
        HOST_KEYS
            .iter()
            .map(|(name, _)| {
                let path = self.dir.path().join(format!("{name}.pub"));
                let text = fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                let mut fields = text.split_whitespace();
                HostPublicKey {
                    algorithm: fields.next().expect("key type").to_string(),
                    base64: fields.next().expect("key blob").to_string(),
                }
            })
            .collect()
    }

    /// The `[127.0.0.1]:PORT` host field OpenSSH uses for this daemon in known_hosts.
    pub fn known_hosts_host(&self) -> String {
        format!("[{ADDRESS}]:{}", self.port)
    }

    /// known_hosts content for all host keys: `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, one line each.
    pub fn known_hosts(&self) -> String {
        let host = self.known_hosts_host();
        self.host_public_keys()
            .iter()
            .fold(String::new(), |mut out, key| {
                let _ = writeln!(out, "{host} {} {}", key.algorithm, key.base64);
                out
            })
    }

    /// The known_hosts line of one host key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    pub fn known_hosts_line(&self, algorithm: &str) -> String {
        let key = self
            .host_public_keys()
            .into_iter()
            .find(|k| k.algorithm == algorithm)
            .unwrap_or_else(|| panic!("no {algorithm} host key"));
        format!(
            "{} {} {}",
            self.known_hosts_host(),
            key.algorithm,
            key.base64
        )
    }

    /// A file holding [`Sshd::known_hosts`] (kept current across [`Sshd::rotate_host_keys`]).
    pub fn known_hosts_file(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    fn write_known_hosts_file(&self) {
        write_atomically(&self.known_hosts_file(), &self.known_hosts(), 0o644);
    }

    /// `n` inventory lines `hostK ansible_host=127.0.0.1 ansible_port=PORT ansible_user=plyssh
    /// ansible_ssh_private_key_file=KEY` (K = 1..=n), all reaching this daemon, for many-host tests.
    pub fn aliases(&self, n: usize) -> String {
        let key = self.key(KeyKind::Ed25519);
        (1..=n).fold(String::new(), |mut out, k| {
            let _ = writeln!(
                out,
                "host{k} ansible_host={ADDRESS} ansible_port={} ansible_user={USER} \
                 ansible_ssh_private_key_file={}",
                self.port,
                key.display()
            );
            out
        })
    }

    /// The system `ssh` client aimed at this daemon as `user`, with no user config, strict host key
    /// checking against [`Sshd::known_hosts_file`], and no prompts: with `key` it authenticates with that key
    /// (an encrypted key's passphrase comes from an askpass script); without, with the user's password.
    /// Add the remote command with `.arg(...)`.
    pub fn ssh_command(&self, user: &str, key: Option<KeyKind>) -> Command {
        self.ssh_command_with_known_hosts(user, key, &self.known_hosts_file())
    }

    /// [`Sshd::ssh_command`] checking the host key against `known_hosts` instead. (ssh keeps the first
    /// value of an option, so a later `-o UserKnownHostsFile=` could not override it.)
    pub fn ssh_command_with_known_hosts(
        &self,
        user: &str,
        key: Option<KeyKind>,
        known_hosts: &Path,
    ) -> Command {
        let mut command = Command::new("ssh");
        command
            .args(["-F", "/dev/null", "-p", &self.port.to_string()])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ConnectTimeout=5",
                "-o",
                "LogLevel=ERROR",
            ])
            .stdin(Stdio::null());
        let secret = match key {
            Some(kind) => {
                command.arg("-i").arg(self.key(kind)).args([
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "PasswordAuthentication=no",
                ]);
                kind.passphrase()
            }
            None => {
                command.args([
                    "-o",
                    "PubkeyAuthentication=no",
                    "-o",
                    "PreferredAuthentications=password",
                    "-o",
                    "NumberOfPasswordPrompts=1",
                ]);
                Some(self.password(user))
            }
        };
        match secret {
            // ssh reads secrets only from a terminal or an askpass program; force the latter.
            Some(secret) => {
                command
                    .env("SSH_ASKPASS", self.askpass(secret))
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env_remove("DISPLAY");
            }
            None => {
                command.args(["-o", "BatchMode=yes"]);
            }
        }
        command.arg(format!("{user}@{ADDRESS}"));
        command
    }

    /// An askpass script printing `secret`.
    fn askpass(&self, secret: &str) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("askpass-{}", secret.replace(' ', "_")));
        // Parallel ssh commands may write it at once; the rename keeps every reader's view whole.
        write_atomically(
            &path,
            &format!("#!/bin/sh\nprintf '%s\\n' '{secret}'\n"),
            0o755,
        );
        path
    }

    /// An INI inventory line reaching this sshd as its test user with the ed25519 key.
    pub fn inventory_line(&self, name: &str) -> String {
        format!(
            "{name} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
            self.address(),
            self.port(),
            self.user(),
            self.key(KeyKind::Ed25519).display()
        )
    }

    /// Everything sshd logged (it runs with `-e`), across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the daemon process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILLs the daemon and every session process it forked: open connections drop, new ones are
    /// refused. For "host dies mid-play" tests; [`Sshd::restart`] brings it back on the same port.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        kill_tree(child.id());
        let _ = child.wait();
    }

    /// SIGSTOPs the daemon and every session process it forked: connections stay open but nothing
    /// answers, as with a host that froze or a network that silently drops packets.
    pub fn freeze(&self) {
        if let Some(child) = &self.child {
            stop_tree(child.id());
        }
    }

    /// Undoes [`Sshd::freeze`].
    pub fn thaw(&self) {
        if let Some(child) = &self.child {
            let mut pids = vec![child.id()];
            let children = children_by_parent();
            let mut i = 0;
            while i < pids.len() {
                pids.extend(children.get(&pids[i]).into_iter().flatten().copied());
                i += 1;
            }
            for pid in pids {
                signal(pid, rustix::process::Signal::CONT);
            }
        }
    }

    /// Starts the daemon again on the same port, with the same keys (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.spawn() {
            panic!("sshd did not restart on port {}: {why}", self.port);
        }
    }

    /// New host keys of the same types, then a restart: clients holding the old known_hosts lines must now
    /// see a changed key.
    pub fn rotate_host_keys(&mut self) {
        for (name, args) in HOST_KEYS {
            let path = self.dir.path().join(name);
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(path.with_extension("pub"));
            keygen(&path, args).wait_ok();
        }
        self.write_known_hosts_file();
        self.restart();
    }

    fn write_authorized_keys(&self) {
        let dir = self.dir.path().join("authorized_keys");
        fs::create_dir_all(&dir).expect("authorized_keys dir");
        set_mode(&dir, 0o755);
        let keys: String = KeyKind::ALL
            .iter()
            .map(|kind| {
                let path = self.dir.path().join(format!("{}.pub", kind.file_name()));
                fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            })
            .collect();
        for user in [USER, SUDO_PW_USER, "root"] {
            let path = dir.join(user);
            fs::write(&path, &keys).expect("write authorized_keys");
            set_mode(&path, 0o644);
        }
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let o = &self.options;
        let mut config = String::new();
        for line in &o.extra {
            let _ = writeln!(config, "{line}");
        }
        let _ = writeln!(config, "ListenAddress {ADDRESS}:{}", self.port);
        for (name, _) in HOST_KEYS {
            let _ = writeln!(config, "HostKey {}", dir.join(name).display());
        }
        let _ = writeln!(
            config,
            "AuthorizedKeysFile {}/%u",
            dir.join("authorized_keys").display()
        );
        let _ = writeln!(config, "MaxSessions {}", o.max_sessions);
        let yes_no = if o.password_authentication {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(config, "PasswordAuthentication {yes_no}");
        let _ = writeln!(config, "LogLevel {}", o.log_level);
        config.push_str(
            "PidFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PermitRootLogin yes\n\
             PubkeyAuthentication yes\n\
             KbdInteractiveAuthentication no\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             AcceptEnv LANG LC_* PLY_*\n\
             Subsystem sftp internal-sftp\n",
        );
        // Many-host tests open 20+ connections at once; the default MaxStartups 10:30:100 would drop some
        // of them while they authenticate.
        config.push_str("MaxStartups 200\n");
        fs::write(&self.config, config).expect("write sshd_config");
    }

    /// Picks a free port and starts; another process can take the port between our probe and sshd's bind,
    /// so a bind failure is retried on a new port.
    fn spawn_on_free_port(&mut self) {
        let mut last = String::new();
        for _ in 0..5 {
            self.port = free_port();
            self.write_known_hosts_file();
            match self.spawn() {
                Ok(()) => return,
                Err(why) if why.contains("Address already in use") => last = why,
                Err(why) => panic!("sshd did not start: {why}"),
            }
        }
        panic!("sshd found no free port: {last}");
    }

    /// Starts sshd on `self.port` and waits until it listens, or returns why it did not.
    fn spawn(&mut self) -> Result<(), String> {
        self.write_config();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open sshd log");
        let offset = log.seek(SeekFrom::End(0)).expect("log offset");
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            // Its own process group, so a Ctrl-C meant for the test runner does not reach it first.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {SSHD}: {e}"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let new_log = read_from(&self.log, offset);
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("sshd exited ({status}):\n{new_log}"));
            }
            // "Server listening" proves that *our* sshd bound the port (the TCP probe alone could reach
            // another process's listener); the probe proves it accepts.
            if new_log.contains("Server listening on")
                && TcpStream::connect_timeout(&self.socket_addr(), Duration::from_millis(200))
                    .is_ok()
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                kill_tree(child.id());
                let _ = child.wait();
                return Err(format!(
                    "sshd did not listen on port {} within {READY_TIMEOUT:?}:\n{new_log}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
    }
    text
}

fn write_atomically(path: &Path, content: &str, mode: u32) {
    let temporary = path.with_file_name(format!(
        ".{}.{}-{:?}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        std::thread::current().id()
    ));
    fs::write(&temporary, content).unwrap_or_else(|e| panic!("write {}: {e}", temporary.display()));
    set_mode(&temporary, mode);
    fs::rename(&temporary, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Kills `root` and all its descendants. sshd's session processes call setsid(), so a process-group kill
/// would miss them and leave connections open. Each round stops (SIGSTOP) what it finds so nothing can
/// fork unseen, until no new descendant appears; then everything gets SIGKILL.
fn kill_tree(root: u32) {
    for pid in stop_tree(root) {
        signal(pid, rustix::process::Signal::KILL);
    }
}

/// Stops `root` and, as they are found, every descendant (stopped first, so none forks away); returns
/// them all.
fn stop_tree(root: u32) -> BTreeSet<u32> {
    let mut seen = BTreeSet::from([root]);
    signal(root, rustix::process::Signal::STOP);
    loop {
        let children = children_by_parent();
        let new: Vec<u32> = seen
            .iter()
            .flat_map(|p| children.get(p).into_iter().flatten().copied())
            .filter(|c| !seen.contains(c))
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            signal(pid, rustix::process::Signal::STOP);
            seen.insert(pid);
        }
    }
    seen
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // The process may already be gone; that is fine.
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// parent pid → child pids, from /proc.
fn children_by_parent() -> HashMap<u32, Vec<u32>> {
    let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return map;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map
}

trait WaitOk {
    fn wait_ok(self);
}

impl WaitOk for Child {
    fn wait_ok(mut self) {
        let status = self.wait().expect("wait for ssh-keygen");
        assert!(status.success(), "ssh-keygen failed: {status}");
    }
}

fn keygen(path: &Path, args: &[&str]) -> Child {
    Command::new("ssh-keygen")
        .arg("-q")
        .args(args)
        .args(["-C", "ply-sshd-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .spawn()
        .expect("ssh-keygen runs (openssh-client)")
}

fn key_file_names() -> Vec<String> {
    HOST_KEYS
        .iter()
        .map(|(name, _)| (*name).to_string())
        .chain(KeyKind::ALL.iter().map(|k| k.file_name().to_string()))
        .collect()
}

/// Generates every host and client key into `dir`, in parallel (two RSA keys dominate).
fn generate_keys(dir: &Path) {
    let children: Vec<Child> = HOST_KEYS
        .iter()
        .map(|(name, args)| keygen(&dir.join(name), args))
        .chain(
            KeyKind::ALL
                .iter()
                .map(|k| keygen(&dir.join(k.file_name()), k.keygen_args())),
        )
        .collect();
    for child in children {
        child.wait_ok();
    }
}

/// `plyssh`'s login password (random, generated once per boot; see [`PASSWORD_FILE`]). Sets up the
/// machine first, so the user exists with this password when it returns.
pub fn user_password() -> &'static str {
    &prepare_machine().user
}

/// `plysshpw`'s login and sudo password (random, generated once per boot; see [`PASSWORD_FILE`]).
pub fn sudo_pw_password() -> &'static str {
    &prepare_machine().sudo_pw
}

/// The test users' passwords for this machine run.
#[derive(Debug)]
struct Passwords {
    user: String,
    sudo_pw: String,
}

/// Once per test process: the privilege separation dir, the test users with this boot's passwords, their
/// sudoers rules and the key cache, under a machine-wide lock so parallel test binaries do not race
/// useradd or half-written files.
fn prepare_machine() -> &'static Passwords {
    static DONE: OnceLock<Passwords> = OnceLock::new();
    DONE.get_or_init(|| {
        let lock = File::create(SETUP_LOCK).expect("create setup lock file");
        lock.lock().expect("lock setup lock file");
        hold_in_use_lock();
        // sshd refuses to start without it; it is normally created by the service unit, which never ran.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        set_mode(Path::new("/run/sshd"), 0o755);
        for user in [USER, SUDO_PW_USER] {
            ensure_user(user);
        }
        let passwords = load_or_create_passwords();
        // Always set: the users may be older than the password file (an older harness, a reboot).
        run_with_stdin(
            Command::new("chpasswd"),
            &format!(
                "{USER}:{}\n{SUDO_PW_USER}:{}\n",
                passwords.user, passwords.sudo_pw
            ),
        );
        ensure_sudoers();
        ensure_key_cache();
        drop(lock);
        passwords
    })
}

/// A shared lock on [`IN_USE_LOCK`], held until the process exits.
fn hold_in_use_lock() {
    static HELD: OnceLock<File> = OnceLock::new();
    HELD.get_or_init(|| {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(IN_USE_LOCK)
            .expect("open the in-use lock file");
        file.lock_shared().expect("share the in-use lock");
        file
    });
}

/// This boot's passwords from [`PASSWORD_FILE`], or new random ones written there (the caller holds the
/// setup lock, so parallel processes agree).
fn load_or_create_passwords() -> Passwords {
    let read = fs::read_to_string(PASSWORD_FILE).ok().and_then(|text| {
        let find = |user: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(user)?.strip_prefix(':'))
                .filter(|password| password.len() >= 16)
                .map(str::to_string)
        };
        Some(Passwords {
            user: find(USER)?,
            sudo_pw: find(SUDO_PW_USER)?,
        })
    });
    if let Some(passwords) = read {
        return passwords;
    }
    let passwords = Passwords {
        user: random_password(),
        sudo_pw: random_password(),
    };
    let file = Path::new(PASSWORD_FILE);
    let dir = file.parent().expect("password file has a parent");
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    set_mode(dir, 0o700);
    let temporary = dir.join(format!(".passwords.{}", std::process::id()));
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .unwrap_or_else(|e| panic!("create {}: {e}", temporary.display()));
        write!(
            out,
            "{USER}:{}\n{SUDO_PW_USER}:{}\n",
            passwords.user, passwords.sudo_pw
        )
        .and_then(|()| out.sync_all())
        .unwrap_or_else(|e| panic!("write {}: {e}", temporary.display()));
    }
    set_mode(&temporary, 0o600);
    fs::rename(&temporary, file).unwrap_or_else(|e| panic!("install {PASSWORD_FILE}: {e}"));
    passwords
}

/// 24 random letters and digits (about 143 bits) from the kernel's generator.
fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut password = String::with_capacity(24);
    let mut urandom = File::open("/dev/urandom").expect("open /dev/urandom");
    let mut byte = [0u8; 1];
    while password.len() < 24 {
        urandom.read_exact(&mut byte).expect("read /dev/urandom");
        // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
        if byte[0] < 248 {
            password.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    password
}

fn user_exists(user: &str) -> bool {
    Command::new("getent")
        .args(["passwd", user])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_user(user: &str) {
    if user_exists(user) {
        return;
    }
    let status = Command::new("useradd")
        .args(["--create-home", "--shell", "/bin/bash", user])
        .status()
        .expect("useradd runs");
    // Someone outside our lock may have created it meanwhile; only a still-missing user is an error.
    assert!(
        status.success() || user_exists(user),
        "useradd {user} failed: {status}"
    );
}

fn run_with_stdin(mut command: Command, input: &str) {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{command:?} failed: {status}");
}

fn ensure_sudoers() {
    // timestamp_timeout=0: plysshpw's sudo asks every time, so "sudo -n fails" holds after a password
    // sudo too. lecture=never: the first-use lecture would otherwise precede the prompt on stderr.
    let wanted = format!(
        "# Written by ply's test harness (tests/src/sshd.rs).\n\
         {USER} ALL=(ALL:ALL) NOPASSWD: ALL\n\
         {SUDO_PW_USER} ALL=(ALL:ALL) ALL\n\
         Defaults:{SUDO_PW_USER} timestamp_timeout=0, lecture=never\n"
    );
    if fs::read_to_string(SUDOERS_DROP_IN).is_ok_and(|have| have == wanted) {
        return;
    }
    fs::create_dir_all("/etc/sudoers.d").expect("create /etc/sudoers.d");
    // sudo skips files whose name holds a '.', so the temporary is never read half-written.
    let temporary = format!("{SUDOERS_DROP_IN}.tmp");
    fs::write(&temporary, wanted).expect("write sudoers drop-in");
    set_mode(Path::new(&temporary), 0o440);
    if let Ok(status) = Command::new("visudo")
        .args(["-c", "-q", "-f", &temporary])
        .status()
    {
        assert!(status.success(), "visudo rejects {temporary}");
    }
    fs::rename(&temporary, SUDOERS_DROP_IN).expect("install sudoers drop-in");
}

fn ensure_key_cache() {
    let cache = Path::new(KEY_CACHE);
    if key_file_names()
        .iter()
        .all(|name| cache.join(format!("{name}.pub")).is_file())
    {
        return;
    }
    let building = PathBuf::from(format!("{KEY_CACHE}.building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    fs::create_dir_all(&building).expect("key cache dir");
    generate_keys(&building);
    let _ = fs::remove_dir_all(cache);
    fs::rename(&building, cache).expect("install key cache");
}

/// True when this machine can run the harness (sshd installed, running as root); tests that need a daemon
/// may use it to explain a skip instead of failing obscurely.
pub fn available() -> io::Result<()> {
    if !Path::new(SSHD).is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no /usr/sbin/sshd (apt-get install openssh-server)",
        ));
    }
    if !rustix::process::geteuid().is_root() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the sshd harness needs root",
        ));
    }
    Ok(())
}
