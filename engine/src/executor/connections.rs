//! One connection per host for the whole run, opened on first use and shared by every task, and one
//! check-mode overlay per host.

use crate::connection::ssh::known_hosts::HostKeyPolicy;
use crate::connection::ssh::ssh_config::{HostConfig, SshConfig};
use crate::connection::ssh::{SshConnection, SshTarget};
use crate::connection::{CheckOverlay, Connection, ConnectionError, LocalConnection};
use crate::template::Templar;
use crate::vars::VarMap;
use modules::Secret;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Connection settings from the command line; inventory variables override them per host.
#[derive(Clone, Debug, Default)]
pub struct ConnectionDefaults {
    pub remote_user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub password: Option<Secret>,
    pub key_passphrase: Option<Secret>,
    /// From `--host-key-checking`/ANSIBLE_HOST_KEY_CHECKING; `None` leaves it to ~/.ssh/config, then
    /// accept-new.
    pub host_key_policy: Option<HostKeyPolicy>,
    pub timeout: Option<Duration>,
}

/// The playbook keywords that choose how a host is reached (`connection`, `remote_user`, `port`),
/// templated; `None` where no play, block or task sets them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionKeywords {
    pub connection: Option<String>,
    pub remote_user: Option<String>,
    pub port: Option<String>,
}

impl ConnectionKeywords {
    fn is_empty(&self) -> bool {
        self.connection.is_none() && self.remote_user.is_none() && self.port.is_none()
    }

    /// Which shared connection this is: the host alone when no keyword is set.
    fn key(&self, host: &str) -> String {
        if self.is_empty() {
            return host.to_string();
        }
        let part = |value: &Option<String>| value.clone().unwrap_or_default();
        format!(
            "{host}\u{1f}{}\u{1f}{}\u{1f}{}",
            part(&self.connection),
            part(&self.remote_user),
            part(&self.port)
        )
    }

    /// The host's variables with the keywords beneath them: a keyword fills in only a connection
    /// variable (or its alias) that the host does not set.
    fn under(&self, vars: &VarMap) -> VarMap {
        let mut vars = vars.clone();
        let settings = [
            (&self.connection, &["ansible_connection"][..]),
            (&self.remote_user, &["ansible_user", "ansible_ssh_user"][..]),
            (&self.port, &["ansible_port", "ansible_ssh_port"][..]),
        ];
        for (value, names) in settings {
            if let Some(value) = value {
                if !names.iter().any(|name| vars.contains_key(*name)) {
                    vars.insert(names[0].to_string(), Value::String(value.clone()));
                }
            }
        }
        vars
    }
}

type Slot = Arc<OnceCell<Result<Arc<dyn Connection>, String>>>;

#[derive(Default)]
pub struct Connections {
    defaults: ConnectionDefaults,
    /// `~/.ssh/config`, read once per run on first SSH use.
    ssh_config: std::sync::OnceLock<SshConfig>,
    open: Mutex<HashMap<String, Slot>>,
    overlays: Mutex<HashMap<String, Arc<dyn Connection>>>,
}

impl Connections {
    pub fn new(defaults: ConnectionDefaults) -> Self {
        Connections {
            defaults,
            ..Connections::default()
        }
    }

