//! ansible.builtin.service: starts, stops, restarts, reloads and enables services with whatever manages
//! them on the host.
//!
//! Ansible's service action picks a backend from the `service_mgr` fact. Modules do not see facts, so
//! ply asks the host once, in `plan`, with one shell probe (unless `use` names the backend): systemd when
//! it runs (`/run/systemd/system` and `systemctl`), OpenRC when `/sbin/openrc` or `rc-service` is there,
//! else the init script `/etc/init.d/NAME` driven through the `service` program (or the script itself).
//! On systemd the systemd module does the work, as in Ansible; otherwise this file follows Ansible's
//! legacy service module (lib/ansible/modules/service.py, `LinuxService`).

pub(crate) mod host;

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::modules::systemd;
use crate::shell_quote::shell_quote;
use crate::util::shlex_split;
use async_trait::async_trait;
use host::{missing, Host, Output};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Name of the service.").required(),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "started/stopped are idempotent actions that will not run commands unless necessary. restarted will \
         always bounce the service. reloaded will always reload. At least one of state and enabled are \
         required. Note that reloaded will start the service if it is not already started, even if your \
         chosen init system wouldn't normally.",
    )
    .choices(&["reloaded", "restarted", "started", "stopped"]),
    ArgSpec::new(
        "enabled",
        ArgType::Bool,
        "Whether the service should start on boot. At least one of state and enabled are required.",
    ),
    ArgSpec::new(
        "sleep",
        ArgType::Int,
        "If the service is being restarted then sleep this many seconds between the stop and start command. \
         This helps to work around badly-behaving init scripts that exit immediately after signaling a \
         process to stop. Not used by systemd.",
    ),
    ArgSpec::new(
        "pattern",
        ArgType::Str,
        "If the service does not respond to the status command, name a substring to look for as would be \
         found in the output of the ps command as a stand-in for a status result. If the string is found, \
         the service will be assumed to be started. Not used by systemd.",
    ),
    ArgSpec::new(
        "runlevel",
        ArgType::Str,
        "For OpenRC init scripts (e.g. Gentoo) only. The runlevel that this service belongs to \
         (default: default). Not used by systemd.",
    ),
    ArgSpec::new(
        "arguments",
        ArgType::Str,
        "Additional arguments provided on the command line, split as a shell would (no shell is involved). \
         Not used by systemd.",
    )
    .aliases(&["args"]),
    ArgSpec::new(
        "use",
        ArgType::Str,
        "The service module actually uses system specific modules, normally through auto detection, this \
         setting can force a specific module. auto asks the host which service manager runs.",
    )
    .choices(&["auto", "systemd", "sysvinit", "openrc", "service"])
    .default(ArgDefault::Str("auto")),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "service",
    short_description: "Manage services",
    description: "Controls services on remote hosts. Supported init systems are systemd, OpenRC and SysV \
        init scripts (with update-rc.d or chkconfig for enabling).",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled"]],
    check_mode: Support::Full,
    diff_mode: Support::None,
    returns: &[
        ReturnDoc::new("name", "str", "always", "The service name."),
        ReturnDoc::new(
            "state",
            "str",
            "when state is given",
            "started or stopped: what was asked for (restarted and reloaded give started).",
        ),
        ReturnDoc::new(
            "enabled",
            "bool",
            "when enabled is given",
            "Whether the service starts on boot.",
        ),
        ReturnDoc::new(
            "status",
            "dict",
            "on systemd",
            "The key=value pairs of `systemctl show`, as the systemd module returns them.",
        ),
        ReturnDoc::new(
            "msg",
            "str",
            "in check mode, when the state would change",
            "\"service state changed\".",
        ),
    ],
    notes: &[
        "On systemd hosts the systemd module does the work; sleep, pattern, runlevel and arguments are then \
         ignored with a warning, as Ansible does.",
        "A service with no init script on a host without systemd or OpenRC fails with \"Could not find the \
         requested service NAME: host\".",
        "Start, stop, restart and reload run with their output sent to temporary files, so that a daemon \
         that keeps its inherited output open cannot hang the task.",
    ],
    example: r#"- name: Start service httpd, if not started
  ansible.builtin.service:
    name: httpd
    state: started

- name: Restart service httpd, in all cases, waiting 2 seconds between stop and start
  ansible.builtin.service:
    name: httpd
    state: restarted
    sleep: 2

- name: Enable service httpd, and not touch the state
  ansible.builtin.service:
    name: httpd
    enabled: true

