//! Plays and how they are read from YAML.

use super::fields::{self, Condition};
use super::keyword_set::Keywords;
use super::keywords;
use super::loader::{Loader, Scope};
use super::task::TaskItem;
use crate::error::{Error, Result};
use crate::location::Location;
use crate::suggest;
use crate::yaml::{Node, NodeValue};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Play {
    pub loc: Location,
    pub name: Option<String>,
    /// The host pattern, as written (a list is joined with commas, like Ansible does).
    pub hosts: String,
    pub keywords: Keywords,
    pub gather_facts: Option<Value>,
    pub vars_files: Vec<Value>,
    /// `vars_prompt` as written: ply does not prompt, but the names it would define are known names.
    pub vars_prompt: Vec<Value>,
    pub vars_prompt_loc: Option<Location>,
    pub serial: Vec<Value>,
    pub strategy: Option<String>,
    pub max_fail_percentage: Option<Value>,
    pub force_handlers: Option<Value>,
    /// Seconds fact gathering may take per host (Ansible's default is 10).
    pub gather_timeout: Option<Value>,
    pub order: Option<String>,
    pub pre_tasks: Vec<TaskItem>,
    /// The play's roles, expanded to blocks; they run before `tasks`, in the same section.
    pub roles: Vec<TaskItem>,
    pub tasks: Vec<TaskItem>,
    pub post_tasks: Vec<TaskItem>,
    /// The play's handlers followed by its roles' handlers.
    pub handlers: Vec<TaskItem>,
    /// Conditions from an `import_playbook` entry, applied to every task of the play.
    pub import_when: Vec<Condition>,
}

impl Play {
    /// What `PLAY [...]` shows: the name, or the host pattern when unnamed.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.hosts)
    }

    /// Every task section in running order, with the name Ansible gives it.
    pub fn sections(&self) -> [(&'static str, &[TaskItem]); 4] {
        [
            ("pre_tasks", &self.pre_tasks),
            ("roles", &self.roles),
            ("tasks", &self.tasks),
            ("post_tasks", &self.post_tasks),
        ]
    }
}

impl Loader {
    pub(crate) fn play(&mut self, node: &Node, scope: &Scope) -> Result<Play> {
        let entries = node.as_map().ok_or_else(|| {
            Error::parse(
                node.loc.clone(),
                "playbook entries must be either valid plays or 'import_playbook' statements",
            )
            .with_hint(format!(
                "this entry is {}; a play is a mapping that starts with `- hosts: ...`",
                node.kind_name()
            ))
        })?;
        let mut play = Play {
            loc: node.loc.clone(),
            name: None,
            hosts: String::new(),
            keywords: Keywords::default(),
            gather_facts: None,
            vars_files: Vec::new(),
            vars_prompt: Vec::new(),
            vars_prompt_loc: None,
            serial: Vec::new(),
            strategy: None,
            max_fail_percentage: None,
            force_handlers: None,
            gather_timeout: None,
            order: None,
            pre_tasks: Vec::new(),
            roles: Vec::new(),
            tasks: Vec::new(),
            post_tasks: Vec::new(),
            handlers: Vec::new(),
            import_when: Vec::new(),
        };
        let mut hosts_seen = false;
        self.role_handlers.clear();
        for (key_node, value) in entries {
            let key = key_node.key_text();
            if play.keywords.read(&key, value)? {
                if key == "name" {
                    play.name = Some(fields::string(&key, value)?);
                }
                continue;
            }
            match key.as_str() {
                "hosts" => {
                    hosts_seen = true;
                    play.hosts = hosts_pattern(value, &key_node.loc)?;
                }
                "gather_facts" => play.gather_facts = Some(fields::boolish(&key, value)?),
                "vars_files" => {
                    play.vars_files = fields::sequence(&key, value)?
                        .iter()
                        .map(Node::to_json)
                        .collect()
                }
                "serial" => play.serial = serial(value)?,
                "strategy" => play.strategy = Some(strategy(value)?),
                "max_fail_percentage" => play.max_fail_percentage = Some(percentage(&key, value)?),
                "force_handlers" => play.force_handlers = Some(fields::boolish(&key, value)?),
                "order" => play.order = Some(host_order(value)?),
                "pre_tasks" => play.pre_tasks = self.task_list(&key, value, scope)?,
                "roles" => play.roles = self.play_roles(value, scope)?,
                "tasks" => play.tasks = self.task_list(&key, value, scope)?,
                "post_tasks" => play.post_tasks = self.task_list(&key, value, scope)?,
                "handlers" => play.handlers = self.task_list(&key, value, scope)?,
                "vars_prompt" => {
                    play.vars_prompt_loc = Some(key_node.loc.clone());
                    play.vars_prompt = match value.to_json() {
                        Value::Array(items) => items,
                        other => vec![other],
                    }
                }
                "gather_timeout" => {
                    play.gather_timeout = Some(fields::int_or_template(&key, value)?)
                }
                "gather_subset" => {
                    let subsets = fields::string_list(&key, value, true)?;
                    if subsets.iter().any(|s| s != "all") {
                        return Err(super::unsupported::refuse(
                            "gather_subset",
                            key_node.loc.clone(),
                        ));
                    }
                }
                "fact_path" => {
                    return Err(super::unsupported::refuse(
                        "fact_path",
                        key_node.loc.clone(),
                    ))
                }
                _ => {
                    let error = Error::parse(
                        key_node.loc.clone(),
                        format!("unknown play keyword '{key}'"),
                    );
                    let looks_like_task =
                        modules::find(&key).is_some() || keywords::TASK.contains(&key.as_str());
                    return Err(match suggest::hint(&key, keywords::all(keywords::PLAY)) {
                        Some(hint) => error.with_hint(hint),
                        None if looks_like_task => {
                            error.with_hint("tasks go in a list under `tasks:`")
                        }
                        None => {
                            error.with_hint(format!("a play accepts {}", keywords::PLAY.join(", ")))
                        }
                    });
                }
            }
        }
        if !hosts_seen {
            return Err(Error::parse(
                node.loc.clone(),
                "the field 'hosts' is required but was not set",
            )
            .with_hint("add `hosts: all` (or a group or host pattern) to the play"));
        }
        play.handlers.append(&mut self.role_handlers);
        Ok(play)
    }
}

