//! The SSH transport under [`super::SshConnection`]: TCP (or a jump host's tunnel), key exchange, the host
//! key check, authentication in OpenSSH's order, and the bookkeeping that turns a dead connection into
//! `Unreachable` for every later operation.

use super::super::ConnectionError;
use super::hostkey;
use super::SshTarget;
use russh::client::{self, DisconnectReason, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{MethodKind, MethodSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Channels in flight per connection: OpenSSH's MaxSessions defaults to 10, and a channel beyond it is
/// refused outright, so stay under it with room for the server's own bookkeeping.
pub const MAX_CHANNELS: usize = 8;

/// An error from the handler: russh's own, or the host key verdict that made ply refuse the server.
#[derive(Debug)]
pub(crate) enum HandlerError {
    Russh(russh::Error),
    HostKey(String),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Russh(e)
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandlerError::Russh(e) => write!(f, "{e}"),
            HandlerError::HostKey(m) => f.write_str(m),
        }
    }
}

/// russh's callbacks: the host key check and the record of why the connection ended.
pub(crate) struct Client {
    host: String,
    address: String,
    port: u16,
    policy: hostkey::Policy,
    known_hosts_files: Vec<PathBuf>,
    lost: Arc<Mutex<Option<String>>>,
    notices: Arc<Mutex<Vec<String>>>,
}

impl client::Handler for Client {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            // ply does not advertise host certificates, so a server never presents one; judge the key
            // inside all the same rather than trusting a signature nobody checked.
            PublicKeyOrCertificate::Certificate(cert) => {
                russh::keys::PublicKey::from(cert.public_key().clone())
            }
        };
        let notice = hostkey::verify(
            &self.host,
            &self.address,
            self.port,
            &key,
            self.policy,
            &self.known_hosts_files,
        )
        .map_err(HandlerError::HostKey)?;
        if let Some(notice) = notice {
            self.notices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(notice);
        }
        Ok(true)
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let text = match &reason {
            DisconnectReason::ReceivedDisconnect(info) if info.message.is_empty() => {
                format!("the server disconnected ({:?})", info.reason_code)
            }
            DisconnectReason::ReceivedDisconnect(info) => {
                format!("the server disconnected: {}", info.message)
            }
            DisconnectReason::Error(e) => describe_russh(e),
        };
        if let Ok(mut slot) = self.lost.lock() {
            slot.get_or_insert(text);
        }
        match reason {
            DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            DisconnectReason::Error(e) => Err(e),
        }
    }
}

fn describe_russh(e: &HandlerError) -> String {
    match e {
        HandlerError::Russh(russh::Error::IO(io)) => io.to_string(),
        HandlerError::Russh(russh::Error::KeepaliveTimeout) => {
            "no answer to keepalives (ServerAliveInterval × ServerAliveCountMax): the host or the network is down".to_string()
        }
        HandlerError::Russh(russh::Error::Disconnect) => "the connection closed".to_string(),
        other => other.to_string(),
    }
}

/// A live, authenticated connection: the russh handle plus what ply needs around it.
pub(crate) struct Session {
    host: String,
    handle: Handle<Client>,
    lost: Arc<Mutex<Option<String>>>,
    slots: Arc<Semaphore>,
    /// The jump host's connection carrying this one's TCP stream; kept alive as long as this one.
    _jump: Option<Box<Session>>,
    /// The ProxyCommand process carrying the stream (killed when the session goes).
    _proxy: Option<tokio::process::Child>,
}

impl Session {
    pub(crate) fn handle(&self) -> &Handle<Client> {
        &self.handle
    }

    /// Why the connection is gone, when it is.
    pub(crate) fn lost_reason(&self) -> Option<String> {
        if !self.handle.is_closed() {
            return None;
        }
        let recorded = self.lost.lock().ok().and_then(|slot| slot.clone());
        Some(recorded.unwrap_or_else(|| "the connection closed".to_string()))
    }