- name: Start service foo, based on running process /usr/bin/foo
  ansible.builtin.service:
    name: foo
    pattern: /usr/bin/foo
    state: started
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    name: String,
    state: Option<String>,
    enabled: Option<bool>,
    sleep: Option<i64>,
    pattern: Option<String>,
    runlevel: Option<String>,
    arguments: Option<String>,
    #[serde(rename = "use")]
    use_: String,
}

/// Which tool enables the service at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EnableTool {
    UpdateRcD,
    Chkconfig,
    RcUpdate,
}

/// How the legacy (non-systemd) path drives the service.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Legacy {
    /// `service NAME`, `/etc/init.d/NAME` or `rc-service NAME`: the action follows.
    control: String,
    openrc: bool,
    enable: EnableTool,
}

#[derive(Debug, PartialEq, Eq)]
enum Backend {
    Systemd,
    Legacy(Legacy),
}

/// What the probe found on the host.
#[derive(Debug, Default)]
struct Probe(HashMap<String, String>);

impl Probe {
    fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_empty())
    }
}

/// One shell probe for everything backend detection needs: tools (searched in the sbin folders too),
/// the systemd canaries Ansible checks, pid 1's name, and the init script.
fn probe_line(name: &str) -> String {
    let script = format!("/etc/init.d/{}", shell_quote(name));
    format!(
        "w() {{ command -v \"$1\" 2>/dev/null || true; }}; \
         echo \"systemctl=$(w systemctl)\"; \
         if [ -d /run/systemd/system ] || [ -d /dev/.run/systemd ] || [ -d /dev/.systemd ]; then echo booted=1; fi; \
         echo \"proc1=$(cat /proc/1/comm 2>/dev/null)\"; \
         if [ -x /sbin/openrc ]; then echo openrc=1; fi; \
         echo \"rc_service=$(w rc-service)\"; \
         echo \"rc_update=$(w rc-update)\"; \
         if [ -f {script} ]; then echo initscript=1; fi; \
         echo \"update_rc_d=$(w update-rc.d)\"; \
         echo \"chkconfig=$(w chkconfig)\"; \
         echo \"service=$(w service)\""
    )
}

fn parse_probe(text: &str) -> Probe {
    Probe(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect(),
    )
}

/// The backend for `use` and what the host has, or the message of the failure Ansible reports.
fn choose(use_: &str, name: &str, probe: &Probe) -> Result<Backend, String> {
    let quoted = shell_quote(name);
    let systemd_runs = probe.has("systemctl")
        && (probe.has("booted") || probe.0.get("proc1").is_some_and(|p| p.contains("systemd")));
    let openrc = probe.has("openrc") || probe.has("rc_service");
    let missing = || missing(name).msg.unwrap_or_default();
    let sysv = |probe: &Probe| -> Result<Backend, String> {
        if !probe.has("initscript") {
            return Err(missing());
        }
        let enable = if probe.has("update_rc_d") {
            EnableTool::UpdateRcD
        } else if probe.has("chkconfig") {
            EnableTool::Chkconfig
        } else {
            return Err(missing());
        };
        let control = if probe.has("service") {
            format!("service {quoted}")
        } else {
            format!("/etc/init.d/{quoted}")
        };
        Ok(Backend::Legacy(Legacy {
            control,
            openrc: false,
            enable,
        }))
    };
    let openrc_backend = || {
        Backend::Legacy(Legacy {
            control: format!("rc-service {quoted}"),
            openrc: true,
            enable: EnableTool::RcUpdate,
        })
    };
    match use_ {
        "systemd" => Ok(Backend::Systemd),
        "openrc" => Ok(openrc_backend()),
        "sysvinit" => sysv(probe),
        _ if systemd_runs => Ok(Backend::Systemd),
        _ if openrc => Ok(openrc_backend()),
        _ => sysv(probe),
    }
}

