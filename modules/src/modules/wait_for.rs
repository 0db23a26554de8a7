//! ansible.builtin.wait_for: waits for a port, a file, a string in a file or on a port, or a fixed time.
//!
//! Ansible runs this module on the target, so `127.0.0.1` means the target's loopback. ply keeps that
//! meaning without Python: the loop runs here, and each probe runs on the target. A port on a local
//! address is judged from the kernel's socket table (`/proc/net/tcp` and `tcp6`), which needs no client
//! program and opens no connection; other hosts, hosts without `/proc`, and `search_regex` on a port use
//! `nc`, else bash's `/dev/tcp`. Files are probed through the connection (stat, read).

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::connection::CommandRequest;
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::shell_quote::shell_quote;
use async_trait::async_trait;
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const DEFAULT_ACTIVE_STATES: &[&str] = &[
    "ESTABLISHED",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "SYN_RECV",
    "SYN_SENT",
    "TIME_WAIT",
];

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "host",
        ArgType::Str,
        "A resolvable hostname or IP address to wait for, as seen from the target.",
    )
    .default(ArgDefault::Str("127.0.0.1")),
    ArgSpec::new(
        "timeout",
        ArgType::Int,
        "Maximum number of seconds to wait for. When used with another condition it will force an error.",
    )
    .default(ArgDefault::Int(300)),
    ArgSpec::new(
        "connect_timeout",
        ArgType::Int,
        "Maximum number of seconds to wait for a connection to happen before closing and retrying.",
    )
    .default(ArgDefault::Int(5)),
    ArgSpec::new(
        "delay",
        ArgType::Int,
        "Number of seconds to wait before starting to poll.",
    )
    .default(ArgDefault::Int(0)),
    ArgSpec::new("port", ArgType::Int, "Port number to poll. path and port are mutually exclusive."),
    ArgSpec::new(
        "active_connection_states",
        ArgType::List,
        "The list of TCP connection states which are counted as active connections (state drained). \
         Default: ESTABLISHED, FIN_WAIT1, FIN_WAIT2, SYN_RECV, SYN_SENT, TIME_WAIT.",
    )
    .elements(ArgType::Str),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "Either present, started, or stopped, absent, or drained. When checking a port started will ensure \
         the port is open, stopped will check that it is closed, drained will check for active connections. \
         When checking for a file or a search string present or started will ensure that the file or string \
         is present before continuing, absent will check that file is absent or removed.",
    )
    .choices(&["absent", "drained", "present", "started", "stopped"])
    .default(ArgDefault::Str("started")),
    ArgSpec::new(
        "path",
        ArgType::Path,
        "Path to a file on the filesystem that must exist before continuing.",
    ),
    ArgSpec::new(
        "search_regex",
        ArgType::Str,
        "Can be used to match a string in either a file or a socket connection. Multiline: ^ and $ match at \
         line ends.",
    ),
    ArgSpec::new(
        "exclude_hosts",
        ArgType::List,
        "List of hosts or IPs to ignore when looking for active TCP connections for drained state.",
    )
    .elements(ArgType::Str),
    ArgSpec::new("sleep", ArgType::Int, "Number of seconds to sleep between checks.")
        .default(ArgDefault::Int(1)),
    ArgSpec::new(
        "msg",
        ArgType::Str,
        "This overrides the normal error message from a failure to meet the required conditions.",
    ),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "wait_for",
    short_description: "Waits for a condition before continuing",
    description: "You can wait for a set amount of time timeout, this is the default if nothing is specified \
        or just timeout is specified. Waiting for a port to become available is useful for when services are \
        not immediately available after their init scripts return. This module can also be used to wait for \
        a regex match a string to be present in a file, for a file to be present or removed, or until all \
        active connections on a port are drained.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::None,
    diff_mode: Support::None,
    returns: &[
        ReturnDoc::new("elapsed", "int", "always", "The number of seconds that elapsed while waiting."),
        ReturnDoc::new("state", "str", "success", "The state waited for."),
        ReturnDoc::new("port", "int", "success", "The port waited for, or null."),
        ReturnDoc::new("path", "str", "success", "The path waited for, or null."),
        ReturnDoc::new("search_regex", "str", "success", "The regular expression, or null."),
        ReturnDoc::new(
            "match_groups",
            "list",
            "success",
            "Tuple containing all the subgroups of the match as returned by Python's re.MatchObject.groups().",
        ),
        ReturnDoc::new(
            "match_groupdict",
            "dict",
            "success",
            "Dictionary containing all the named subgroups of the match, keyed by the subgroup name.",
        ),
    ],
    notes: &[
        "The port and file probes run on the target: 127.0.0.1 is the target's loopback.",
        "A port on a loopback or wildcard address is read from /proc/net/tcp{,6}; other hosts need nc or \
         bash on the target. search_regex on a port needs bash with timeout, or nc.",
        "In check mode the task is skipped, as Ansible's module does not support check mode.",
    ],
    example: r#"- name: Sleep for 300 seconds and continue with play
  ansible.builtin.wait_for:
    timeout: 300

