//! The engine-facing entry point and the generic plan/apply driver.
//!
//! Every module decides in `plan` (reading the host, building the diff and the would-be result) and acts in
//! `apply`. The driver runs `apply` only outside check mode, so check mode and `--diff` come from the very
//! code path that the real run takes.

use crate::args;
use crate::contract::{ModuleContext, ModuleResult, VarMap};
use crate::doc::ModuleDoc;
use crate::modules;
use async_trait::async_trait;
use serde::de::DeserializeOwned;

/// What `plan` decided.
pub enum Plan<C> {
    /// Nothing to change: this is the result in check mode and in a real run.
    Done(ModuleResult),
    /// A change to make. `preview` is the result check mode reports; `apply` gets `change` and the preview
    /// to complete outside check mode.
    Change { preview: ModuleResult, change: C },
}

#[async_trait]
pub trait Module: Send + Sync {
    /// The typed arguments, deserialized from the validated arguments.
    type Params: DeserializeOwned + Send + Sync;
    /// What `plan` hands to `apply`.
    type Change: Send;

    fn doc(&self) -> &'static ModuleDoc;

    async fn plan(&self, params: &Self::Params, ctx: &ModuleContext<'_>) -> Plan<Self::Change>;

    /// Modules whose plan is always `Done` keep this default.
    async fn apply(
        &self,
        _params: &Self::Params,
        _change: Self::Change,
        preview: ModuleResult,
        _ctx: &ModuleContext<'_>,
    ) -> ModuleResult {
        preview
    }
}

/// Validates and types the arguments, plans, and applies unless in check mode.
pub async fn drive<M: Module>(module: &M, args: &VarMap, ctx: &ModuleContext<'_>) -> ModuleResult {
    let validated = match args::validate(&module.doc().rules(), args) {
        Ok(v) => v,
        Err(msg) => return ModuleResult::failed(msg),
    };
    let params: M::Params =
        match serde_json::from_value(serde_json::Value::Object(validated.params)) {
            Ok(p) => p,
            Err(e) => return ModuleResult::failed(format!("{}: {e}", module.doc().name)),
        };
    let mut result = match module.plan(&params, ctx).await {
        Plan::Done(result) => result,
        Plan::Change { preview, .. } if ctx.check_mode => preview,
        Plan::Change { preview, change } => module.apply(&params, change, preview, ctx).await,
    };
    // Alias warnings come first, as Ansible emits them while validating.
    if !validated.warnings.is_empty() {
        let mut warnings = validated.warnings;
        warnings.append(&mut result.warnings);
        result.warnings = warnings;
    }
    result
}

/// Runs a module on the host of `ctx`. `module` is the canonical short name (`modules::find(..).name`);
/// `args` are templated, with `omit` values dropped.
pub async fn execute(module: &str, args: &VarMap, ctx: &ModuleContext<'_>) -> ModuleResult {
    match module {
        "command" => drive(&modules::command::Command, args, ctx).await,
        "shell" => drive(&modules::shell::Shell, args, ctx).await,
        "debug" => drive(&modules::debug::Debug, args, ctx).await,
        "set_fact" => drive(&modules::set_fact::SetFact, args, ctx).await,
        "assert" => drive(&modules::assert::Assert, args, ctx).await,
        "fail" => drive(&modules::fail::Fail, args, ctx).await,
        "meta" => drive(&modules::meta::Meta, args, ctx).await,
        "ping" => drive(&modules::ping::Ping, args, ctx).await,
        "pause" => drive(&modules::pause::Pause, args, ctx).await,
        "include_vars" => drive(&modules::include_vars::IncludeVars, args, ctx).await,
        "service" => drive(&modules::service::Service, args, ctx).await,
        "systemd" => {
            drive(
                &modules::systemd::Systemd(&modules::systemd::DOC),
                args,
                ctx,
            )
            .await
        }
        "systemd_service" => {
            let module = modules::systemd::Systemd(&modules::systemd::DOC_SYSTEMD_SERVICE);
            drive(&module, args, ctx).await
        }
        "wait_for" => drive(&modules::wait_for::WaitFor, args, ctx).await,
        "lineinfile" => drive(&modules::lineinfile::Lineinfile, args, ctx).await,
        "copy" => drive(&modules::copy::Copy, args, ctx).await,
        "template" => drive(&modules::template::Template, args, ctx).await,
        "file" => drive(&modules::file::File, args, ctx).await,
        "stat" => drive(&modules::stat::Stat, args, ctx).await,
        "sql" => drive(&modules::sql::Sql(&modules::sql::DOC), args, ctx).await,
        "postgresql_query" => drive(&modules::sql::Sql(&modules::sql::DOC_QUERY), args, ctx).await,
        "postgresql_user" => drive(&modules::sql::Sql(&modules::sql::DOC_USER), args, ctx).await,
        "postgresql_slot" => drive(&modules::sql::Sql(&modules::sql::DOC_SLOT), args, ctx).await,
        "postgresql_db" => drive(&modules::sql::Sql(&modules::sql::DOC_DB), args, ctx).await,
        "postgresql_ping" => drive(&modules::sql::Sql(&modules::sql::DOC_PING), args, ctx).await,
        "rsync" => drive(&modules::rsync::Rsync { synchronize: false }, args, ctx).await,
        "synchronize" => drive(&modules::rsync::Rsync { synchronize: true }, args, ctx).await,
        other => ModuleResult::failed(format!(
            "The module {other} was not found in configured module paths"
        )),
    }
}

/// Whether `module` (a canonical short name) runs on the controller only and so needs no connection
/// (see [`crate::NoHost`]).
pub fn runs_on_controller(module: &str) -> bool {
    matches!(
        module,
        "debug" | "set_fact" | "assert" | "fail" | "meta" | "pause" | "include_vars"
    )
}

/// Whether `execute` can run `module` (a canonical short name).
pub fn is_implemented(module: &str) -> bool {
    doc(module).is_some()
}

/// The documentation (and argument spec) of an implemented module.
pub fn doc(module: &str) -> Option<&'static ModuleDoc> {
    Some(match module {
        "command" => &modules::command::DOC,
        "shell" => &modules::shell::DOC,
        "debug" => &modules::debug::DOC,
        "set_fact" => &modules::set_fact::DOC,
        "assert" => &modules::assert::DOC,
        "fail" => &modules::fail::DOC,
        "meta" => &modules::meta::DOC,
        "ping" => &modules::ping::DOC,
        "pause" => &modules::pause::DOC,
        "include_vars" => &modules::include_vars::DOC,
        "service" => &modules::service::DOC,
        "systemd" => &modules::systemd::DOC,
        "systemd_service" => &modules::systemd::DOC_SYSTEMD_SERVICE,
        "wait_for" => &modules::wait_for::DOC,
        "lineinfile" => &modules::lineinfile::DOC,
        "copy" => &modules::copy::DOC,
        "template" => &modules::template::DOC,
        "file" => &modules::file::DOC,
        "stat" => &modules::stat::DOC,
        "sql" => &modules::sql::DOC,
        "postgresql_query" => &modules::sql::DOC_QUERY,
        "postgresql_user" => &modules::sql::DOC_USER,
        "postgresql_slot" => &modules::sql::DOC_SLOT,
        "postgresql_db" => &modules::sql::DOC_DB,
        "postgresql_ping" => &modules::sql::DOC_PING,
        "rsync" => &modules::rsync::DOC,
        "synchronize" => &modules::rsync::DOC_SYNCHRONIZE,
        _ => return None,
    })
}