    /// `Unreachable` once the connection is gone, for this and every later operation.
    pub(crate) fn check_alive(&self) -> Result<(), ConnectionError> {
        match self.lost_reason() {
            Some(reason) => Err(ConnectionError::Unreachable(format!(
                "connection to {} lost: {reason}",
                self.host
            ))),
            None => Ok(()),
        }
    }

    /// A channel that ended without an exit status may be the first sign of a dead connection; russh
    /// ends the channels a moment before it marks the handle closed, so give it that moment.
    pub(crate) async fn settle_closed(&self) {
        for _ in 0..20 {
            if self.handle.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn channel_slot(&self) -> Result<OwnedSemaphorePermit, ConnectionError> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ConnectionError::Other("the connection is shutting down".to_string()))
    }

    /// A channel-level failure, as `Unreachable` when the connection under it is gone.
    pub(crate) fn channel_error(&self, what: &str, e: russh::Error) -> ConnectionError {
        match self.lost_reason() {
            Some(reason) => {
                ConnectionError::Unreachable(format!("connection to {} lost: {reason}", self.host))
            }
            None => match e {
                russh::Error::SendError | russh::Error::Disconnect => {
                    ConnectionError::Unreachable(format!("connection to {} lost: {e}", self.host))
                }
                other => ConnectionError::Other(format!("{what} on {}: {other}", self.host)),
            },
        }
    }