    /// The connection to `host`. Concurrent first uses share one connection attempt, and a host that
    /// could not be reached is not tried again in this run. `keywords` are the task's `connection`,
    /// `remote_user` and `port`: they apply where the host's variables do not say (Ansible lets
    /// `ansible_user` and friends override the keywords), and a task with other keywords gets a
    /// connection of its own.
    pub async fn get(
        &self,
        host: &str,
        vars: &VarMap,
        keywords: &ConnectionKeywords,
        templar: &Templar,
    ) -> Result<Arc<dyn Connection>, ConnectionError> {
        let slot: Slot = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(keywords.key(host))
            .or_default()
            .clone();
        let with_keywords;
        let vars = if keywords.is_empty() {
            vars
        } else {
            with_keywords = keywords.under(vars);
            &with_keywords
        };
        let opened = slot
            .get_or_init(|| async {
                self.open_new(host, vars, templar)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        opened.clone().map_err(ConnectionError::Unreachable)
    }

    /// The host seen through its check-mode overlay: reads see earlier would-be writes, nothing is written.
    pub async fn get_checked(
        &self,
        host: &str,
        vars: &VarMap,
        keywords: &ConnectionKeywords,
        templar: &Templar,
    ) -> Result<Arc<dyn Connection>, ConnectionError> {
        let key = keywords.key(host);
        if let Some(overlay) = self
            .overlays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(overlay.clone());
        }
        let inner = self.get(host, vars, keywords, templar).await?;
        let mut overlays = self.overlays.lock().unwrap_or_else(|p| p.into_inner());
        let overlay = overlays
            .entry(key)
            .or_insert_with(|| Arc::new(CheckOverlay::new(inner)));
        Ok(overlay.clone())
    }

    async fn open_new(
        &self,
        host: &str,
        vars: &VarMap,
        templar: &Templar,
    ) -> Result<Arc<dyn Connection>, ConnectionError> {
        let text = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|key| {
                let value = vars.get(*key)?;
                let value = templar.template_value(value, vars).ok()?;
                match value {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                }
            })
        };
        match text(&["ansible_connection"]).as_deref().unwrap_or("ssh") {
            "local" => Ok(Arc::new(LocalConnection::new(host))),
            "ssh" | "smart" | "paramiko" | "paramiko_ssh" => {
                let target = self.ssh_target(host, &text)?;
                Ok(Arc::new(SshConnection::connect(target).await?))
            }
            other => Err(ConnectionError::Unreachable(format!(
                "{host}: the '{other}' connection is not supported by ply (use ssh or local)"
            ))),
        }
    }
}

impl Connections {
    fn ssh_config(&self) -> &SshConfig {
        self.ssh_config.get_or_init(|| {
            let loaded = SshConfig::default_path().map(|path| SshConfig::load(&path));
            match loaded {
                Some(Ok(config)) => config,
                Some(Err(error)) => {
                    tracing::warn!("ignoring ~/.ssh/config: {error}");
                    SshConfig::default()
                }
                None => SshConfig::default(),
            }
        })
    }

