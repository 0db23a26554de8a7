//! Checks made when a playbook is loaded, before any host is contacted: module arguments against each
//! module's own spec, every notified handler exists, every template compiles.

use super::play::Play;
use super::task::TaskItem;
use crate::error::{Error, Result};
use crate::suggest;
use crate::template::is_templated;

/// Visits every task under `items`, blocks included.
pub fn each_task<'a>(items: &'a [TaskItem], visit: &mut dyn FnMut(&'a super::task::Task)) {
    for item in items {
        match item {
            TaskItem::Task(task) => visit(task),
            TaskItem::Block(block) => {
                each_task(&block.block, visit);
                each_task(&block.rescue, visit);
                each_task(&block.always, visit);
            }
        }
    }
}

/// A task's module arguments against the module's argument spec: unknown names, and values outside the
/// spec's `choices`. Only what cannot change at run time is judged: templated keys and values are left to
/// the module's own validation when they are known (which words it exactly as Ansible does), and so are
/// missing required arguments, which `module_defaults` or templated mappings may still supply.
pub(crate) fn module_arguments(action: &super::task::Action) -> Result<()> {
    // Engine keywords (include_tasks, import_role, ...) have no driver spec: they check their own options.
    let Some(doc) = modules::doc(action.module) else {
        return Ok(());
    };
    let rules = doc.rules();
    if rules.unknown != modules::UnknownArgs::Accept {
        // A templated value may turn out to be `omit` (`comment: "{{ x | default(omit) }}"`), which drops
        // the argument before the module sees it, so only arguments with plain values are surely unknown.
        let keys = action
            .args
            .iter()
            .filter(|(k, v)| !is_templated(k) && !crate::template::contains_template(v))
            .map(|(k, _)| k.as_str());
        if let Some(key) = modules::unknown_keys(&rules, keys).first() {
            let error = Error::parse(
                action.arg_location(key),
                format!(
                    "unsupported parameter '{key}' for module '{}'",
                    action.module
                ),
            );
            return Err(match suggest::hint(key, modules::known_names(&rules)) {
                Some(hint) => error.with_hint(hint),
                None => error.with_hint(format!(
                    "`ply doc {}` lists the parameters it takes",
                    action.module
                )),
            });
        }
    }
    for (key, value) in &action.args {
        if is_templated(key) || crate::template::contains_template(value) {
            continue;
        }
        let Some(spec) = modules::find_arg(rules.args, key) else {
            continue;
        };
        // A value of the wrong type fails at run time with Ansible's wording; choices compare converted values.
        let Ok(converted) = modules::convert_arg(spec, value) else {
            continue;
        };
        if let Err((message, bad)) = modules::check_choices(spec, &converted) {
            let error = Error::parse(action.arg_location(key), message);
            let hint = bad
                .first()
                .and_then(|b| suggest::hint(b, spec.choices.iter().copied()))
                .unwrap_or_else(|| format!("`ply doc {}` describes each value", action.module));
            return Err(error.with_hint(hint));
        }
    }
    Ok(())
}

/// Every `notify` names a handler (by name, `role : name` or `listen` topic) of the play.
pub fn notify_targets(play: &Play) -> Result<()> {
    let mut known: Vec<String> = Vec::new();
    each_task(&play.handlers, &mut |handler| {
        if let Some(name) = &handler.name {
            known.push(name.clone());
            if let Some(role) = &handler.role {
                known.push(format!("{} : {name}", role.name));
            }
        }
        known.extend(handler.listen.iter().cloned());
    });
    // A handler with a templated name can match anything, so nothing can be proven missing.
    if known.iter().any(|k| is_templated(k)) {
        return Ok(());
    }
    let mut missing: Option<Error> = None;
    let mut check = |notify: &str, loc: &crate::location::Location| {
        if missing.is_none() && !is_templated(notify) && !known.iter().any(|k| k == notify) {
            let error = Error::parse(
                loc.clone(),
                format!("handler '{notify}' was not found in the play's handlers or listen topics"),
            );
            missing = Some(match suggest::hint(notify, known.iter().map(String::as_str)) {
                Some(hint) => error.with_hint(hint),
                None if known.is_empty() => error.with_hint("the play has no handlers: add a `handlers:` section with a task of that name"),
                None => error.with_hint(format!("the play's handlers are: {}", known.join(", "))),
            });
        }
    };
    for (_, section) in play.sections() {
        each_task(section, &mut |task| {
            for notify in &task.notify {
                check(notify, task.notify_loc.as_ref().unwrap_or(&task.loc));
            }
        });
        each_block_notify(section, &mut check);
    }
    each_task(&play.handlers, &mut |task| {
        for notify in &task.notify {
            check(notify, &task.loc);
        }
    });
    missing.map_or(Ok(()), Err)
}

