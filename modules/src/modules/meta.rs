//! ansible.builtin.meta: control actions the executor carries out (flush handlers, end the play, ...).

use crate::args::{ArgSpec, ArgType, UnknownArgs};
use crate::contract::{MetaAction, ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;

const ARGS: &[ArgSpec] = &[ArgSpec::new("_raw_params", ArgType::Str, "").required()];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "meta",
    short_description: "Execute Ansible 'actions'",
    description: "Meta tasks are a special kind of task which can influence Ansible internal execution or \
        state. Meta tasks can be used anywhere within your playbook.",
    free_form: Some(
        "This module takes a free form command, as a string. There is not an actual option named 'free \
         form'. One of: flush_handlers, refresh_inventory, noop, clear_facts, clear_host_errors, end_play, \
         end_host, end_batch, reset_connection.",
    ),
    args: ARGS,
    unknown_args: UnknownArgs::Action,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[],
    notes: &["Meta tasks are carried out by the executor; they report no regular result."],
    example: r#"- name: Run the handlers notified so far
  ansible.builtin.meta: flush_handlers

- name: End the play for hosts that are not ready
  ansible.builtin.meta: end_host
  when: not ready
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(rename = "_raw_params")]
    action: String,
}

pub fn parse(action: &str) -> Option<MetaAction> {
    Some(match action {
        "flush_handlers" => MetaAction::FlushHandlers,
        "end_play" => MetaAction::EndPlay,
        "end_host" => MetaAction::EndHost,
        "end_batch" => MetaAction::EndBatch,
        "noop" => MetaAction::Noop,
        "clear_facts" => MetaAction::ClearFacts,
        "clear_host_errors" => MetaAction::ClearHostErrors,
        "refresh_inventory" => MetaAction::RefreshInventory,
        "reset_connection" => MetaAction::ResetConnection,
        _ => return None,
    })
}

pub struct Meta;

#[async_trait]
impl Module for Meta {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, _ctx: &ModuleContext<'_>) -> Plan<()> {
        let action = p.action.trim();
        Plan::Done(match parse(action) {
            Some(meta) => ModuleResult {
                meta: Some(meta),
                ..ModuleResult::default()
            },
            None => ModuleResult::failed(format!("invalid meta action requested: {action}")),
        })
    }
}