    /// Where and how to reach a host over SSH: inventory variables first (as Ansible passes them to
    /// ssh on the command line), then the command line's defaults, then `~/.ssh/config`.
    fn ssh_target(
        &self,
        host: &str,
        text: &dyn Fn(&[&str]) -> Option<String>,
    ) -> Result<SshTarget, ConnectionError> {
        let wanted =
            text(&["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| host.to_string());
        let config: HostConfig = self.ssh_config().resolve(&wanted);
        let address = config.host_name.clone().unwrap_or_else(|| wanted.clone());
        let port = match text(&["ansible_port", "ansible_ssh_port"]) {
            Some(port) => port.trim().parse::<u16>().map_err(|_| {
                ConnectionError::Unreachable(format!(
                    "{host}: ansible_port '{port}' is not a port number"
                ))
            })?,
            None => config.port.unwrap_or(22),
        };
        let user = text(&["ansible_user", "ansible_ssh_user"])
            .or_else(|| self.defaults.remote_user.clone())
            .or_else(|| config.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let mut target = SshTarget::new(host, address, port, user);
        if let Some(key) = text(&["ansible_ssh_private_key_file", "ansible_private_key_file"]) {
            target.identity_files.push(expand_home(&key));
        } else if let Some(key) = &self.defaults.private_key {
            target.identity_files.push(key.clone());
        } else {
            target.identity_files = config.identity_files.clone();
        }
        target.password = text(&[
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ])
        .map(Secret::new)
        .or_else(|| self.defaults.password.clone());
        target.key_passphrase = self.defaults.key_passphrase.clone();
        target.host_key_policy = self
            .defaults
            .host_key_policy
            .or(config.strict_host_key_checking)
            .unwrap_or(HostKeyPolicy::AcceptNew);
        if let Some(files) = &config.user_known_hosts_files {
            target.known_hosts_files = files.clone();
            target
                .known_hosts_files
                .extend(config.global_known_hosts_files.clone().unwrap_or_default());
        }
        let timeout = text(&["ansible_ssh_timeout", "ansible_timeout"])
            .and_then(|t| t.trim().parse::<u64>().ok());
        if let Some(timeout) = timeout
            .map(Duration::from_secs)
            .or(self.defaults.timeout)
            .or(config.connect_timeout)
        {
            target.connect_timeout = timeout;
        }
        let ssh_args = [
            text(&["ansible_ssh_common_args"]),
            text(&["ansible_ssh_extra_args"]),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        // Ansible hands these to ssh; ply reads the options that matter to its own SSH client.
        if let Some(file) = ssh_option(&ssh_args, "UserKnownHostsFile") {
            target.known_hosts_files = file.split_whitespace().map(expand_home).collect();
        }
        if self.defaults.host_key_policy.is_none() {
            if let Some(policy) = ssh_option(&ssh_args, "StrictHostKeyChecking")
                .and_then(|v| v.parse::<HostKeyPolicy>().ok())
            {
                target.host_key_policy = policy;
            }
        }
        target.proxy_jump = Some(ssh_args.clone())
            .filter(|args| !args.is_empty())
            .and_then(|args| proxy_jump_of(&args))
            .or_else(|| {
                (!config.proxy_jump.is_empty()).then(|| {
                    config
                        .proxy_jump
                        .iter()
                        .map(|hop| {
                            let user = hop
                                .user
                                .as_ref()
                                .map(|u| format!("{u}@"))
                                .unwrap_or_default();
                            let port = hop.port.map(|p| format!(":{p}")).unwrap_or_default();
                            format!("{user}{}{port}", hop.host)
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
            });
        Ok(target)
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The jump host of `-J host` or `-o ProxyJump=host` in ansible_ssh_common_args.
fn proxy_jump_of(args: &str) -> Option<String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == "-J") {
        return words.get(i + 1).map(|s| s.to_string());
    }
    ssh_option(args, "ProxyJump")
}

/// The value of `-o Name=value` (or `-oName=value`, `-o Name value`) in ssh arguments, as OpenSSH reads
/// ansible_ssh_common_args.
fn ssh_option(args: &str, name: &str) -> Option<String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let option = if *word == "-o" {
            words.get(i + 1).copied()
        } else {
            word.strip_prefix("-o")
        };
        let Some(option) = option.filter(|o| !o.is_empty()) else {
            continue;
        };
        let (key, value) = match option.split_once('=') {
            Some((key, value)) => (key, value.to_string()),
            None => (
                option,
                words.get(i + 2).map(|s| s.to_string()).unwrap_or_default(),
            ),
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value.trim_matches(['"', '\'']).to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_jump_from_common_args() {
        let cases = [
            ("-J bastion", Some("bastion")),
            (
                "-o ProxyJump=admin@bastion:2222",
                Some("admin@bastion:2222"),
            ),
            ("-oProxyJump=bastion -C", Some("bastion")),
            ("-o StrictHostKeyChecking=no", None),
        ];
        for (args, expected) in cases {
            assert_eq!(proxy_jump_of(args).as_deref(), expected, "{args}");
        }
        let args = "-o UserKnownHostsFile=/lab/known_hosts -oStrictHostKeyChecking=accept-new -o Port 2222";
        assert_eq!(
            ssh_option(args, "UserKnownHostsFile").as_deref(),
            Some("/lab/known_hosts")
        );
        assert_eq!(
            ssh_option(args, "stricthostkeychecking").as_deref(),
            Some("accept-new")
        );
        assert_eq!(ssh_option(args, "Port").as_deref(), Some("2222"));
    }
}
