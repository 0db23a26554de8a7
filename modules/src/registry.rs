//! The names under which each module may be written in a playbook.

/// One module: its canonical short name, the collections whose fully qualified names also reach it, and
/// other names (Ansible modules that ply serves with the same implementation).
#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub collections: &'static [&'static str],
    /// Whether the module takes a free-form string (`command: ls -l`) rather than only `k=v` pairs.
    pub free_form: bool,
}

const BUILTIN: &[&str] = &["ansible.builtin", "ansible.legacy"];
const POSTGRES: &[&str] = &["community.postgresql"];
const POSIX: &[&str] = &["ansible.posix"];

const fn spec(
    name: &'static str,
    collections: &'static [&'static str],
    free_form: bool,
) -> ModuleSpec {
    ModuleSpec {
        name,
        collections,
        free_form,
    }
}

/// Every module ply knows, in the order `ply` documents them.
pub static REGISTRY: &[ModuleSpec] = &[
    spec("command", BUILTIN, true),
    spec("shell", BUILTIN, true),
    spec("raw", BUILTIN, true),
    spec("script", BUILTIN, true),
    spec("debug", BUILTIN, false),
    spec("set_fact", BUILTIN, false),
    spec("assert", BUILTIN, false),
    spec("fail", BUILTIN, false),
    spec("meta", BUILTIN, true),
    spec("ping", BUILTIN, false),
    spec("pause", BUILTIN, false),
    spec("include_vars", BUILTIN, true),
    spec("include_tasks", BUILTIN, true),
    spec("import_tasks", BUILTIN, true),
    spec("include_role", BUILTIN, false),
    spec("import_role", BUILTIN, false),
    spec("setup", BUILTIN, false),
    spec("gather_facts", BUILTIN, false),
    spec("lineinfile", BUILTIN, false),
    spec("template", BUILTIN, false),
    spec("copy", BUILTIN, false),
    spec("file", BUILTIN, false),
    spec("stat", BUILTIN, false),
    spec("service", BUILTIN, false),
    spec("systemd", BUILTIN, false),
    spec("systemd_service", BUILTIN, false),
    spec("wait_for", BUILTIN, false),
    spec("sql", &[], false),
    spec("postgresql_query", POSTGRES, false),
    spec("postgresql_user", POSTGRES, false),
    spec("postgresql_slot", POSTGRES, false),
    spec("postgresql_db", POSTGRES, false),
    spec("postgresql_ping", POSTGRES, false),
    spec("rsync", &[], false),
    spec("synchronize", POSIX, false),
];

/// What ply's engine does for the registry's names that are keywords of the engine rather than modules
/// (Ansible's strategy handles them the same way): `ply doc` describes them, as (one line, details).
pub fn engine_keyword(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "include_tasks" => (
            "Include a task file for each host when the task is reached (engine keyword)",
            "Loops, when and vars apply to the include; apply: passes keywords to the included tasks.",
        ),
        "import_tasks" => (
            "Insert a task file into the play when it is loaded (engine keyword)",
            "The task's tags, when and vars apply to every imported task.",
        ),
        "include_role" => (
            "Run a role for each host when the task is reached (engine keyword)",
            "Takes name, tasks_from, vars_from, defaults_from, handlers_from, public and apply; role \
             variables go in vars:.",
        ),
        "import_role" => (
            "Insert a role's tasks into the play when it is loaded (engine keyword)",
            "Takes name, tasks_from, vars_from, defaults_from and handlers_from; the role's defaults and \
             vars are visible to the whole play.",
        ),
        _ => return None,
    })
}

/// Why a registered name is neither a module ply implements nor an engine keyword: a task that uses it
/// is refused before the run, and `ply doc` says so instead of pretending.
pub fn unavailable_reason(name: &str) -> &'static str {
    match name {
        "setup" | "gather_facts" => {
            "not available as a task in this version of ply (refused when the playbook is loaded): \
             facts are gathered by the play's `gather_facts: true`"
        }
        _ => "not available in this version of ply (a task that uses it is refused when the playbook is loaded)",
    }
}

/// Looks a module up by any name it may be written under (`copy`, `ansible.builtin.copy`, ...).
pub fn find(written: &str) -> Option<&'static ModuleSpec> {
    match written.rsplit_once('.') {
        None => REGISTRY.iter().find(|m| m.name == written),
        Some((collection, name)) => REGISTRY
            .iter()
            .find(|m| m.name == name && m.collections.contains(&collection)),
    }
}

/// Every name a module may be written under, for "did you mean" suggestions.
pub fn names() -> impl Iterator<Item = String> {
    REGISTRY.iter().flat_map(|m| {
        std::iter::once(m.name.to_string())
            .chain(m.collections.iter().map(move |c| format!("{c}.{}", m.name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_short_and_qualified_names() {
        let cases = [
            ("copy", Some("copy")),
            ("ansible.builtin.copy", Some("copy")),
            ("ansible.legacy.shell", Some("shell")),
            (
                "community.postgresql.postgresql_query",
                Some("postgresql_query"),
            ),
            ("ansible.posix.synchronize", Some("synchronize")),
            ("ansible.builtin.postgresql_query", None),
            ("ansible.posix.copy", None),
            ("linein_file", None),
        ];
        for (written, expected) in cases {
            assert_eq!(find(written).map(|m| m.name), expected, "{written}");
        }
    }

    #[test]
    fn names_include_qualified_forms() {
        let all: Vec<String> = names().collect();
        assert!(all.contains(&"ansible.builtin.lineinfile".to_string()));
        assert!(all.contains(&"sql".to_string()));
    }
}
