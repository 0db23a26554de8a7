//! `--list-hosts`, `--list-tasks` and `--list-tags`, in ansible-playbook's exact format.

use crate::playbook::{tags::should_run, Play, Playbook, TaskItem};
use crate::Result;
use std::collections::BTreeSet;
use std::fmt::Write;

pub struct ListRequest<'a> {
    pub hosts: bool,
    pub tasks: bool,
    pub tags: bool,
    pub only_tags: &'a [String],
    pub skip_tags: &'a [String],
}

/// The listing for one playbook. `hosts_of` resolves a play's pattern to hosts (with `--limit` applied).
pub fn render(
    playbook: &Playbook,
    shown_path: &str,
    request: &ListRequest<'_>,
    hosts_of: &mut dyn FnMut(&Play) -> Result<Vec<String>>,
) -> Result<String> {
    let mut out = format!("\nplaybook: {shown_path}\n");
    for (index, play) in playbook.plays.iter().enumerate() {
        let play_tags: BTreeSet<String> = play.keywords.tags.iter().cloned().collect();
        // Ansible prints a Python set here, whose order varies run to run; written order is the stable choice.
        let mut written_tags: Vec<&String> = Vec::new();
        for tag in &play.keywords.tags {
            if !written_tags.contains(&tag) {
                written_tags.push(tag);
            }
        }
        let _ = write!(
            out,
            "\n  play #{} ({}): {}\tTAGS: [{}]",
            index + 1,
            play.hosts,
            play.display_name(),
            written_tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        if request.hosts {
            let hosts = hosts_of(play)?;
            let pattern: Vec<String> = play
                .hosts
                .split(',')
                .map(|p| format!("'{}'", p.trim()))
                .collect();
            let _ = write!(
                out,
                "\n    pattern: [{}]\n    hosts ({}):",
                pattern.join(", "),
                hosts.len()
            );
            for host in hosts {
                let _ = write!(out, "\n      {host}");
            }
        }
        out.push('\n');
        if request.tasks || request.tags {
            let mut lines = String::new();
            let mut all_tags = BTreeSet::new();
            for (_, section) in play.sections() {
                list_items(section, &play_tags, request, &mut lines, &mut all_tags);
            }
            let mut message = String::new();
            if request.tasks {
                message.push_str("    tasks:\n");
                message.push_str(&lines);
            }
            if request.tags {
                let union: BTreeSet<&String> = play_tags.iter().chain(all_tags.iter()).collect();
                let _ = writeln!(
                    message,
                    "      TASK TAGS: [{}]",
                    union.into_iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            // Ansible's display() replaces one trailing newline, so the block ends with a single one.
            out.push_str(&message);
        }
    }
    Ok(out)
}

/// Like Ansible, only the `block:` part of blocks is listed (not rescue/always), tags are inherited, and
/// tasks the tag selection skips are left out.
fn list_items(
    items: &[TaskItem],
    inherited: &BTreeSet<String>,
    request: &ListRequest<'_>,
    lines: &mut String,
    all_tags: &mut BTreeSet<String>,
) {
    for item in items {
        match item {
            TaskItem::Block(block) => {
                let mut tags = inherited.clone();
                tags.extend(block.keywords.tags.iter().cloned());
                list_items(&block.block, &tags, request, lines, all_tags);
            }
            TaskItem::Task(task) => {
                let mut tags = inherited.clone();
                tags.extend(task.keywords.tags.iter().cloned());
                // --list-tags shows every tag a run could select, `never` ones included.
                all_tags.extend(tags.iter().cloned());
                if !should_run(&tags, request.only_tags, request.skip_tags) {
                    continue;
                }
                let _ = writeln!(
                    lines,
                    "      {}\tTAGS: [{}]",
                    task.display_name(),
                    tags.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
}