fn hosts_pattern(node: &Node, key_loc: &Location) -> Result<String> {
    let pattern = match &node.value {
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| fields::string("hosts", i))
            .collect::<Result<Vec<_>>>()?
            .join(","),
        NodeValue::Null => String::new(),
        _ => fields::string("hosts", node)?,
    };
    if pattern.trim().is_empty() {
        return Err(Error::parse(
            key_loc.clone(),
            "Hosts list cannot be empty. Please check your playbook",
        )
        .with_hint("name a group or host pattern, e.g. `hosts: all`"));
    }
    Ok(pattern)
}

/// `serial: 2`, `serial: "30%"`, or a list of them for growing batches.
fn serial(node: &Node) -> Result<Vec<Value>> {
    let one = |n: &Node| -> Result<Value> {
        match &n.value {
            NodeValue::Int(i) if *i >= 0 => Ok(Value::from(*i)),
            NodeValue::String(s) if crate::template::is_templated(s) => {
                Ok(Value::String(s.clone()))
            }
            NodeValue::String(s) if s.trim_end_matches('%').trim().parse::<f64>().is_ok() => {
                Ok(Value::String(s.clone()))
            }
            _ => Err(Error::parse(
                n.loc.clone(),
                format!("invalid serial value {}", fields::describe(n)),
            )
            .with_hint("serial takes an integer, a percentage such as '30%' or a list of them")),
        }
    };
    match &node.value {
        NodeValue::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

/// The play's host `order`: one of Ansible's five.
fn host_order(node: &Node) -> Result<String> {
    const ORDERS: [&str; 5] = [
        "inventory",
        "reverse_inventory",
        "sorted",
        "reverse_sorted",
        "shuffle",
    ];
    let order = fields::string("order", node)?;
    if ORDERS.contains(&order.as_str()) {
        return Ok(order);
    }
    Err(
        Error::parse(node.loc.clone(), format!("invalid play order '{order}'")).with_hint(
            suggest::hint(&order, ORDERS)
                .unwrap_or_else(|| format!("order takes one of {}", ORDERS.join(", "))),
        ),
    )
}

fn strategy(node: &Node) -> Result<String> {
    let name = fields::string("strategy", node)?;
    match name.as_str() {
        "linear" | "ansible.builtin.linear" => Ok(name),
        "free"
        | "host_pinned"
        | "debug"
        | "ansible.builtin.free"
        | "ansible.builtin.host_pinned"
        | "ansible.builtin.debug" => Err(super::unsupported::refuse("strategy", node.loc.clone())),
        _ => Err(
            Error::parse(node.loc.clone(), format!("unknown strategy '{name}'")).with_hint(
                suggest::hint(&name, ["linear", "free", "host_pinned"])
                    .unwrap_or_else(|| "ply runs plays with the linear strategy".into()),
            ),
        ),
    }
}

fn percentage(key: &str, node: &Node) -> Result<Value> {
    match &node.value {
        NodeValue::Int(i) if (0..=100).contains(i) => Ok(Value::from(*i)),
        NodeValue::Float(f) if (0.0..=100.0).contains(f) => Ok(node.to_json()),
        NodeValue::String(s) if crate::template::is_templated(s) => Ok(Value::String(s.clone())),
        _ => Err(Error::parse(
            node.loc.clone(),
            format!(
                "'{key}' must be a percentage from 0 to 100, got {}",
                fields::describe(node)
            ),
        )),
    }
}