- name: Wait for port 8000 to become open on the host, don't start checking for 10 seconds
  ansible.builtin.wait_for:
    port: 8000
    delay: 10

- name: Wait until the lock file is removed
  ansible.builtin.wait_for:
    path: /var/lock/file.lock
    state: absent

- name: Wait until the string "completed" is in the file /tmp/foo before continuing
  ansible.builtin.wait_for:
    path: /tmp/foo
    search_regex: completed

- name: Wait until port 5432 has no active connections
  ansible.builtin.wait_for:
    port: 5432
    state: drained
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    host: String,
    timeout: i64,
    connect_timeout: i64,
    delay: i64,
    port: Option<i64>,
    active_connection_states: Option<Vec<String>>,
    state: String,
    path: Option<String>,
    search_regex: Option<String>,
    exclude_hosts: Option<Vec<String>>,
    sleep: i64,
    msg: Option<String>,
}

/// The kernel's code for a TCP state name, as `/proc/net/tcp` shows it.
fn state_id(name: &str) -> Option<&'static str> {
    Some(match name {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        "CLOSE" => "07",
        "CLOSE_WAIT" => "08",
        "LAST_ACK" => "09",
        "LISTEN" => "0A",
        "CLOSING" => "0B",
        _ => return None,
    })
}

/// One socket of `/proc/net/tcp{,6}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Socket {
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub state: String,
}

/// An address as the kernel prints it: IPv4 as one little-endian word, IPv6 as four.
fn parse_hex_addr(text: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_le_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

pub(crate) fn parse_sockets(text: &str) -> Vec<Socket> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, local_port) = parse_hex_addr(fields.get(1)?)?;
            let (remote, _) = parse_hex_addr(fields.get(2)?)?;
            Some(Socket {
                local,
                local_port,
                remote,
                state: fields.get(3)?.to_string(),
            })
        })
        .collect()
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether a socket bound to `bound` takes connections to one of `hosts`. A wildcard IPv6 socket also
/// takes IPv4 (Linux's default, bindv6only=0).
fn serves(bound: IpAddr, hosts: &[IpAddr]) -> bool {
    let bound = canonical(bound);
    hosts.iter().any(|h| {
        let h = canonical(*h);
        match bound {
            IpAddr::V4(b) if b.is_unspecified() => h.is_ipv4(),
            IpAddr::V6(b) if b.is_unspecified() => true,
            b => b == h,
        }
    })
}

pub(crate) fn listening(sockets: &[Socket], port: u16, hosts: &[IpAddr]) -> bool {
    sockets
        .iter()
        .any(|s| s.state == "0A" && s.local_port == port && serves(s.local, hosts))
}

/// Ansible's drained count: connections in an active state on the port, on one of the host's addresses
/// (all of them for a wildcard host), from anywhere but the excluded addresses.
pub(crate) fn active_connections(
    sockets: &[Socket],
    port: u16,
    hosts: &[IpAddr],
    states: &[&str],
    excluded: &[IpAddr],
) -> usize {
    let wildcard = hosts.iter().any(|h| canonical(*h).is_unspecified());
    sockets
        .iter()
        .filter(|s| states.contains(&s.state.as_str()) && s.local_port == port)
        .filter(|s| {
            !excluded
                .iter()
                .any(|e| canonical(*e) == canonical(s.remote))
        })
        .filter(|s| wildcard || hosts.iter().any(|h| canonical(*h) == canonical(s.local)))
        .count()
}

