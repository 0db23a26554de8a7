//! ansible.builtin.systemd (and its newer name systemd_service): controls systemd units with `systemctl`.
//!
//! `plan` reads the unit (`systemctl show`, `is-enabled`) and decides which `systemctl` verbs are due;
//! `apply` runs them. The one exception is `daemon_reload`/`daemon_reexec`: Ansible runs them before it
//! reads the unit, so that the unit files it then inspects are the reloaded ones, and never in check
//! mode. ply does the same in `plan`, and, as Ansible, does not count them as a change.

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use crate::modules::service::host::{command_failure, missing, Host, Output};
use crate::shell_quote::shell_quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "name",
        ArgType::Str,
        "Name of the unit. This parameter takes the name of exactly one unit to work with. When no suffix is \
         given, it is implied to be .service as systemd does. Glob patterns are not supported.",
    )
    .aliases(&["service", "unit"]),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "started/stopped are idempotent actions that will not run commands unless necessary. restarted will \
         always bounce the unit. reloaded will always reload, and start the unit when it is not running.",
    )
    .choices(&["reloaded", "restarted", "started", "stopped"]),
    ArgSpec::new(
        "enabled",
        ArgType::Bool,
        "Whether the unit should start on boot. At least one of state and enabled are required.",
    ),
    ArgSpec::new(
        "force",
        ArgType::Bool,
        "Whether to override existing symlinks (systemctl --force).",
    ),
    ArgSpec::new(
        "masked",
        ArgType::Bool,
        "Whether the unit should be masked or not. A masked unit is impossible to start.",
    ),
    ArgSpec::new(
        "daemon_reload",
        ArgType::Bool,
        "Run daemon-reload before doing any other operations, to make sure systemd has read any changes. \
         Runs even when no name is given; never in check mode, and never reported as a change.",
    )
    .aliases(&["daemon-reload"])
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "daemon_reexec",
        ArgType::Bool,
        "Run daemon_reexec command before doing any other operations, the systemd manager will serialize \
         the manager state.",
    )
    .aliases(&["daemon-reexec"])
    .default(ArgDefault::Bool(false)),
    ArgSpec::new(
        "scope",
        ArgType::Str,
        "Run systemctl within a given service manager scope, either as the default system scope (system), \
         the current user's scope (user), or the scope of all users (global).",
    )
    .choices(&["system", "user", "global"])
    .default(ArgDefault::Str("system")),
    ArgSpec::new(
        "no_block",
        ArgType::Bool,
        "Do not synchronously wait for the requested operation to finish (systemctl --no-block).",
    )
    .default(ArgDefault::Bool(false)),
];

pub(crate) const RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new("name", "str", "always", "The unit name (null when none was given)."),
    ReturnDoc::new(
        "status",
        "dict",
        "success",
        "A dictionary with the key=value pairs returned from `systemctl show`, read before any change.",
    ),
    ReturnDoc::new(
        "state",
        "str",
        "when state is given",
        "The requested state; started for restarted and reloaded.",
    ),
    ReturnDoc::new(
        "enabled",
        "bool",
        "when enabled is given",
        "Whether the unit starts on boot after the task.",
    ),
];

pub static DOC: ModuleDoc = doc("systemd");

/// The same module under its newer name, documented (and reporting argument errors) as itself.
pub static DOC_SYSTEMD_SERVICE: ModuleDoc = doc("systemd_service");

const fn doc(name: &'static str) -> ModuleDoc {
    ModuleDoc {
    name,
    short_description: "Manage systemd units",
    description: "Controls systemd units (services, timers, and so on) on remote hosts. Also available as \
        systemd_service.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Module,
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled", "masked", "daemon_reload", "daemon_reexec"]],
    check_mode: Support::Full,
    diff_mode: Support::None,
    returns: RETURNS,
    notes: &[
        "Since 2.4, one of the following options is required: state, enabled, masked, daemon_reload, \
         daemon_reexec; state, enabled and masked also need name.",
        "A unit that systemd does not know (and that has no /etc/init.d script) fails with \"Could not find \
         the requested service NAME: host\", in check mode too.",
        "The target needs only sh and systemctl.",
    ],
    example: r#"- name: Make sure a service unit is running
  ansible.builtin.systemd:
    state: started
    name: httpd

- name: Restart service cron on centos, in all cases, also issue daemon-reload to pick up config changes
  ansible.builtin.systemd_service:
    state: restarted
    daemon_reload: true
    name: crond

- name: Enable a timer unit for dnf-automatic
  ansible.builtin.systemd:
    name: dnf-automatic.timer
    state: started
    enabled: true

- name: Just force systemd to reread configs
  ansible.builtin.systemd:
    daemon_reload: true
"#,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub(crate) name: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) enabled: Option<bool>,
    pub(crate) force: Option<bool>,
    pub(crate) masked: Option<bool>,
    pub(crate) daemon_reload: bool,
    pub(crate) daemon_reexec: bool,
    pub(crate) scope: String,
    pub(crate) no_block: bool,
}

/// How a failed `systemctl` verb is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnFail {
    /// mask/unmask: some systemd versions refuse to mask units they do not know, and only then is it an
    /// error (the unit is missing); otherwise Ansible carries on.
    MissingUnless { found: bool },
    /// enable/disable: `Unable to enable service X: <stdout><stderr>`.
    WithOutput,
    /// start/stop/restart/reload: `Unable to start service X: <stderr>`.
    WithStderr,
}