/// Ansible's reading of a status command: LSB exit codes first, then the words of a one-line answer,
/// then exit 0 as running. `None` when none of these tell.
fn sysv_running(name: &str, out: &Output) -> Option<bool> {
    if [1, 2, 3, 4, 69].contains(&out.rc) {
        return Some(false);
    }
    if out.stdout.matches('\n').count() <= 1 {
        let clean = out.stdout.to_lowercase().replace(&name.to_lowercase(), "");
        if clean.contains("stop") {
            return Some(false);
        } else if clean.contains("run") {
            return Some(!clean.contains("not "));
        } else if clean.contains("start") && !clean.contains("not ") {
            return Some(true);
        } else if [
            "could not access pid file",
            "is dead and pid file exists",
            "dead but subsys locked",
            "dead but pid file exists",
        ]
        .iter()
        .any(|w| clean.contains(w))
        {
            return Some(false);
        }
    }
    if out.rc == 0 {
        return Some(true);
    }
    if name == "iptables" && out.stdout.contains("ACCEPT") {
        return Some(true);
    }
    None
}

/// `ps` output holds the pattern (the probe's own line names no pattern, so it cannot match itself).
fn pattern_running(pattern: &str, ps: &str) -> bool {
    ps.lines()
        .any(|l| l.contains(pattern) && !l.contains("pattern="))
}

/// A step of enabling, and how its failure reads.
#[derive(Debug)]
struct EnableStep {
    line: String,
    /// The verb for Ansible's `Error when trying to VERB NAME` (rc-update, chkconfig); `None` for
    /// update-rc.d, whose failure is its own output.
    verb: Option<&'static str>,
}

/// The state command(s) to run.
#[derive(Debug)]
enum Control {
    One(String),
    /// Not every init script can restart, so Ansible stops, sleeps and starts.
    Restart {
        stop: String,
        start: String,
        sleep: u64,
    },
}

pub struct LegacyChange {
    name: String,
    enable: Vec<EnableStep>,
    /// OpenRC must `zap` a crashed service before it can start it again.
    zap: Option<String>,
    control: Option<Control>,
}

pub enum Change {
    Unit(systemd::Change),
    Legacy(LegacyChange),
}

/// The boot links of an init script: whether S links and K links exist.
fn links_line(name: &str) -> String {
    let quoted = shell_quote(name);
    format!(
        "s=0; k=0; for f in /etc/rc?.d/S??{quoted}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then s=1; fi; done; \
         for f in /etc/rc?.d/K??{quoted}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then k=1; fi; done; echo \"$s $k\""
    )
}

