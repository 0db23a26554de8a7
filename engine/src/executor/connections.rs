//! One connection per host for the whole run, opened on first use and shared by every task, and one
//! check-mode overlay per host.

use crate::connection::ssh::known_hosts::HostKeyPolicy;
use crate::connection::ssh::ssh_args::{self, SshArgs};
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
    notices: Arc<Mutex<Vec<String>>>,
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

    /// Where and how to reach a host over SSH, each setting from the first that gives it: inventory
    /// variables, the command line (`-u`, `--private-key`, ...), `ansible_ssh_common_args` and
    /// `ansible_ssh_extra_args` (in that order, as Ansible hands them to ssh, whose first value wins),
    /// then `~/.ssh/config`. An ssh option ply does not implement makes the host unreachable with the
    /// option named, never a connection made without it.
    fn ssh_target(
        &self,
        host: &str,
        text: &dyn Fn(&[&str]) -> Option<String>,
    ) -> Result<SshTarget, ConnectionError> {
        let args_text = [
            text(&["ansible_ssh_common_args"]),
            text(&["ansible_ssh_extra_args"]),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let args: SshArgs = ssh_args::parse(&args_text).map_err(|why| {
            ConnectionError::Unreachable(format!(
                "{host}: ansible_ssh_common_args/ansible_ssh_extra_args: {why}"
            ))
        })?;
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
            None => args.port.or(config.port).unwrap_or(22),
        };
        let user = text(&["ansible_user", "ansible_ssh_user"])
            .or_else(|| self.defaults.remote_user.clone())
            .or_else(|| args.user.clone())
            .or_else(|| config.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let mut target = SshTarget::new(host, address, port, user);
        target.notices = self.notices.clone();
        if let Some(key) = text(&["ansible_ssh_private_key_file", "ansible_private_key_file"]) {
            target.identity_files.push(expand_home(&key));
        } else if let Some(key) = &self.defaults.private_key {
            target.identity_files.push(key.clone());
        } else if !args.identity_files.is_empty() {
            target.identity_files = args.identity_files.iter().map(|k| expand_home(k)).collect();
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
        let args_policy = match &args.strict_host_key_checking {
            Some(value) => Some(value.parse::<HostKeyPolicy>().map_err(|_| {
                ConnectionError::Unreachable(format!(
                    "{host}: StrictHostKeyChecking={value} is not one of yes, accept-new, no"
                ))
            })?),
            None => None,
        };
        target.host_key_policy = self
            .defaults
            .host_key_policy
            .or(args_policy)
            .or(config.strict_host_key_checking)
            .unwrap_or(HostKeyPolicy::AcceptNew);
        if let Some(files) = &args.user_known_hosts_file {
            target.known_hosts_files = files.split_whitespace().map(expand_home).collect();
        } else if let Some(files) = &config.user_known_hosts_files {
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
            .or(args.connect_timeout)
            .or(config.connect_timeout)
        {
            target.connect_timeout = timeout;
        }
        if let Some(interval) = args.server_alive_interval.or(config.server_alive_interval) {
            // OpenSSH's 0 turns keepalives off; ply keeps its default then, since a frozen host
            // must never hang the run.
            if !interval.is_zero() {
                target.server_alive_interval = interval;
            }
        }
        if let Some(count) = args
            .server_alive_count_max
            .or(config.server_alive_count_max)
        {
            target.server_alive_count_max = count.max(1);
        }
        // ProxyJump and ProxyCommand exclude each other; the first one given wins, as in OpenSSH.
        let config_jump = (!config.proxy_jump.is_empty()).then(|| {
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
        });
        match (&args.proxy_jump, &args.proxy_command) {
            (Some(jump), _) => target.proxy_jump = Some(jump.clone()),
            (None, Some(command)) => target.proxy_command = Some(command.clone()),
            (None, None) => match (config_jump, &config.proxy_command) {
                (Some(jump), _) => target.proxy_jump = Some(jump),
                (None, Some(command)) if !command.eq_ignore_ascii_case("none") => {
                    target.proxy_command = Some(command.clone())
                }
                _ => {}
            },
        }
        Ok(target)
    }

    /// After an interruption: every open connection removes what its abandoned writes left behind.
    pub async fn discard_unfinished(&self) {
        let slots: Vec<Slot> = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for slot in slots {
            if let Some(Ok(connection)) = slot.get() {
                connection.discard_unfinished().await;
            }
        }
    }

    /// Host key notices (changed keys let through, keys learned) since the last call, for the run to
    /// show.
    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}