    /// Says goodbye to the server (best effort).
    pub(crate) async fn disconnect(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The russh settings that matter for speed (see performance.md): `nodelay` (Nagle plus delayed ACKs
/// cost ~45 ms per command), an 8 MiB window with 64 KiB packets for copies, and keepalives so a dead
/// peer is noticed within ~45 s instead of at the next TCP timeout.
fn config(target: &SshTarget) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    // AES-GCM is about twice as fast as ChaCha20 where the CPU has AES instructions.
    if aes_accelerated() {
        let mut ciphers = preferred.cipher.to_vec();
        if let Some(at) = ciphers
            .iter()
            .position(|c| *c == russh::cipher::AES_256_GCM)
        {
            let gcm = ciphers.remove(at);
            ciphers.insert(0, gcm);
        }
        preferred.cipher = ciphers.into();
    }
    Arc::new(client::Config {
        nodelay: true,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 64 * 1024,
        keepalive_interval: Some(target.server_alive_interval),
        keepalive_max: target.server_alive_count_max as usize,
        inactivity_timeout: None,
        preferred,
        ..Default::default()
    })
}

#[cfg(target_arch = "x86_64")]
fn aes_accelerated() -> bool {
    std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
}

#[cfg(target_arch = "aarch64")]
fn aes_accelerated() -> bool {
    std::arch::is_aarch64_feature_detected!("aes")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn aes_accelerated() -> bool {
    false
}

type BoxedConnect<'a> = Pin<Box<dyn Future<Output = Result<Session, ConnectionError>> + Send + 'a>>;

/// Connects and authenticates, within the target's connect timeout (russh has none of its own).
pub(crate) fn connect(target: &SshTarget) -> BoxedConnect<'_> {
    Box::pin(async move {
        let where_ = format!("{}@{}:{}", target.user, target.address, target.port);
        match tokio::time::timeout(target.connect_timeout, connect_inner(target)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectionError::Unreachable(format!(
                "cannot connect to {} ({where_}): timed out after {}s",
                target.host,
                target.connect_timeout.as_secs_f64()
            ))),
        }
    })
}

async fn connect_inner(target: &SshTarget) -> Result<Session, ConnectionError> {
    let lost = Arc::new(Mutex::new(None));
    let handler = Client {
        host: target.host.clone(),
        address: target.address.clone(),
        port: target.port,
        policy: target.host_key_policy,
        known_hosts_files: target.known_hosts_files(),
        lost: lost.clone(),
        notices: target.notices.clone(),
    };
    let unreachable = |why: String| {
        ConnectionError::Unreachable(format!(
            "cannot connect to {} ({}:{}): {why}",
            target.host, target.address, target.port
        ))
    };
    let mut proxy = None;
    let (jump, handle) = match &target.proxy_jump {
        _ if target.proxy_command.is_some() => {
            let command = target.proxy_command.as_deref().unwrap_or_default();
            let (child, stream) = proxy_stream(command, target).map_err(&unreachable)?;
            proxy = Some(child);
            let handle = client::connect_stream(config(target), stream, handler)
                .await
                .map_err(|e| {
                    unreachable(format!("through ProxyCommand: {}", handshake_error(e)))
                })?;
            (None, handle)
        }
        Some(spec) if !spec.trim().is_empty() => {
            let jump_target = target.jump_target(spec)?;
            let jump = connect(&jump_target).await.map_err(|e| {
                unreachable(format!("through jump host {}: {}", jump_target.host, e))
            })?;
            let tunnel = jump
                .handle()
                .channel_open_direct_tcpip(
                    target.address.clone(),
                    target.port as u32,
                    "127.0.0.1",
                    0,
                )
                .await
                .map_err(|e| {
                    unreachable(format!(
                        "jump host {} could not open a tunnel: {e}",
                        jump_target.host
                    ))
                })?;
            let handle = client::connect_stream(config(target), tunnel.into_stream(), handler)
                .await
                .map_err(|e| unreachable(handshake_error(e)))?;
            (Some(Box::new(jump)), handle)
        }
        _ => {
            let stream = tokio::net::TcpStream::connect((target.address.as_str(), target.port))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let handle = client::connect_stream(config(target), stream, handler)
                .await
                .map_err(|e| unreachable(handshake_error(e)))?;
            (None, handle)
        }
    };
    let mut session = Session {
        host: target.host.clone(),
        handle,
        lost,
        slots: Arc::new(Semaphore::new(MAX_CHANNELS)),
        _jump: jump,
        _proxy: proxy,
    };
    authenticate(&mut session.handle, target)
        .await
        .map_err(|why| {
            ConnectionError::Unreachable(format!(
                "cannot log in to {} as {}: {why}",
                target.host, target.user
            ))
        })?;
    Ok(session)
}

/// Starts the ProxyCommand (`%h` address, `%p` port, `%r` user, `%n` inventory name, `%%` a `%`) and
/// joins its stdout and stdin into the stream SSH runs over.
fn proxy_stream(
    command: &str,
    target: &SshTarget,
) -> Result<
    (
        tokio::process::Child,
        tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
    ),
    String,
> {
    let mut expanded = String::new();
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => expanded.push_str(&target.address),
            Some('p') => expanded.push_str(&target.port.to_string()),
            Some('r') => expanded.push_str(&target.user),
            Some('n') => expanded.push_str(&target.host),
            Some('%') => expanded.push('%'),
            Some(other) => return Err(format!("ProxyCommand: unknown token %{other}")),
            None => return Err("ProxyCommand ends with a lone %".to_string()),
        }
    }
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&expanded)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start ProxyCommand {expanded:?}: {e}"))?;
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err("ProxyCommand has no stdin or stdout".to_string());
    };
    Ok((child, tokio::io::join(stdout, stdin)))
}

fn handshake_error(e: HandlerError) -> String {
    match e {
        HandlerError::HostKey(message) => message,
        HandlerError::Russh(russh::Error::Disconnect) => {
            "the server closed the connection during the handshake".to_string()
        }
        other => format!("SSH handshake failed: {}", describe_russh(&other)),
    }
}