async fn plan_legacy(
    p: &Params,
    legacy: &Legacy,
    host: &Host<'_, '_>,
) -> Result<Plan<Change>, ModuleResult> {
    let name = &p.name;
    let quoted = shell_quote(name).into_owned();
    let words = match shlex_split(p.arguments.as_deref().unwrap_or("")) {
        Ok(words) => words,
        Err(e) => return Err(ModuleResult::failed(format!("arguments: {e}"))),
    };
    let arguments: String = words
        .iter()
        .map(|w| format!(" {}", shell_quote(w)))
        .collect();
    let runlevel = p.runlevel.as_deref().unwrap_or("default");

    let mut result = ModuleResult::ok();
    result.values.insert("name".into(), json!(name));
    let mut enable_steps = Vec::new();

    if let Some(enable) = p.enabled {
        match legacy.enable {
            EnableTool::UpdateRcD => {
                let out = host.run(&links_line(name)).await?;
                let mut flags = out.stdout.split_whitespace();
                let s_links = flags.next() == Some("1");
                let k_links = flags.next() == Some("1");
                if enable != s_links {
                    if enable && !k_links {
                        enable_steps.push(EnableStep {
                            line: format!("update-rc.d {quoted} defaults"),
                            verb: None,
                        });
                    }
                    let verb = if enable { "enable" } else { "disable" };
                    enable_steps.push(EnableStep {
                        line: format!("update-rc.d {quoted} {verb}"),
                        verb: None,
                    });
                }
            }
            EnableTool::Chkconfig => {
                let out = host.run(&format!("chkconfig --list {quoted}")).await?;
                if !out.stdout.contains(name.as_str()) {
                    return Err(ModuleResult::failed(format!(
                        "service {name} does not support chkconfig"
                    )));
                }
                let verb = if enable { "on" } else { "off" };
                let done = out.stdout.contains(&format!("3:{verb}"))
                    && out.stdout.contains(&format!("5:{verb}"));
                if !done {
                    enable_steps.push(EnableStep {
                        line: format!("chkconfig {quoted} {verb}"),
                        verb: Some(verb),
                    });
                }
            }
            EnableTool::RcUpdate => {
                let out = host.run("rc-update show").await?;
                let levels = out.stdout.lines().find_map(|line| {
                    let (service, levels) = line.split_once('|')?;
                    (service.trim() == name).then(|| {
                        levels
                            .split_whitespace()
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    })
                });
                let enabled = levels.is_some_and(|l| l.iter().any(|l| l == runlevel));
                if enabled != enable {
                    let verb = if enable { "add" } else { "delete" };
                    enable_steps.push(EnableStep {
                        line: format!("rc-update {verb} {quoted} {}", shell_quote(runlevel)),
                        verb: Some(verb),
                    });
                }
            }
        }
        result.values.insert("enabled".into(), json!(enable));
    }
    result.changed = !enable_steps.is_empty();

    let mut change = LegacyChange {
        name: name.clone(),
        enable: enable_steps,
        zap: None,
        control: None,
    };
    let Some(state) = p.state.as_deref() else {
        return Ok(finish(result, change));
    };

    let mut crashed = false;
    let running = if let Some(pattern) = &p.pattern {
        let out = host.run("ps auxww").await?;
        (out.rc == 0).then(|| pattern_running(pattern, &out.stdout))
    } else if legacy.openrc {
        let out = host
            .run(&format!("{} status{arguments}", legacy.control))
            .await?;
        crashed = out.stderr.contains("crashed");
        Some(out.stdout.contains("started"))
    } else {
        let out = host
            .run(&format!("{} status{arguments}", legacy.control))
            .await?;
        sysv_running(name, &out)
    };
    let Some(running) = running else {
        return Err(ModuleResult::failed(
            "failed determining service state, possible typo of service name?",
        ));
    };

    let due = match state {
        "started" => !running,
        "stopped" => running,
        _ => true,
    };
    result.values.insert(
        "state".into(),
        json!(if state == "stopped" {
            "stopped"
        } else {
            "started"
        }),
    );
    if due {
        let verb = match (state, running) {
            ("started", _) | ("reloaded", false) => "start",
            ("stopped", _) => "stop",
            ("reloaded", true) => "reload",
            _ => "restart",
        };
        let line = |verb: &str| format!("{} {verb}{arguments}", legacy.control);
        change.control = Some(if verb == "restart" && !legacy.openrc {
            Control::Restart {
                stop: line("stop"),
                start: line("start"),
                sleep: p.sleep.unwrap_or(0).max(0) as u64,
            }
        } else {
            Control::One(line(verb))
        });
        if legacy.openrc && verb == "start" && crashed {
            change.zap = Some(line("zap"));
        }
        result.changed = true;
        // What Ansible's check mode says; a real run drops it in apply.
        result.msg = Some("service state changed".into());
    }
    Ok(finish(result, change))
}

fn finish(result: ModuleResult, change: LegacyChange) -> Plan<Change> {
    if change.enable.is_empty() && change.control.is_none() {
        Plan::Done(result)
    } else {
        Plan::Change {
            preview: result,
            change: Change::Legacy(change),
        }
    }
}

/// A failed control command: its stderr, or its stdout when stderr is empty. Upstart's "Job is already
/// running" is not a failure.
fn control_failure(out: &Output) -> Option<ModuleResult> {
    if out.rc == 0 || out.stderr.contains("Job is already running") {
        return None;
    }
    Some(ModuleResult::failed(if out.stderr.is_empty() {
        out.stdout.clone()
    } else {
        out.stderr.clone()
    }))
}

async fn apply_legacy(
    change: LegacyChange,
    mut preview: ModuleResult,
    host: &Host<'_, '_>,
) -> ModuleResult {
    preview.msg = None;
    for step in &change.enable {
        let out = match host.run(&step.line).await {
            Ok(out) => out,
            Err(result) => return result,
        };
        if out.rc == 0 {
            continue;
        }
        let msg = match step.verb {
            None if out.stderr.is_empty() => out.stdout,
            None => out.stderr,
            Some(verb) if out.stderr.is_empty() => format!(
                "Failure for {verb} {}: rc={} {}",
                change.name, out.rc, out.stdout
            ),
            Some(verb) => format!(
                "Error when trying to {verb} {}: rc={} {}",
                change.name, out.rc, out.stderr
            ),
        };
        return ModuleResult::failed(msg);
    }
    if let Some(zap) = &change.zap {
        if let Err(result) = host.run_detached(zap).await {
            return result;
        }
    }
    let out = match &change.control {
        None => return preview,
        Some(Control::One(line)) => match host.run_detached(line).await {
            Ok(out) => out,
            Err(result) => return result,
        },
        Some(Control::Restart { stop, start, sleep }) => {
            let stopped = match host.run_detached(stop).await {
                Ok(out) => out,
                Err(result) => return result,
            };
            if *sleep > 0 {
                tokio::time::sleep(Duration::from_secs(*sleep)).await;
            }
            let started = match host.run_detached(start).await {
                Ok(out) => out,
                Err(result) => return result,
            };
            // A stop that failed (nothing was running) does not matter once the start worked.
            if stopped.rc != 0 && started.rc == 0 {
                started
            } else {
                Output {
                    rc: stopped.rc + started.rc,
                    stdout: stopped.stdout + &started.stdout,
                    stderr: stopped.stderr + &started.stderr,
                }
            }
        }
    };
    control_failure(&out).unwrap_or(preview)
}