/// The addresses of a host name: literals and localhost directly, other names as the target resolves
/// them.
async fn resolve(ctx: &ModuleContext<'_>, host: &str) -> Result<Vec<IpAddr>, ModuleResult> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host == "localhost" {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    let out = run(ctx, &format!("getent ahosts {}", shell_quote(host))).await?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
    {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    Ok(ips)
}

/// Addresses whose ports the socket table answers for: loopback and wildcard, where no other machine is
/// involved.
fn is_local(ips: &[IpAddr]) -> bool {
    !ips.is_empty()
        && ips
            .iter()
            .all(|ip| canonical(*ip).is_loopback() || canonical(*ip).is_unspecified())
}

async fn run(
    ctx: &ModuleContext<'_>,
    script: &str,
) -> Result<crate::connection::CommandOutput, ModuleResult> {
    let mut request = CommandRequest::shell(script);
    request.env = ctx.environment.clone();
    request.become_ = ctx.become_.clone();
    ctx.host
        .run(&request)
        .await
        .map_err(|e| ModuleResult::from_connection_error(&e))
}

/// The socket table, or `None` when the target has no `/proc/net/tcp`.
async fn socket_table(ctx: &ModuleContext<'_>) -> Result<Option<Vec<Socket>>, ModuleResult> {
    let out = run(ctx, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null").await?;
    if out.stdout.is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_sockets(&String::from_utf8_lossy(&out.stdout))))
}

/// Whether a TCP connection to host:port succeeds within `seconds`, from the target.
pub(crate) fn connect_script(host: &str, port: u16, seconds: i64) -> String {
    format!(
        "h={h}; p={port}; t={seconds}\n\
         if command -v nc >/dev/null 2>&1; then\n\
         \x20 if nc -z -w \"$t\" \"$h\" \"$p\" </dev/null >/dev/null 2>&1; then echo open; else echo closed; fi\n\
         elif command -v bash >/dev/null 2>&1; then\n\
         \x20 tm=; if command -v timeout >/dev/null 2>&1; then tm=\"timeout $t\"; fi\n\
         \x20 if $tm bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$p\" 2>/dev/null; then echo open; else echo closed; fi\n\
         else echo noprobe; fi",
        h = shell_quote(host),
    )
}

/// Connects and prints what the peer sends for `seconds`; `ply-connected` on stderr once connected.
pub(crate) fn read_script(host: &str, port: u16, seconds: i64) -> String {
    format!(
        "h={h}; p={port}; w={seconds}\n\
         if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then\n\
         \x20 timeout \"$w\" bash -c 'exec 3<\"/dev/tcp/$0/$1\" || exit 97; echo ply-connected >&2; exec cat <&3' \"$h\" \"$p\"\n\
         elif command -v nc >/dev/null 2>&1; then\n\
         \x20 nc -w \"$w\" \"$h\" \"$p\" </dev/null\n\
         else echo ply-noprobe >&2; exit 98; fi",
        h = shell_quote(host),
    )
}

fn no_probe(host: &str, port: u16) -> ModuleResult {
    ModuleResult::failed(format!(
        "wait_for cannot probe {host}:{port}: the target has neither nc nor bash"
    ))
}

/// What a probe found.
enum Found {
    Yes,
    No,
}

/// Match groups as Ansible returns them: every group (null when it did not take part), and the named ones.
fn groups(re: &Regex, haystack: &[u8]) -> Option<(Value, Value)> {
    let captures = re.captures(haystack)?;
    let text = |m: Option<regex::bytes::Match<'_>>| {
        m.map_or(Value::Null, |m| {
            Value::String(String::from_utf8_lossy(m.as_bytes()).into_owned())
        })
    };
    let all: Vec<Value> = (1..captures.len()).map(|i| text(captures.get(i))).collect();
    let mut named = Map::new();
    for name in re.capture_names().flatten() {
        named.insert(name.to_string(), text(captures.name(name)));
    }
    Some((Value::Array(all), Value::Object(named)))
}

struct Waiter<'a, 'b> {
    p: &'a Params,
    ctx: &'a ModuleContext<'b>,
    re: Option<Regex>,
    hosts: Vec<IpAddr>,
    excluded: Vec<IpAddr>,
    states: Vec<&'static str>,
    end: Instant,
    /// How long the next read of a port waits for the regex: doubling, so a slow banner is still seen
    /// while a quick one does not cost the whole timeout.
    window: i64,
    match_groups: Value,
    match_groupdict: Value,
}

impl Waiter<'_, '_> {
    fn remaining_secs(&self) -> i64 {
        let left = self.end.saturating_duration_since(Instant::now());
        (left.as_secs_f64().ceil() as i64).max(1)
    }

