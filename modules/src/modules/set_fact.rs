//! ansible.builtin.set_fact: defines variables for the host (set_fact precedence).

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{FactLevel, ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

const ARGS: &[ArgSpec] = &[ArgSpec::new(
    "cacheable",
    ArgType::Bool,
    "This boolean converts the variable into an actual 'fact' which will also be added to the fact cache. \
     ply keeps no fact cache between runs, so this is accepted and has no further effect.",
)
.default(ArgDefault::Bool(false))];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "set_fact",
    short_description: "Set host variable(s) and fact(s)",
    description: "This action allows setting variables associated to the current host. These variables will be \
        available to subsequent plays during an ansible-playbook run via the host they were set on. Any \
        key=value pair is a variable to set; the value may be any type.",
    free_form: None,
    args: ARGS,
    unknown_args: UnknownArgs::Accept,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[ReturnDoc::new(
        "ansible_facts",
        "dict",
        "always",
        "The variables set, for the host.",
    )],
    notes: &[
        "String values 'true', 'false', 'yes' and 'no' (any case) become booleans, as in Ansible without \
         jinja2_native.",
    ],
    example: r#"- name: Setting host facts using key=value pairs
  ansible.builtin.set_fact: one_fact="something" other_fact="{{ local_var }}"

- name: Setting host facts using complex arguments
  ansible.builtin.set_fact:
    one_fact: something
    other_fact: "{{ local_var * 2 }}"
    another_fact: "{{ some_registered_var.results | map(attribute='ansible_facts.some_fact') | list }}"
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(default)]
    #[allow(dead_code)] // accepted for Ansible compatibility; ply has no fact cache
    cacheable: bool,
    #[serde(flatten)]
    facts: VarMap,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

pub struct SetFact;

#[async_trait]
impl Module for SetFact {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, _ctx: &ModuleContext<'_>) -> Plan<()> {
        if p.facts.is_empty() {
            return Plan::Done(ModuleResult::failed(
                "No key/value pairs provided, at least one is required for this action to succeed",
            ));
        }
        let mut facts = VarMap::new();
        for (name, value) in &p.facts {
            if !is_identifier(name) {
                return Plan::Done(ModuleResult::failed(format!(
                    "The variable name '{name}' is not valid. Variables must start with a letter or underscore \
                     character, and contain only letters, numbers and underscores."
                )));
            }
            let value = match value {
                Value::String(s) if matches!(s.to_lowercase().as_str(), "true" | "yes") => {
                    Value::Bool(true)
                }
                Value::String(s) if matches!(s.to_lowercase().as_str(), "false" | "no") => {
                    Value::Bool(false)
                }
                other => other.clone(),
            };
            facts.insert(name.clone(), value);
        }
        Plan::Done(ModuleResult {
            facts,
            fact_level: FactLevel::SetFact,
            ..ModuleResult::default()
        })
    }
}