/// The arguments Ansible's service action drops for systemd, which would not understand them.
fn ignored_for_systemd(p: &Params) -> Vec<String> {
    [
        ("pattern", p.pattern.is_some()),
        ("runlevel", p.runlevel.is_some()),
        ("sleep", p.sleep.is_some()),
        ("arguments", p.arguments.is_some()),
    ]
    .iter()
    .filter(|(_, given)| *given)
    .map(|(key, _)| format!("Ignoring \"{key}\" as it is not used in \"systemd\""))
    .collect()
}

fn systemd_params(p: &Params) -> systemd::Params {
    systemd::Params {
        name: Some(p.name.clone()),
        state: p.state.clone(),
        enabled: p.enabled,
        scope: "system".into(),
        ..systemd::Params::default()
    }
}

pub struct Service;

#[async_trait]
impl Module for Service {
    type Params = Params;
    type Change = Change;

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Change> {
        let host = Host { ctx };
        let backend = if p.use_ == "systemd" {
            Ok(Backend::Systemd)
        } else {
            match host.run(&probe_line(&p.name)).await {
                Ok(out) => choose(&p.use_, &p.name, &parse_probe(&out.stdout))
                    .map_err(ModuleResult::failed),
                Err(result) => Err(result),
            }
        };
        let legacy = match backend {
            Err(result) => return Plan::Done(result),
            Ok(Backend::Legacy(legacy)) => legacy,
            Ok(Backend::Systemd) => {
                let mut plan = match systemd::plan_unit(&systemd_params(p), ctx).await {
                    Plan::Done(result) => Plan::Done(result),
                    Plan::Change { preview, change } => Plan::Change {
                        preview,
                        change: Change::Unit(change),
                    },
                };
                let mut warnings = ignored_for_systemd(p);
                match &mut plan {
                    Plan::Done(result)
                    | Plan::Change {
                        preview: result, ..
                    } => {
                        warnings.append(&mut result.warnings);
                        result.warnings = warnings;
                    }
                }
                return plan;
            }
        };
        match plan_legacy(p, &legacy, &host).await {
            Ok(plan) => plan,
            Err(result) => Plan::Done(result),
        }
    }