#[derive(Debug)]
struct Step {
    verb: &'static str,
    line: String,
    on_fail: OnFail,
}

/// The `systemctl` verbs to run, in order.
pub struct Change {
    unit: String,
    steps: Vec<Step>,
}

/// `systemctl` with the options every command of the task takes.
fn systemctl(p: &Params) -> String {
    let mut cmd = String::from("systemctl");
    if p.scope != "system" {
        cmd.push_str(&format!(" --{}", p.scope));
    }
    if p.no_block {
        cmd.push_str(" --no-block");
    }
    if p.force == Some(true) {
        cmd.push_str(" --force");
    }
    cmd
}

/// `systemctl show` output as a map. Only `Exec*` values may span lines (`{ path=... ; argv[]=... }`);
/// any other value is one line even when it starts with `{`, as Ansible reads it.
pub(crate) fn parse_show(text: &str) -> Map<String, Value> {
    let mut parsed = Map::new();
    let mut pending: Option<(String, Vec<String>)> = None;
    for line in text.split('\n') {
        if let Some((key, mut lines)) = pending.take() {
            lines.push(line.to_string());
            if line.trim_end().ends_with('}') {
                parsed.insert(key, Value::String(lines.join("\n").trim().to_string()));
            } else {
                pending = Some((key, lines));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.starts_with("Exec")
            && value.trim_start().starts_with('{')
            && !value.trim_end().ends_with('}')
        {
            pending = Some((key.to_string(), vec![value.to_string()]));
            continue;
        }
        parsed.insert(key.to_string(), Value::String(value.trim().to_string()));
    }
    parsed
}

/// systemctl answers some requests with a notice on stdout instead of data (units ignored by a
/// chrooted or offline systemd).
fn request_was_ignored(text: &str) -> bool {
    !text.contains('=') && (text.contains("ignoring request") || text.contains("ignoring command"))
}

fn active_state(status: &Map<String, Value>) -> Option<&str> {
    status.get("ActiveState").and_then(Value::as_str)
}

/// What `is-enabled` may print for a unit systemd knows (systemctl(1) of systemd 244).
const ENABLED_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "linked",
    "linked-runtime",
    "masked",
    "masked-runtime",
    "static",
    "indirect",
    "disabled",
    "generated",
    "transient",
];

/// Whether `/etc/rc?.d/S??NAME` links exist: an init script enabled the SysV way.
pub(crate) fn sysv_enabled_line(name: &str) -> String {
    format!(
        "for f in /etc/rc?.d/S??{}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1",
        shell_quote(name)
    )
}

/// The plan shared by systemd and the service module on systemd hosts.
pub(crate) async fn plan_unit(p: &Params, ctx: &ModuleContext<'_>) -> Plan<Change> {
    let mut warnings = Vec::new();
    match plan_inner(p, ctx, &mut warnings).await {
        Ok(mut plan) => {
            match &mut plan {
                Plan::Done(result)
                | Plan::Change {
                    preview: result, ..
                } => result.warnings.append(&mut warnings),
            }
            plan
        }
        Err(mut result) => {
            result.warnings.append(&mut warnings);
            Plan::Done(result)
        }
    }
}

async fn plan_inner(
    p: &Params,
    ctx: &ModuleContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<Plan<Change>, ModuleResult> {
    let host = Host { ctx };
    let unit = p.name.clone();
    if let Some(unit) = &unit {
        for glob in ["*", "?", "["] {
            if unit.contains(glob) {
                return Err(ModuleResult::failed(format!(
                    "This module does not currently support using glob patterns, found '{glob}' in service name: {unit}"
                )));
            }
        }
    }
    for (key, given) in [
        ("state", p.state.is_some()),
        ("enabled", p.enabled.is_some()),
        ("masked", p.masked.is_some()),
    ] {
        if given && unit.is_none() {
            return Err(ModuleResult::failed(format!(
                "missing parameter(s) required by '{key}': name"
            )));
        }
    }
    let systemctl = systemctl(p);

    for (wanted, verb) in [
        (p.daemon_reload, "daemon-reload"),
        (p.daemon_reexec, "daemon-reexec"),
    ] {
        if wanted && !ctx.check_mode {
            let out = host.run(&format!("{systemctl} {verb}")).await?;
            if out.rc != 0 {
                return Err(ModuleResult::failed(format!(
                    "failure {} during {verb}: {}",
                    out.rc, out.stderr
                )));
            }
        }
    }

    let mut result = ModuleResult::ok();
    result.values.insert(
        "name".into(),
        unit.clone().map_or(Value::Null, Value::String),
    );
    let mut status = Map::new();
    let mut steps = Vec::new();

    let Some(unit) = unit else {
        result.values.insert("status".into(), Value::Object(status));
        return Ok(Plan::Done(result));
    };
    let quoted = shell_quote(&unit).into_owned();

    let is_initd = host.run(&format!("test -x /etc/init.d/{quoted}")).await?.rc == 0;
    let mut is_systemd = false;
    let show = host.run(&format!("{systemctl} show {quoted}")).await?;
    if show.rc == 0 && !request_was_ignored(&show.stdout) && !request_was_ignored(&show.stderr) {
        if !show.stdout.is_empty() {
            status = parse_show(&show.stdout);
            let load_state = status.get("LoadState").and_then(Value::as_str);
            is_systemd = load_state.is_some_and(|s| s != "not-found");
            let is_masked = load_state == Some("masked");
            if is_systemd && !is_masked {
                if let Some(error) = status.get("LoadError").and_then(Value::as_str) {
                    return Err(ModuleResult::failed(format!(
                        "Error loading unit file '{unit}': {error}"
                    )));
                }
            }
        }
    } else if !show.stderr.is_empty()
        && show.rc == 1
        && show.stderr.contains("Failed to parse bus message")
    {
        // Old systemd cannot show some units over D-Bus (ansible/ansible#71528): find the unit file and
        // ask is-active instead.
        status = parse_show(&show.stdout);
        let search = match unit.split_once('@') {
            Some((base, _)) => format!("{base}@"),
            None => unit.clone(),
        };
        let files = host
            .run(&format!(
                "{systemctl} list-unit-files {}",
                shell_quote(&format!("{search}*"))
            ))
            .await?;
        is_systemd = files.stdout.contains(&search);
        let active = host.run(&format!("{systemctl} is-active {quoted}")).await?;
        status.insert(
            "ActiveState".into(),
            Value::String(active.stdout.trim_end_matches('\n').to_string()),
        );
    } else {
        let state = host
            .run(&format!("{systemctl} is-enabled {quoted}"))
            .await?;
        if ENABLED_STATES.contains(&state.stdout.trim()) {
            is_systemd = true;
        } else {
            // show does not work everywhere (chroots); list-unit-files reads the unit files themselves.
            let files = host
                .run(&format!("{systemctl} list-unit-files {quoted}"))
                .await?;
            if files.rc == 0 {
                is_systemd = true;
            } else {
                // Whether systemctl works at all: when it does not (no systemd running), say why.
                let bare = host.run(&systemctl).await?;
                if bare.rc != 0 {
                    return Err(command_failure(&systemctl, &bare));
                }
            }
        }
    }

    let found = is_systemd || is_initd;
    if is_initd && !is_systemd {
        warnings.push(format!(
            "The service ({unit}) is actually an init script but the system is managed by systemd"
        ));
    }

    if let Some(want_masked) = p.masked {
        let state = host
            .run(&format!("{systemctl} is-enabled {quoted}"))
            .await?;
        let masked = state.stdout.trim() == "masked";
        if masked != want_masked {
            result.changed = true;
            let verb = if want_masked { "mask" } else { "unmask" };
            steps.push(Step {
                verb,
                line: format!("{systemctl} {verb} {quoted}"),
                on_fail: OnFail::MissingUnless { found },
            });
        }
    }

    if let Some(want_enabled) = p.enabled {
        if !found {
            return Err(missing(&unit));
        }
        let verb = if want_enabled { "enable" } else { "disable" };
        let out = host
            .run(&format!("{systemctl} is-enabled {quoted} -l"))
            .await?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        let enabled = match out.rc {
            // indirect and alias units are enabled through others: enabling them is still asked for.
            0 => lines != ["indirect"] && lines != ["alias"],
            // A unit generated from an init script: its rc links decide.
            1 => {
                p.scope == "system"
                    && is_initd
                    && !out.stdout.trim().ends_with("disabled")
                    && host.run(&sysv_enabled_line(&unit)).await?.rc == 0
            }
            _ => false,
        };
        result.values.insert("enabled".into(), json!(enabled));
        if enabled != want_enabled {
            result.changed = true;
            steps.push(Step {
                verb,
                line: format!("{systemctl} {verb} {quoted}"),
                on_fail: OnFail::WithOutput,
            });
            result.values.insert("enabled".into(), json!(!enabled));
        }
    }

    if let Some(state) = &p.state {
        if !found {
            return Err(missing(&unit));
        }
        result.values.insert("state".into(), json!(state));
        let Some(active) = active_state(&status) else {
            let mut failed = ModuleResult::failed("Service is in unknown state");
            failed.values.insert("status".into(), Value::Object(status));
            return Err(failed);
        };
        let running = matches!(active, "active" | "activating");
        let verb = match state.as_str() {
            "started" => (!running).then_some("start"),
            "stopped" => (running || active == "deactivating").then_some("stop"),
            other => {
                result.values.insert("state".into(), json!("started"));
                Some(match (running, other) {
                    (false, _) => "start",
                    (true, "reloaded") => "reload",
                    (true, _) => "restart",
                })
            }
        };
        if let Some(verb) = verb {
            result.changed = true;
            steps.push(Step {
                verb,
                line: format!("{systemctl} {verb} {quoted}"),
                on_fail: OnFail::WithStderr,
            });
        }
    }

    result.values.insert("status".into(), Value::Object(status));
    if steps.is_empty() {
        return Ok(Plan::Done(result));
    }
    Ok(Plan::Change {
        preview: result,
        change: Change { unit, steps },
    })
}

/// Runs the planned verbs; the result is the preview unless one fails.
pub(crate) async fn apply_unit(
    change: Change,
    preview: ModuleResult,
    ctx: &ModuleContext<'_>,
) -> ModuleResult {
    let host = Host { ctx };
    for step in &change.steps {
        let out: Output = match host.run_detached(&step.line).await {
            Ok(out) => out,
            Err(result) => return result,
        };
        if out.rc == 0 {
            continue;
        }
        let msg = match step.on_fail {
            OnFail::MissingUnless { found: true } => continue,
            OnFail::MissingUnless { found: false } => return missing(&change.unit),
            OnFail::WithOutput => format!(
                "Unable to {} service {}: {}{}",
                step.verb, change.unit, out.stdout, out.stderr
            ),
            OnFail::WithStderr => format!(
                "Unable to {} service {}: {}",
                step.verb, change.unit, out.stderr
            ),
        };
        let mut failed = ModuleResult::failed(msg);
        failed.warnings = preview.warnings.clone();
        return failed;
    }
    preview
}

/// The module, under the name (and documentation) it was called by.
pub struct Systemd(pub &'static ModuleDoc);

#[async_trait]
impl Module for Systemd {
    type Params = Params;
    type Change = Change;

    fn doc(&self) -> &'static ModuleDoc {
        self.0
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<Change> {
        plan_unit(p, ctx).await
    }

    async fn apply(
        &self,
        _p: &Params,
        change: Change,
        preview: ModuleResult,
        ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        apply_unit(change, preview, ctx).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Command construction against a scripted host: each case gives the arguments, what `systemctl`
    //! answers, the commands that must run (detached ones marked `&`), and the result.

    use super::*;
    use crate::contract::Evaluator;
    use crate::modules::service::host::fake::FakeHost;
    use serde_json::json;

    struct NoEval;

    impl Evaluator for NoEval {
        fn eval_expr(&self, expr: &str) -> Result<Value, String> {
            Err(expr.into())
        }
        fn eval_condition(&self, expr: &str) -> Result<bool, String> {
            Err(expr.into())
        }
    }

    pub(crate) async fn run_module(
        module: &str,
        host: &FakeHost,
        args: Value,
        check_mode: bool,
    ) -> ModuleResult {
        let Value::Object(args) = args else {
            unreachable!()
        };
        let ctx = ModuleContext {
            host,
            become_: None,
            check_mode,
            diff_mode: false,
            verbosity: 0,
            environment: Vec::new(),
            evaluator: &NoEval,
            search_path: &[],
        };
        crate::execute(module, &args, &ctx).await
    }

    const ACTIVE: &str = "Id=nginx.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\
ExecStart={ path=/usr/sbin/nginx ; argv[]=/usr/sbin/nginx -g daemon on;\n master_process on; ; status=0/0 }\n\
Description={curly but one line\nUnitFileState=enabled\n";
    const INACTIVE: &str =
        "Id=nginx.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\n";
    const ACTIVATING: &str = "LoadState=loaded\nActiveState=activating\n";
    const DEACTIVATING: &str = "LoadState=loaded\nActiveState=deactivating\n";
    const NOT_FOUND: &str = "Id=nope.service\nLoadState=not-found\nActiveState=inactive\n";
    const MASKED: &str = "LoadState=masked\nActiveState=inactive\nLoadError=org.freedesktop.systemd1.UnitMasked \"Unit is masked.\"\n";
    const BROKEN: &str = "LoadState=error\nActiveState=inactive\nLoadError=org.freedesktop.systemd1.BadUnitSetting \"bad\"\n";

    struct Case {
        what: &'static str,
        args: Value,
        check: bool,
        answers: &'static [(&'static str, i32, &'static str, &'static str)],
        commands: &'static [&'static str],
        changed: bool,
        msg: Option<&'static str>,
        values: Value,
    }

    fn cases() -> Vec<Case> {
        const INITD: &str = "test -x /etc/init.d/nginx";
        vec![
            Case {
                what: "started on a stopped unit starts it",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[("systemctl show nginx", 0, INACTIVE, "")],
                commands: &[INITD, "systemctl show nginx", "& systemctl start nginx"],
                changed: true,
                msg: None,
                values: json!({"name": "nginx", "state": "started"}),
            },
            Case {
                what: "started on a running unit does nothing",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[("systemctl show nginx", 0, ACTIVE, "")],
                commands: &[INITD, "systemctl show nginx"],
                changed: false,
                msg: None,
                values: json!({"name": "nginx", "state": "started"}),
            },
            Case {
                what: "activating counts as running",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[("systemctl show nginx", 0, ACTIVATING, "")],
                commands: &[INITD, "systemctl show nginx"],
                changed: false,
                msg: None,
                values: json!({}),
            },
            Case {
                what: "stopped stops a deactivating unit",
                args: json!({"name": "nginx", "state": "stopped"}),
                check: false,
                answers: &[("systemctl show nginx", 0, DEACTIVATING, "")],
                commands: &[INITD, "systemctl show nginx", "& systemctl stop nginx"],
                changed: true,
                msg: None,
                values: json!({"state": "stopped"}),
            },
            Case {
                what: "restarted on a running unit restarts",
                args: json!({"name": "nginx", "state": "restarted"}),
                check: false,
                answers: &[("systemctl show nginx", 0, ACTIVE, "")],
                commands: &[INITD, "systemctl show nginx", "& systemctl restart nginx"],
                changed: true,
                msg: None,
                values: json!({"state": "started"}),
            },
            Case {
                what: "reloaded on a stopped unit starts it",
                args: json!({"name": "nginx", "state": "reloaded"}),
                check: false,
                answers: &[("systemctl show nginx", 0, INACTIVE, "")],
                commands: &[INITD, "systemctl show nginx", "& systemctl start nginx"],
                changed: true,
                msg: None,
                values: json!({"state": "started"}),
            },
            Case {
                what: "reloaded on a running unit reloads",
                args: json!({"name": "nginx", "state": "reloaded"}),
                check: false,
                answers: &[("systemctl show nginx", 0, ACTIVE, "")],
                commands: &[INITD, "systemctl show nginx", "& systemctl reload nginx"],
                changed: true,
                msg: None,
                values: json!({"state": "started"}),
            },
            Case {
                what: "check mode predicts without acting",
                args: json!({"name": "nginx", "state": "restarted", "enabled": true}),
                check: true,
                answers: &[
                    ("systemctl show nginx", 0, ACTIVE, ""),
                    ("systemctl is-enabled nginx -l", 1, "disabled\n", ""),
                ],
                commands: &[INITD, "systemctl show nginx", "systemctl is-enabled nginx -l"],
                changed: true,
                msg: None,
                values: json!({"enabled": true, "state": "started"}),
            },
            Case {
                what: "enable a disabled unit",
                args: json!({"name": "nginx", "enabled": true}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, INACTIVE, ""),
                    ("systemctl is-enabled nginx -l", 1, "disabled\n", ""),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx -l",
                    "& systemctl enable nginx",
                ],
                changed: true,
                msg: None,
                values: json!({"enabled": true}),
            },
            Case {
                what: "indirect is not enabled: enabling is still due",
                args: json!({"name": "nginx", "enabled": true}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, INACTIVE, ""),
                    ("systemctl is-enabled nginx -l", 0, "indirect\n", ""),
                    ("systemctl enable nginx", 0, "", ""),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx -l",
                    "& systemctl enable nginx",
                ],
                changed: true,
                msg: None,
                values: json!({"enabled": true}),
            },
            Case {
                what: "already enabled",
                args: json!({"name": "nginx", "enabled": true}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, ACTIVE, ""),
                    (
                        "systemctl is-enabled nginx -l",
                        0,
                        "enabled\n  /etc/systemd/system/multi-user.target.wants/nginx.service\n",
                        "",
                    ),
                ],
                commands: &[INITD, "systemctl show nginx", "systemctl is-enabled nginx -l"],
                changed: false,
                msg: None,
                values: json!({"enabled": true}),
            },
            Case {
                what: "an init script with rc links counts as enabled",
                args: json!({"name": "nginx", "enabled": true}),
                check: false,
                answers: &[
                    ("test -x /etc/init.d/nginx", 0, "", ""),
                    ("systemctl show nginx", 0, INACTIVE, ""),
                    ("systemctl is-enabled nginx -l", 1, "", ""),
                    (
                        "for f in /etc/rc?.d/S??nginx; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1",
                        0,
                        "",
                        "",
                    ),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx -l",
                    "for f in /etc/rc?.d/S??nginx; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1",
                ],
                changed: false,
                msg: None,
                values: json!({"enabled": true}),
            },
            Case {
                what: "disable failure reports stdout and stderr",
                args: json!({"name": "nginx", "enabled": false}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, ACTIVE, ""),
                    ("systemctl is-enabled nginx -l", 0, "enabled\n", ""),
                    ("systemctl disable nginx", 1, "out;", "err"),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx -l",
                    "& systemctl disable nginx",
                ],
                changed: false,
                msg: Some("Unable to disable service nginx: out;err"),
                values: json!({}),
            },
            Case {
                what: "start failure reports stderr",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, INACTIVE, ""),
                    ("systemctl start nginx", 1, "ignored", "Job failed."),
                ],
                commands: &[INITD, "systemctl show nginx", "& systemctl start nginx"],
                changed: false,
                msg: Some("Unable to start service nginx: Job failed."),
                values: json!({}),
            },
            Case {
                what: "a missing unit fails, in check mode too",
                args: json!({"name": "nope", "state": "started"}),
                check: true,
                answers: &[("systemctl show nope", 0, NOT_FOUND, "")],
                commands: &["test -x /etc/init.d/nope", "systemctl show nope"],
                changed: false,
                msg: Some("Could not find the requested service nope: host"),
                values: json!({}),
            },
            Case {
                what: "a load error fails",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[("systemctl show nginx", 0, BROKEN, "")],
                commands: &[INITD, "systemctl show nginx"],
                changed: false,
                msg: Some("Error loading unit file 'nginx': org.freedesktop.systemd1.BadUnitSetting \"bad\""),
                values: json!({}),
            },
            Case {
                what: "unmask a masked unit (its load error does not matter)",
                args: json!({"name": "nginx", "masked": false}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, MASKED, ""),
                    ("systemctl is-enabled nginx", 1, "masked\n", ""),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx",
                    "& systemctl unmask nginx",
                ],
                changed: true,
                msg: None,
                values: json!({"name": "nginx"}),
            },
            Case {
                what: "mask a unit that is not masked",
                args: json!({"name": "nginx", "masked": true}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 0, INACTIVE, ""),
                    ("systemctl is-enabled nginx", 1, "disabled\n", ""),
                    ("systemctl mask nginx", 0, "", ""),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx",
                    "& systemctl mask nginx",
                ],
                changed: true,
                msg: None,
                values: json!({}),
            },
            Case {
                what: "daemon_reload runs first and alone is no change",
                args: json!({"daemon_reload": true}),
                check: false,
                answers: &[("systemctl daemon-reload", 0, "", "")],
                commands: &["systemctl daemon-reload"],
                changed: false,
                msg: None,
                values: json!({"name": null, "status": {}}),
            },
            Case {
                what: "daemon_reload is skipped in check mode",
                args: json!({"daemon-reload": true, "name": "nginx", "state": "started"}),
                check: true,
                answers: &[("systemctl show nginx", 0, ACTIVE, "")],
                commands: &[INITD, "systemctl show nginx"],
                changed: false,
                msg: None,
                values: json!({}),
            },
            Case {
                what: "daemon_reload failure",
                args: json!({"daemon_reload": true, "daemon_reexec": true}),
                check: false,
                answers: &[("systemctl daemon-reload", 1, "", "Access denied")],
                commands: &["systemctl daemon-reload"],
                changed: false,
                msg: Some("failure 1 during daemon-reload: Access denied"),
                values: json!({}),
            },
            Case {
                what: "daemon_reexec",
                args: json!({"daemon_reexec": true}),
                check: false,
                answers: &[("systemctl daemon-reexec", 0, "", "")],
                commands: &["systemctl daemon-reexec"],
                changed: false,
                msg: None,
                values: json!({}),
            },
            Case {
                what: "scope, no_block and force go on every command",
                args: json!({"unit": "app", "state": "restarted", "scope": "user", "no_block": true, "force": true}),
                check: false,
                answers: &[("systemctl --user --no-block --force show app", 0, ACTIVE, "")],
                commands: &[
                    "test -x /etc/init.d/app",
                    "systemctl --user --no-block --force show app",
                    "& systemctl --user --no-block --force restart app",
                ],
                changed: true,
                msg: None,
                values: json!({"name": "app"}),
            },
            Case {
                what: "global scope",
                args: json!({"service": "app", "enabled": false, "scope": "global"}),
                check: false,
                answers: &[
                    ("systemctl --global show app", 0, INACTIVE, ""),
                    ("systemctl --global is-enabled app -l", 1, "disabled\n", ""),
                ],
                commands: &[
                    "test -x /etc/init.d/app",
                    "systemctl --global show app",
                    "systemctl --global is-enabled app -l",
                ],
                changed: false,
                msg: None,
                values: json!({"enabled": false}),
            },
            Case {
                what: "names are quoted, never interpreted",
                args: json!({"name": "my app's $(touch /tmp/pwned).service", "state": "stopped"}),
                check: false,
                answers: &[(
                    "systemctl show 'my app'\\''s $(touch /tmp/pwned).service'",
                    0,
                    ACTIVE,
                    "",
                )],
                commands: &[
                    "test -x /etc/init.d/'my app'\\''s $(touch /tmp/pwned).service'",
                    "systemctl show 'my app'\\''s $(touch /tmp/pwned).service'",
                    "& systemctl stop 'my app'\\''s $(touch /tmp/pwned).service'",
                ],
                changed: true,
                msg: None,
                values: json!({"name": "my app's $(touch /tmp/pwned).service", "state": "stopped"}),
            },
            Case {
                what: "globs are refused",
                args: json!({"name": "nginx*", "state": "started"}),
                check: false,
                answers: &[],
                commands: &[],
                changed: false,
                msg: Some("This module does not currently support using glob patterns, found '*' in service name: nginx*"),
                values: json!({}),
            },
            Case {
                what: "state needs a name",
                args: json!({"state": "started"}),
                check: false,
                answers: &[],
                commands: &[],
                changed: false,
                msg: Some("missing parameter(s) required by 'state': name"),
                values: json!({}),
            },
            Case {
                what: "one of the actions is required",
                args: json!({"name": "nginx"}),
                check: false,
                answers: &[],
                commands: &[],
                changed: false,
                msg: Some("one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec"),
                values: json!({}),
            },
            Case {
                what: "without a running systemd, systemctl's own complaint is the error",
                args: json!({"name": "nginx", "state": "started"}),
                check: false,
                answers: &[
                    ("systemctl show nginx", 1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"),
                    ("systemctl is-enabled nginx", 1, "", "Failed to get unit file state for nginx.service: No such file or directory\n"),
                    ("systemctl list-unit-files nginx", 1, "", ""),
                    ("systemctl", 1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx",
                    "systemctl list-unit-files nginx",
                    "systemctl",
                ],
                changed: false,
                msg: Some("System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down"),
                values: json!({"rc": 1, "cmd": "systemctl"}),
            },
            Case {
                what: "show refused but the unit file is known: is-enabled finds it",
                args: json!({"name": "nginx", "enabled": true}),
                check: true,
                answers: &[
                    ("systemctl is-enabled nginx", 0, "enabled\n", ""),
                    ("systemctl is-enabled nginx -l", 0, "enabled\n", ""),
                ],
                commands: &[
                    INITD,
                    "systemctl show nginx",
                    "systemctl is-enabled nginx",
                    "systemctl is-enabled nginx -l",
                ],
                changed: false,
                msg: None,
                values: json!({"enabled": true, "status": {}}),
            },
            Case {
                what: "old systemd that cannot parse the bus message",
                args: json!({"name": "getty@tty1", "state": "started"}),
                check: false,
                answers: &[
                    ("systemctl show getty@tty1", 1, "Id=getty@tty1.service\n", "Failed to parse bus message: Invalid argument"),
                    ("systemctl list-unit-files 'getty@*'", 0, "getty@.service enabled\n", ""),
                    ("systemctl is-active getty@tty1", 3, "inactive\n", ""),
                ],
                commands: &[
                    "test -x /etc/init.d/getty@tty1",
                    "systemctl show getty@tty1",
                    "systemctl list-unit-files 'getty@*'",
                    "systemctl is-active getty@tty1",
                    "& systemctl start getty@tty1",
                ],
                changed: true,
                msg: None,
                values: json!({"status": {"Id": "getty@tty1.service", "ActiveState": "inactive"}}),
            },
            Case {
                what: "an init script systemd does not know is used, with a warning",
                args: json!({"name": "legacy", "state": "stopped"}),
                check: false,
                answers: &[
                    ("test -x /etc/init.d/legacy", 0, "", ""),
                    ("systemctl show legacy", 0, "LoadState=not-found\nActiveState=active\n", ""),
                ],
                commands: &[
                    "test -x /etc/init.d/legacy",
                    "systemctl show legacy",
                    "& systemctl stop legacy",
                ],
                changed: true,
                msg: None,
                values: json!({}),
            },
        ]
    }

    #[tokio::test]
    async fn commands_and_results_follow_ansible() {
        for case in cases() {
            for module in ["systemd", "systemd_service"] {
                let host = FakeHost::new(case.answers);
                let r = run_module(module, &host, case.args.clone(), case.check).await;
                assert_eq!(host.commands(), case.commands, "{}: commands", case.what);
                assert_eq!(r.changed, case.changed, "{}: changed {r:?}", case.what);
                assert_eq!(r.failed, case.msg.is_some(), "{}: failed {r:?}", case.what);
                assert_eq!(r.msg.as_deref(), case.msg, "{}: msg", case.what);
                for (key, want) in case.values.as_object().unwrap() {
                    assert_eq!(
                        r.values.get(key),
                        Some(want),
                        "{}: {key} in {r:?}",
                        case.what
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn status_is_the_parsed_show_output() {
        let host = FakeHost::new(&[("systemctl show nginx", 0, ACTIVE, "")]);
        let r = run_module(
            "systemd",
            &host,
            json!({"name": "nginx", "state": "started"}),
            false,
        )
        .await;
        assert_eq!(
            r.values["status"],
            json!({
                "Id": "nginx.service",
                "LoadState": "loaded",
                "ActiveState": "active",
                "SubState": "running",
                "ExecStart": "{ path=/usr/sbin/nginx ; argv[]=/usr/sbin/nginx -g daemon on;\n master_process on; ; status=0/0 }",
                "Description": "{curly but one line",
                "UnitFileState": "enabled",
            })
        );
    }

    #[tokio::test]
    async fn init_script_warning() {
        let host = FakeHost::new(&[
            ("test -x /etc/init.d/legacy", 0, "", ""),
            (
                "systemctl show legacy",
                0,
                "LoadState=not-found\nActiveState=inactive\n",
                "",
            ),
        ]);
        let r = run_module(
            "systemd",
            &host,
            json!({"name": "legacy", "state": "stopped"}),
            false,
        )
        .await;
        assert_eq!(
            r.warnings,
            ["The service (legacy) is actually an init script but the system is managed by systemd"]
        );
    }

    #[test]
    fn parse_show_keeps_exec_blocks_together() {
        let parsed = parse_show("A=1\nExecStart={ x\ny }\nB= spaced \nnot a pair\nC=a=b");
        assert_eq!(
            Value::Object(parsed),
            json!({"A": "1", "ExecStart": "{ x\ny }", "B": "spaced", "C": "a=b"})
        );
        assert!(request_was_ignored("Running in chroot, ignoring request."));
        assert!(!request_was_ignored("A=ignoring request"));
    }
}