fn each_block_notify(items: &[TaskItem], check: &mut dyn FnMut(&str, &crate::location::Location)) {
    for item in items {
        if let TaskItem::Block(block) = item {
            for notify in &block.notify {
                check(notify, &block.loc);
            }
            each_block_notify(&block.block, check);
            each_block_notify(&block.rescue, check);
            each_block_notify(&block.always, check);
        }
    }
}

/// Every templated string of the play compiles: conditions, names, module arguments, loops and vars.
/// Run by `--syntax-check` and before a run, so a typo in a template fails before any host is touched.
pub fn templates(play: &Play, templar: &crate::template::Templar) -> Result<()> {
    let mut first_error: Option<Error> = None;
    let mut check = |text: &str, bare_expression: bool, loc: &crate::location::Location| {
        if first_error.is_some() {
            return;
        }
        let source = if bare_expression && !is_templated(text) {
            format!("{{{{ {text} }}}}")
        } else {
            text.to_string()
        };
        if !is_templated(&source) {
            return;
        }
        if let Err(error) = templar.check_syntax(&source) {
            let detail = error.to_string();
            let message = if detail.starts_with("template syntax error") {
                detail
            } else {
                format!("template syntax error: {detail}")
            };
            first_error = Some(
                Error::parse(loc.clone(), message)
                    .with_hint("check the Jinja expression: balanced brackets and quotes, and operators between names"),
            );
        }
    };
    let conditions =
        |list: &[super::Condition],
         check: &mut dyn FnMut(&str, bool, &crate::location::Location)| {
            for condition in list {
                check(&condition.expr, true, &condition.loc);
            }
        };
    conditions(&play.import_when, &mut check);
    let mut blocks: Vec<&super::task::Block> = Vec::new();
    for (_, section) in play.sections() {
        collect_blocks(section, &mut blocks);
    }
    collect_blocks(&play.handlers, &mut blocks);
    for block in blocks {
        conditions(&block.when, &mut check);
    }
    let mut visit = |task: &super::task::Task| {
        conditions(&task.when, &mut check);
        conditions(&task.changed_when, &mut check);
        conditions(&task.failed_when, &mut check);
        conditions(&task.until, &mut check);
        if let Some(name) = &task.name {
            check(name, false, &task.loc);
        }
        let mut strings = Vec::new();
        collect_strings(
            &serde_json::Value::Object(task.action.args.clone()),
            &mut strings,
        );
        if let Some(task_loop) = &task.loop_ {
            collect_strings(&task_loop.value, &mut strings);
        }
        for text in strings {
            check(&text, false, &task.action.args_loc);
        }
    };
    for (_, section) in play.sections() {
        each_task(section, &mut visit);
    }
    each_task(&play.handlers, &mut visit);
    first_error.map_or(Ok(()), Err)
}

fn collect_blocks<'a>(items: &'a [TaskItem], out: &mut Vec<&'a super::task::Block>) {
    for item in items {
        if let TaskItem::Block(block) = item {
            out.push(block);
            collect_blocks(&block.block, out);
            collect_blocks(&block.rescue, out);
            collect_blocks(&block.always, out);
        }
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