    async fn apply(
        &self,
        _p: &Params,
        change: Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        match change {
            Change::Unit(change) => systemd::apply_unit(change, preview, ctx).await,
            Change::Legacy(change) => apply_legacy(change, preview, &Host { ctx }).await,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The legacy path and backend choice, against a scripted host.

    use super::*;
    use crate::modules::service::host::fake::FakeHost;
    use crate::modules::systemd::tests::run_module;
    use serde_json::Value;

    const SYSV_HOST: &str =
        "systemctl=/usr/bin/systemctl\nproc1=docker-init\nrc_service=\nrc_update=\n\
initscript=1\nupdate_rc_d=/usr/sbin/update-rc.d\nchkconfig=\nservice=/usr/sbin/service\n";
    const SYSTEMD_HOST: &str =
        "systemctl=/usr/bin/systemctl\nbooted=1\nproc1=systemd\nrc_service=\n\
rc_update=\nupdate_rc_d=/usr/sbin/update-rc.d\nchkconfig=\nservice=/usr/sbin/service\n";
    const OPENRC_HOST: &str = "systemctl=\nproc1=init\nopenrc=1\nrc_service=/sbin/rc-service\n\
rc_update=/sbin/rc-update\ninitscript=1\nupdate_rc_d=\nchkconfig=\nservice=\n";
    const BARE_HOST: &str = "systemctl=\nproc1=sh\nrc_service=\nrc_update=\nupdate_rc_d=\nchkconfig=\nservice=/usr/sbin/service\n";

    fn host(name: &str, probe: &str) -> FakeHost {
        FakeHost::default().answer(&probe_line(name), 0, probe, "")
    }

    fn links(name: &str) -> String {
        links_line(name)
    }

    async fn run(host: &FakeHost, args: Value, check: bool) -> ModuleResult {
        run_module("service", host, args, check).await
    }

    /// The commands after the probe.
    fn after_probe(host: &FakeHost) -> Vec<String> {
        host.commands().into_iter().skip(1).collect()
    }

    #[test]
    fn backend_choice_follows_the_host() {
        let cases = [
            ("auto", SYSV_HOST, Ok("service lighttpd")),
            ("service", SYSV_HOST, Ok("service lighttpd")),
            ("sysvinit", SYSV_HOST, Ok("service lighttpd")),
            ("auto", OPENRC_HOST, Ok("rc-service lighttpd")),
            ("openrc", SYSV_HOST, Ok("rc-service lighttpd")),
            (
                "auto",
                BARE_HOST,
                Err("Could not find the requested service lighttpd: host"),
            ),
        ];
        for (use_, probe, expected) in cases {
            let got = choose(use_, "lighttpd", &parse_probe(probe)).map(|b| match b {
                Backend::Legacy(l) => l.control,
                Backend::Systemd => "systemd".into(),
            });
            assert_eq!(
                got,
                expected.map(str::to_string).map_err(str::to_string),
                "{use_}"
            );
        }
        assert_eq!(
            choose("auto", "x", &parse_probe(SYSTEMD_HOST)),
            Ok(Backend::Systemd)
        );
        // No `service` program: the init script itself.
        let probe = parse_probe(&SYSV_HOST.replace("service=/usr/sbin/service", "service="));
        assert_eq!(
            choose("auto", "a b", &probe).map(|b| match b {
                Backend::Legacy(l) => l.control,
                Backend::Systemd => String::new(),
            }),
            Ok("/etc/init.d/'a b'".to_string())
        );
    }

    #[test]
    fn status_reading_follows_ansible() {
        let out = |rc: i32, stdout: &str| Output {
            rc,
            stdout: stdout.into(),
            stderr: String::new(),
        };
        let cases = [
            (out(0, "lighttpd is running.\n"), Some(true)),
            (out(3, "lighttpd is not running ... failed!\n"), Some(false)),
            (out(4, ""), Some(false)),
            (out(0, "status: stopped\n"), Some(false)),
            (out(5, "lighttpd: not running\n"), Some(false)),
            (out(5, "it has started\n"), Some(true)),
            (out(0, "many\nlines\nhere\n"), Some(true)),
            (out(5, "many\nlines\nof noise\n"), None),
            (out(127, "sh: 1: nope: not found\n"), None),
        ];
        for (output, expected) in cases {
            assert_eq!(sysv_running("lighttpd", &output), expected, "{output:?}");
        }
        let ps =
            "root 1 0.0 init\nwww 42 0.1 /usr/sbin/lighttpd -f conf\nroot 7 ps pattern=lighttpd\n";
        assert!(pattern_running("/usr/sbin/lighttpd", ps));
        assert!(!pattern_running("nginx", ps));
        assert!(!pattern_running("pattern=", "x pattern=y"));
    }

    #[tokio::test]
    async fn sysv_started_and_stopped_are_idempotent() {
        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 0, "running\n", "");
        let r = run(&h, json!({"name": "lighttpd", "state": "started"}), false).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        assert_eq!(r.values["state"], json!("started"));
        assert_eq!(r.values["name"], json!("lighttpd"));
        assert_eq!(after_probe(&h), ["service lighttpd status"]);

        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 0, "running\n", "");
        let r = run(&h, json!({"name": "lighttpd", "state": "stopped"}), false).await;
        assert!(r.changed && !r.failed && r.msg.is_none(), "{r:?}");
        assert_eq!(r.values["state"], json!("stopped"));
        assert_eq!(
            after_probe(&h),
            ["service lighttpd status", "& service lighttpd stop"]
        );
    }