    async fn file(&mut self, path: &str) -> Result<Found, ModuleResult> {
        let become_ = self.ctx.become_.as_ref();
        let stat = match self.ctx.host.stat(path, true, become_).await {
            Ok(stat) => stat,
            Err(e) if e.is_unreachable() => return Err(ModuleResult::from_connection_error(&e)),
            Err(e) => {
                return Err(ModuleResult::failed(
                    self.p
                        .msg
                        .clone()
                        .unwrap_or_else(|| format!("Failed to stat {path}, {e}")),
                ))
            }
        };
        if self.p.state == "absent" {
            return Ok(if stat.is_none() {
                Found::Yes
            } else {
                Found::No
            });
        }
        if stat.is_none() {
            return Ok(Found::No);
        }
        let Some(re) = &self.re else {
            return Ok(Found::Yes);
        };
        // A file that cannot be read yet is waited for, as Ansible ignores the IOError.
        let Ok(Some(content)) = self.ctx.host.read_file(path, become_).await else {
            return Ok(Found::No);
        };
        Ok(match groups(re, &content) {
            Some((all, named)) => {
                self.match_groups = all;
                self.match_groupdict = named;
                Found::Yes
            }
            None => Found::No,
        })
    }

    async fn port_open(&self, port: u16) -> Result<bool, ModuleResult> {
        if is_local(&self.hosts) {
            if let Some(sockets) = socket_table(self.ctx).await? {
                return Ok(listening(&sockets, port, &self.hosts));
            }
        }
        let seconds = self.p.connect_timeout.min(self.remaining_secs()).max(1);
        let out = run(self.ctx, &connect_script(&self.p.host, port, seconds)).await?;
        match String::from_utf8_lossy(&out.stdout).trim() {
            "open" => Ok(true),
            "noprobe" => Err(no_probe(&self.p.host, port)),
            _ => Ok(false),
        }
    }

    async fn port_text(&mut self, port: u16, re: &Regex) -> Result<Found, ModuleResult> {
        let seconds = self.window.min(self.remaining_secs());
        let out = run(self.ctx, &read_script(&self.p.host, port, seconds)).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.rc == 98 && stderr.contains("ply-noprobe") {
            return Err(no_probe(&self.p.host, port));
        }
        if stderr.contains("ply-connected") || !out.stdout.is_empty() {
            self.window *= 2;
        }
        Ok(match groups(re, &out.stdout) {
            Some((all, named)) => {
                self.match_groups = all;
                self.match_groupdict = named;
                Found::Yes
            }
            None => Found::No,
        })
    }

    async fn check(&mut self) -> Result<Found, ModuleResult> {
        let port = self.p.port.map(|p| p as u16);
        if let Some(path) = self.p.path.clone() {
            return self.file(&path).await;
        }
        let Some(port) = port else {
            return Ok(Found::No);
        };
        match self.p.state.as_str() {
            "drained" => {
                let sockets = socket_table(self.ctx).await?.unwrap_or_default();
                let count =
                    active_connections(&sockets, port, &self.hosts, &self.states, &self.excluded);
                Ok(if count == 0 { Found::Yes } else { Found::No })
            }
            "stopped" | "absent" => Ok(if self.port_open(port).await? {
                Found::No
            } else {
                Found::Yes
            }),
            _ => match self.re.clone() {
                Some(re) => self.port_text(port, &re).await,
                None => Ok(if self.port_open(port).await? {
                    Found::Yes
                } else {
                    Found::No
                }),
            },
        }
    }

    fn timeout_message(&self) -> String {
        let (p, host) = (self.p, &self.p.host);
        let port = p.port.map(|p| p.to_string()).unwrap_or_default();
        let path = p.path.clone().unwrap_or_default();
        if let Some(msg) = &p.msg {
            return msg.clone();
        }
        match (p.state.as_str(), p.port.is_some(), &p.search_regex) {
            ("drained", _, _) => format!("Timeout when waiting for {host}:{port} to drain"),
            ("absent" | "stopped", true, _) => {
                format!("Timeout when waiting for {host}:{port} to stop.")
            }
            ("absent" | "stopped", false, _) => {
                format!("Timeout when waiting for {path} to be absent.")
            }
            (_, true, Some(re)) => {
                format!("Timeout when waiting for search string {re} in {host}:{port}")
            }
            (_, true, None) => format!("Timeout when waiting for {host}:{port}"),
            (_, false, Some(re)) => {
                format!("Timeout when waiting for search string {re} in {path}")
            }
            (_, false, None) => format!("Timeout when waiting for file {path}"),
        }
    }
}

