//! Checks that need the whole play: every notified handler exists.

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