    #[tokio::test]
    async fn check_mode_predicts_with_ansibles_message() {
        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 3, "", "");
        let r = run(&h, json!({"name": "lighttpd", "state": "started"}), true).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some("service state changed"));
        assert_eq!(after_probe(&h), ["service lighttpd status"]);
    }

    #[tokio::test]
    async fn restart_is_stop_sleep_start_and_reload_of_a_stopped_service_starts() {
        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 3, "", "");
        let r = run(
            &h,
            json!({"name": "lighttpd", "state": "restarted", "arguments": "-v 'a b'", "sleep": 0}),
            false,
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.values["state"], json!("started"));
        assert_eq!(
            after_probe(&h),
            [
                "service lighttpd status -v 'a b'",
                "& service lighttpd stop -v 'a b'",
                "& service lighttpd start -v 'a b'"
            ]
        );

        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 3, "", "");
        run(&h, json!({"name": "lighttpd", "state": "reloaded"}), false).await;
        assert_eq!(
            after_probe(&h),
            ["service lighttpd status", "& service lighttpd start"]
        );

        let h = host("lighttpd", SYSV_HOST).answer("service lighttpd status", 0, "", "");
        run(&h, json!({"name": "lighttpd", "state": "reloaded"}), false).await;
        assert_eq!(
            after_probe(&h),
            ["service lighttpd status", "& service lighttpd reload"]
        );
    }

    #[tokio::test]
    async fn failures_read_like_ansible() {
        let h = host("lighttpd", SYSV_HOST)
            .answer("service lighttpd status", 3, "", "")
            .answer(
                "service lighttpd start",
                1,
                "Starting web server: lighttpd failed!\n",
                "",
            );
        let r = run(&h, json!({"name": "lighttpd", "state": "started"}), false).await;
        assert!(r.failed);
        assert_eq!(
            r.msg.as_deref(),
            Some("Starting web server: lighttpd failed!\n")
        );

        let h = host("x", SYSV_HOST).answer("service x status", 5, "a\nb\nc\n", "");
        let r = run(&h, json!({"name": "x", "state": "started"}), false).await;
        assert_eq!(
            r.msg.as_deref(),
            Some("failed determining service state, possible typo of service name?")
        );

        let h = host("nope", BARE_HOST);
        let r = run(&h, json!({"name": "nope", "state": "started"}), false).await;
        assert_eq!(
            r.msg.as_deref(),
            Some("Could not find the requested service nope: host")
        );

        let h = host("x", SYSV_HOST);
        let r = run(&h, json!({"name": "x"}), false).await;
        assert_eq!(
            r.msg.as_deref(),
            Some("one of the following is required: state, enabled")
        );
    }

    #[tokio::test]
    async fn update_rc_d_enables_and_disables() {
        let name = "lighttpd";
        // Neither S nor K links: defaults first, then enable.
        let h = host(name, SYSV_HOST)
            .answer(&links(name), 0, "0 0\n", "")
            .answer("update-rc.d lighttpd defaults", 0, "", "")
            .answer("update-rc.d lighttpd enable", 0, "", "");
        let r = run(&h, json!({"name": name, "enabled": true}), false).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(r.values["enabled"], json!(true));
        assert!(!r.values.contains_key("state"));
        assert_eq!(
            after_probe(&h),
            [
                links(name),
                "update-rc.d lighttpd defaults".into(),
                "update-rc.d lighttpd enable".into()
            ]
        );

        // Disabled (K links only): enable alone.
        let h = host(name, SYSV_HOST)
            .answer(&links(name), 0, "0 1\n", "")
            .answer("update-rc.d lighttpd enable", 0, "", "");
        run(&h, json!({"name": name, "enabled": true}), false).await;
        assert_eq!(
            after_probe(&h),
            [links(name), "update-rc.d lighttpd enable".into()]
        );

        // Enabled: nothing to do; disabling runs disable.
        let h = host(name, SYSV_HOST).answer(&links(name), 0, "1 1\n", "");
        let r = run(&h, json!({"name": name, "enabled": true}), false).await;
        assert!(!r.changed);
        let h = host(name, SYSV_HOST).answer(&links(name), 0, "1 1\n", "");
        let r = run(&h, json!({"name": name, "enabled": false}), true).await;
        assert!(r.changed);
        assert_eq!(after_probe(&h), [links(name)], "check mode runs nothing");

        let h = host(name, SYSV_HOST)
            .answer(&links(name), 0, "1 0\n", "")
            .answer(
                "update-rc.d lighttpd disable",
                1,
                "",
                "update-rc.d: error: no runlevel symlinks\n",
            );
        let r = run(&h, json!({"name": name, "enabled": false}), false).await;
        assert_eq!(
            r.msg.as_deref(),
            Some("update-rc.d: error: no runlevel symlinks\n")
        );
    }

    #[tokio::test]
    async fn openrc_uses_rc_service_and_rc_update() {
        let h = host("sshd", OPENRC_HOST)
            .answer(
                "rc-update show",
                0,
                "             sshd | boot\n            local |      default\n",
                "",
            )
            .answer("rc-service sshd status", 3, "", " * status: crashed\n")
            .answer("rc-update add sshd default", 0, "", "");
        let r = run(
            &h,
            json!({"name": "sshd", "state": "restarted", "enabled": true}),
            false,
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(
            after_probe(&h),
            [
                "rc-update show",
                "rc-service sshd status",
                "rc-update add sshd default",
                "& rc-service sshd restart"
            ]
        );

        let h = host("sshd", OPENRC_HOST).answer(
            "rc-service sshd status",
            3,
            "",
            " * status: crashed\n",
        );
        run(
            &h,
            json!({"name": "sshd", "state": "started", "runlevel": "boot"}),
            false,
        )
        .await;
        assert_eq!(
            after_probe(&h),
            [
                "rc-service sshd status",
                "& rc-service sshd zap",
                "& rc-service sshd start"
            ]
        );

        let h = host("sshd", OPENRC_HOST)
            .answer("rc-update show", 0, "  sshd | default\n", "")
            .answer("rc-update delete sshd default", 1, "", "denied");
        let r = run(&h, json!({"name": "sshd", "enabled": false}), false).await;
        assert_eq!(
            r.msg.as_deref(),
            Some("Error when trying to delete sshd: rc=1 denied")
        );
    }

    #[tokio::test]
    async fn pattern_replaces_the_status_command() {
        let h =
            host("odd", SYSV_HOST).answer("ps auxww", 0, "root 1 /usr/bin/odd-daemon --x\n", "");
        let r = run(
            &h,
            json!({"name": "odd", "state": "started", "pattern": "odd-daemon"}),
            false,
        )
        .await;
        assert!(!r.changed && !r.failed, "{r:?}");
        assert_eq!(after_probe(&h), ["ps auxww"]);
    }

    #[tokio::test]
    async fn names_are_passed_literally() {
        let name = "we'ird $(touch /tmp/ply-pwned) name";
        let quoted = "'we'\\''ird $(touch /tmp/ply-pwned) name'";
        let h = host(name, SYSV_HOST)
            .answer(&format!("service {quoted} status"), 3, "", "")
            .answer(&links(name), 0, "0 0\n", "")
            .answer(&format!("update-rc.d {quoted} defaults"), 0, "", "")
            .answer(&format!("update-rc.d {quoted} enable"), 0, "", "");
        let r = run(
            &h,
            json!({"name": name, "state": "started", "enabled": true}),
            false,
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(
            after_probe(&h),
            [
                links(name),
                format!("service {quoted} status"),
                format!("update-rc.d {quoted} defaults"),
                format!("update-rc.d {quoted} enable"),
                format!("& service {quoted} start"),
            ]
        );
        assert!(probe_line(name).contains(&format!("/etc/init.d/{quoted}")));
        assert!(links(name).contains(&format!("/etc/rc?.d/S??{quoted};")));
    }

    #[tokio::test]
    async fn systemd_hosts_use_the_systemd_module_and_ignore_legacy_options() {
        let h = host("nginx", SYSTEMD_HOST).answer(
            "systemctl show nginx",
            0,
            "LoadState=loaded\nActiveState=inactive\n",
            "",
        );
        let r = run(
            &h,
            json!({"name": "nginx", "state": "started", "pattern": "x", "args": "-v", "sleep": 1}),
            false,
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(
            after_probe(&h),
            [
                "test -x /etc/init.d/nginx",
                "systemctl show nginx",
                "& systemctl start nginx"
            ]
        );
        assert_eq!(r.values["status"]["ActiveState"], json!("inactive"));
        assert_eq!(
            r.warnings,
            [
                "Ignoring \"pattern\" as it is not used in \"systemd\"",
                "Ignoring \"sleep\" as it is not used in \"systemd\"",
                "Ignoring \"arguments\" as it is not used in \"systemd\"",
            ]
        );

        // use: systemd skips the probe.
        let h = FakeHost::default();
        let r = run(
            &h,
            json!({"name": "nginx", "enabled": true, "use": "systemd"}),
            false,
        )
        .await;
        assert_eq!(h.commands()[0], "test -x /etc/init.d/nginx");
        assert!(r.failed, "nothing answers on this fake host: {r:?}");
    }
}