fn failure(msg: impl Into<String>, elapsed: u64) -> ModuleResult {
    let mut result = ModuleResult::failed(msg);
    result.values.insert("elapsed".into(), json!(elapsed));
    result
}

fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0) as u64)
}

async fn wait(p: &Params, ctx: &ModuleContext<'_>) -> ModuleResult {
    let re = match &p.search_regex {
        Some(text) => match RegexBuilder::new(text).multi_line(true).build() {
            Ok(re) => Some(re),
            Err(e) => return ModuleResult::failed(format!("Invalid regular expression: {e}")),
        },
        None => None,
    };
    let early = if p.port.is_some() && p.path.is_some() {
        Some("port and path parameter can not both be passed to wait_for")
    } else if p.path.is_some() && p.state == "stopped" {
        Some("state=stopped should only be used for checking a port in the wait_for module")
    } else if p.path.is_some() && p.state == "drained" {
        Some("state=drained should only be used for checking a port in the wait_for module")
    } else if p.exclude_hosts.is_some() && p.state != "drained" {
        Some("exclude_hosts should only be with state=drained")
    } else {
        None
    };
    if let Some(msg) = early {
        return failure(msg, 0);
    }
    if let Some(port) = p.port {
        if !(0..=65535).contains(&port) {
            return failure(format!("port must be 0-65535, got {port}"), 0);
        }
    }
    let names: Vec<String> = p.active_connection_states.clone().unwrap_or_else(|| {
        DEFAULT_ACTIVE_STATES
            .iter()
            .map(|s| s.to_string())
            .collect()
    });
    let mut states = Vec::new();
    for name in &names {
        match state_id(name) {
            Some(id) => states.push(id),
            None => {
                return failure(
                    format!("unknown active_connection_state ({name}) defined"),
                    0,
                )
            }
        }
    }

    let start = Instant::now();
    let elapsed = || start.elapsed().as_secs();
    if p.delay > 0 {
        tokio::time::sleep(secs(p.delay)).await;
    }
    let mut waiter = Waiter {
        p,
        ctx,
        re,
        hosts: Vec::new(),
        excluded: Vec::new(),
        states,
        end: start + secs(p.timeout),
        window: 1,
        match_groups: json!([]),
        match_groupdict: json!({}),
    };

    if p.port.is_none() && p.path.is_none() && p.state != "drained" {
        tokio::time::sleep(secs(p.timeout)).await;
    } else {
        if p.port.is_some() {
            waiter.hosts = match resolve(ctx, &p.host).await {
                Ok(hosts) => hosts,
                Err(result) => return result,
            };
            for host in p.exclude_hosts.iter().flatten() {
                match resolve(ctx, host).await {
                    Ok(mut ips) => waiter.excluded.append(&mut ips),
                    Err(result) => return result,
                }
            }
        }
        let mut met = false;
        while Instant::now() < waiter.end {
            match waiter.check().await {
                Ok(Found::Yes) => {
                    met = true;
                    break;
                }
                Ok(Found::No) => {}
                Err(mut result) => {
                    result.values.insert("elapsed".into(), json!(elapsed()));
                    return result;
                }
            }
            tokio::time::sleep(secs(p.sleep)).await;
        }
        if !met {
            return failure(waiter.timeout_message(), elapsed());
        }
    }

    let mut result = ModuleResult::ok();
    for (key, value) in [
        ("state", json!(p.state)),
        ("port", json!(p.port)),
        ("search_regex", json!(p.search_regex)),
        ("match_groups", waiter.match_groups),
        ("match_groupdict", waiter.match_groupdict),
        ("path", json!(p.path)),
        ("elapsed", json!(elapsed())),
    ] {
        result.values.insert(key.into(), value);
    }
    result
}

pub struct WaitFor;

