//! Keywords (or keyword values) that ply reads but cannot honour yet. Each is refused when the playbook
//! is loaded, naming the keyword and where it is written, because running without it would let the user
//! believe it happened. The keyword-table test (tests/suite/keywords.rs) checks that every keyword ply
//! accepts has either a behaviour test or a refusal test, and this table is where the refusals live.

use crate::error::Error;
use crate::location::Location;

/// (keyword, the form that is refused, why and what to do instead).
pub const REFUSED: &[(&str, &str, &str)] = &[
    (
        "async",
        "a non-zero value",
        "ply runs every task synchronously and has no async_status yet; remove `async`/`poll` (the task then waits) or run the command with `nohup ... &`",
    ),
    (
        "strategy",
        "free, host_pinned or debug",
        "ply runs every play with the linear strategy; remove `strategy` or set it to linear",
    ),
    (
        "debugger",
        "any value but never",
        "ply has no interactive task debugger; remove `debugger`",
    ),
    (
        "fact_path",
        "any value",
        "ply does not gather local facts (ansible_local) yet; remove `fact_path` and read the files with a task",
    ),
    (
        "gather_subset",
        "any value but all",
        "ply gathers one fixed set of facts and cannot narrow it yet; remove `gather_subset` (facts are gathered in full)",
    ),
    (
        "delegate_facts",
        "on a block or a role entry",
        "put `delegate_to` and `delegate_facts` on the tasks themselves",
    ),
    (
        "delegate_to",
        "on a role entry",
        "put `delegate_to` on the role's tasks, or use `include_role` inside a block with `delegate_to`",
    ),
    (
        "vars_prompt",
        "a prompt whose variable is not given with -e",
        "ply never prompts; pass the value with `-e NAME=VALUE` (or `-e @file`)",
    ),
];

/// The load-time error for a refused keyword written at `loc`.
pub fn refuse(keyword: &str, loc: Location) -> Error {
    let (form, why) = REFUSED
        .iter()
        .find(|(name, _, _)| *name == keyword)
        .map_or(("this value", ""), |(_, form, why)| (*form, *why));
    Error::parse(
        loc,
        format!("`{keyword}` ({form}) is not supported by ply yet, and ply does not run a playbook with a keyword it would ignore"),
    )
    .with_hint(why.to_string())
}

/// ply never prompts: every `vars_prompt` variable must come from `-e`, as Ansible skips the prompt
/// for a variable given there.
pub fn check_prompts(
    playbooks: &[super::Playbook],
    extra_vars: &crate::vars::VarMap,
) -> crate::error::Result<()> {
    for play in playbooks.iter().flat_map(|p| p.plays.iter()) {
        for entry in &play.vars_prompt {
            let name = entry.get("name").and_then(serde_json::Value::as_str);
            if name.is_some_and(|name| extra_vars.contains_key(name)) {
                continue;
            }
            let loc = play
                .vars_prompt_loc
                .clone()
                .unwrap_or_else(|| play.loc.clone());
            let mut error = refuse("vars_prompt", loc);
            if let Some(name) = name {
                error = error.with_hint(format!(
                    "ply never prompts; pass the value with `-e {name}=VALUE` (or `-e @file`)"
                ));
            }
            return Err(error);
        }
    }
    Ok(())
}