/// Authenticates in OpenSSH's order: agent keys, identity files, then the password. Returns a message
/// naming everything tried when nothing worked.
async fn authenticate(handle: &mut Handle<Client>, target: &SshTarget) -> Result<(), String> {
    let user = target.user.as_str();
    let mut tried: Vec<String> = Vec::new();
    let mut allowed: Option<MethodSet> = None;
    let mut rsa_hash: Option<Option<HashAlg>> = None;
    let offers = |allowed: &Option<MethodSet>, kind: MethodKind| {
        allowed.as_ref().is_none_or(|m| m.contains(&kind))
    };

    if target.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match russh::keys::agent::client::AgentClient::connect_env().await {
            Ok(mut agent) => match agent.request_identities().await {
                Ok(identities) => {
                    for identity in identities {
                        let russh::keys::agent::AgentIdentity::PublicKey { key, comment } =
                            identity
                        else {
                            continue;
                        };
                        if !offers(&allowed, MethodKind::PublicKey) {
                            break;
                        }
                        let hash = if key.algorithm().is_rsa() {
                            rsa_hash_for(handle, &mut rsa_hash).await
                        } else {
                            None
                        };
                        tried.push(format!("agent key {comment}"));
                        match handle
                            .authenticate_publickey_with(user, key, hash, &mut agent)
                            .await
                        {
                            Ok(result) if result.success() => return Ok(()),
                            Ok(client::AuthResult::Failure {
                                remaining_methods, ..
                            }) => allowed = Some(remaining_methods),
                            Ok(_) => {}
                            Err(e) => tracing::debug!("ssh-agent could not sign: {e}"),
                        }
                    }
                }
                Err(e) => tracing::debug!("ssh-agent lists no keys: {e}"),
            },
            Err(e) => tracing::debug!("no ssh-agent: {e}"),
        }
    }

    let explicit = !target.identity_files.is_empty();
    let files = if explicit {
        target.identity_files.clone()
    } else {
        default_identity_files()
    };
    let mut key_problems: Vec<String> = Vec::new();
    for path in files {
        if !offers(&allowed, MethodKind::PublicKey) {
            break;
        }
        if !path.exists() {
            if explicit {
                key_problems.push(format!("{} does not exist", path.display()));
            }
            continue;
        }
        let key = match load_key(&path, target.key_passphrase.as_ref().map(|s| s.expose())) {
            Ok(key) => key,
            Err(problem) => {
                key_problems.push(problem);
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash_for(handle, &mut rsa_hash).await
        } else {
            None
        };
        tried.push(format!("key {}", path.display()));
        let result = handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| format!("the connection failed during authentication: {e}"))?;
        match result {
            client::AuthResult::Success => return Ok(()),
            client::AuthResult::Failure {
                remaining_methods, ..
            } => allowed = Some(remaining_methods),
        }
    }

    if let Some(password) = &target.password {
        if offers(&allowed, MethodKind::Password) {
            tried.push("password".to_string());
            let result = handle
                .authenticate_password(user, password.expose())
                .await
                .map_err(|e| format!("the connection failed during authentication: {e}"))?;
            if result.success() {
                return Ok(());
            }
        }
    }

    let mut message = if tried.is_empty() {
        "no credentials to offer (no usable key or password)".to_string()
    } else {
        format!("permission denied (tried {})", tried.join(", "))
    };
    if !key_problems.is_empty() {
        message.push_str(&format!("; unusable keys: {}", key_problems.join("; ")));
    }
    if let Some(methods) = &allowed {
        let names: Vec<&str> = methods.iter().map(<&str>::from).collect();
        message.push_str(&format!("; the server accepts: {}", names.join(",")));
    }
    Err(message)
}

/// The RSA signature hash the server takes (rsa-sha2-512, then -256; plain ssh-rsa only for servers that
/// name no extensions), asked once per connection because the question can wait up to a second.
async fn rsa_hash_for(
    handle: &Handle<Client>,
    cache: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if let Some(known) = cache {
        return *known;
    }
    let hash = match handle.best_supported_rsa_hash().await {
        Ok(Some(best)) => best,
        Ok(None) | Err(_) => None,
    };
    *cache = Some(hash);
    hash
}

fn load_key(path: &Path, passphrase: Option<&str>) -> Result<russh::keys::PrivateKey, String> {
    match russh::keys::load_secret_key(path, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => match passphrase {
            Some(pass) => russh::keys::load_secret_key(path, Some(pass)).map_err(|e| {
                format!(
                    "{} cannot be decrypted with the passphrase given ({e})",
                    path.display()
                )
            }),
            None => Err(format!(
                "{} is encrypted and no passphrase was given",
                path.display()
            )),
        },
        Err(e) => Err(format!("{} cannot be read: {e}", path.display())),
    }
}

/// OpenSSH's default identities, in its order (DSA is long gone from OpenSSH).
fn default_identity_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .collect()
}