#[async_trait]
impl Module for WaitFor {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    // Waiting changes nothing, so it all happens in plan; Ansible's module has no check mode, so a check
    // run skips it rather than wait.
    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        if ctx.check_mode {
            return Plan::Done(ModuleResult::skipped(
                "remote module (wait_for) does not support check mode",
            ));
        }
        Plan::Done(wait(p, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1538 0100007F:D431 01 00000000:00000000 00:00000000 00000000   104        0 3 1 0000000000000000 20 4 0 10 -1
   3: 0100007F:1538 0200007F:D432 06 00000000:00000000 00:00000000 00000000   104        0 4 1 0000000000000000 20 4 0 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 100 0 0 10 0
";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_the_kernel_socket_table() {
        let sockets = parse_sockets(TABLE);
        assert_eq!(sockets.len(), 7);
        assert_eq!(
            sockets[0],
            Socket {
                local: ip("127.0.0.1"),
                local_port: 5432,
                remote: ip("0.0.0.0"),
                state: "0A".into()
            }
        );
        assert_eq!(sockets[2].remote, ip("127.0.0.1"));
        assert_eq!(sockets[2].state, "01");
        assert_eq!(sockets[4].local, ip("::1"));
        assert_eq!(sockets[4].local_port, 8080);
        assert_eq!(canonical(sockets[5].local), ip("127.0.0.1"));
    }

    #[test]
    fn listening_respects_the_bound_address() {
        let sockets = parse_sockets(TABLE);
        let v4 = [ip("127.0.0.1")];
        let localhost = [ip("127.0.0.1"), ip("::1")];
        let cases: &[(u16, &[IpAddr], bool)] = &[
            (5432, &v4, true),
            (5432, &[ip("127.0.0.2")], false),
            (5432, &[ip("::1")], false),
            // 0.0.0.0:22 takes every IPv4 address, not IPv6.
            (22, &[ip("127.0.0.9")], true),
            (22, &[ip("::1")], false),
            (8080, &[ip("::1")], true),
            (8080, &v4, false),
            (8080, &localhost, true),
            // A v4-mapped socket serves its IPv4 address.
            (80, &v4, true),
            // [::]:3000 takes IPv4 too.
            (3000, &v4, true),
            (9, &localhost, false),
        ];
        for (port, hosts, expected) in cases {
            assert_eq!(
                listening(&sockets, *port, hosts),
                *expected,
                "{port} {hosts:?}"
            );
        }
    }

    #[test]
    fn drained_counts_active_connections() {
        let sockets = parse_sockets(TABLE);
        let active: Vec<&str> = DEFAULT_ACTIVE_STATES
            .iter()
            .map(|s| state_id(s).unwrap())
            .collect();
        let v4 = [ip("127.0.0.1")];
        assert_eq!(active_connections(&sockets, 5432, &v4, &active, &[]), 2);
        assert_eq!(
            active_connections(&sockets, 5432, &v4, &active, &[ip("127.0.0.2")]),
            1
        );
        assert_eq!(
            active_connections(&sockets, 5432, &v4, &["01"], &[]),
            1,
            "only ESTABLISHED"
        );
        assert_eq!(
            active_connections(&sockets, 5432, &[ip("0.0.0.0")], &active, &[]),
            2
        );
        assert_eq!(
            active_connections(&sockets, 5432, &[ip("10.0.0.1")], &active, &[]),
            0
        );
        assert_eq!(active_connections(&sockets, 22, &v4, &active, &[]), 0);
    }

    #[test]
    fn probe_scripts_quote_the_host() {
        let script = connect_script("$(touch /tmp/x) 'h'", 80, 5);
        assert!(
            script.starts_with("h='$(touch /tmp/x) '\\''h'\\'''; p=80; t=5\n"),
            "{script}"
        );
        assert!(read_script("::1", 22, 3).starts_with("h=::1; p=22; w=3\n"));
    }

    fn sh(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap()
    }

    /// The probes for hosts the socket table cannot answer for, run by a real `sh` (nc when the machine
    /// has it, else bash's /dev/tcp) against a real listener.
    #[test]
    fn connect_and_read_probes_work_in_a_real_shell() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let out = sh(&connect_script("127.0.0.1", port, 2));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "open");

        let server = std::thread::spawn(move || {
            use std::io::Write;
            // The first connection is the connect probe's, already gone.
            drop(listener.accept().unwrap());
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"220 ready\r\n").unwrap();
        });
        let out = sh(&read_script("127.0.0.1", port, 2));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "220 ready\r\n");
        server.join().unwrap();

        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = sh(&connect_script("127.0.0.1", closed, 2));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "closed");
    }

    #[test]
    fn groups_follow_python() {
        let re = RegexBuilder::new(r"^port=(?P<port>\d+)(x)?$")
            .multi_line(true)
            .build()
            .unwrap();
        let (all, named) = groups(&re, b"a\nport=42\nb").unwrap();
        assert_eq!(all, json!(["42", null]));
        assert_eq!(named, json!({"port": "42"}));
        assert!(groups(&re, b"port=x").is_none());
    }
}
