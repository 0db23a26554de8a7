//! Which keywords each playbook object accepts (Ansible's field attributes), for validation and
//! "did you mean" hints.

/// Keywords every play, block, role inclusion and task accepts (Ansible's `Base` plus become).
pub const COMMON: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "collections",
    "tags",
];

pub const PLAY: &[&str] = &[
    "hosts",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "vars_files",
    "vars_prompt",
    "roles",
    "handlers",
    "pre_tasks",
    "post_tasks",
    "tasks",
    "force_handlers",
    "max_fail_percentage",
    "serial",
    "strategy",
    "order",
];

pub const BLOCK: &[&str] = &[
    "block",
    "rescue",
    "always",
    "when",
    "delegate_to",
    "delegate_facts",
    "ignore_errors",
    "notify",
];

pub const TASK: &[&str] = &[
    "action",
    "args",
    "async",
    "changed_when",
    "delay",
    "delegate_to",
    "delegate_facts",
    "failed_when",
    "loop",
    "loop_control",
    "local_action",
    "notify",
    "poll",
    "register",
    "retries",
    "until",
    "ignore_errors",
    "listen",
    "when",
];

/// The `with_<lookup>` loops Ansible users write most; any `with_*` key is accepted as a loop.
pub const WITH_LOOPS: &[&str] = &[
    "with_items",
    "with_list",
    "with_dict",
    "with_indexed_items",
    "with_flattened",
    "with_together",
    "with_sequence",
    "with_subelements",
    "with_nested",
    "with_fileglob",
];

pub const LOOP_CONTROL: &[&str] = &[
    "loop_var",
    "index_var",
    "label",
    "pause",
    "extended",
    "extended_allitems",
];

pub const ROLE_INCLUSION: &[&str] = &["role", "when", "delegate_to", "delegate_facts"];

/// Keywords allowed on an `- import_playbook:` entry.
pub const IMPORT_PLAYBOOK: &[&str] = &[
    "import_playbook",
    "ansible.builtin.import_playbook",
    "name",
    "vars",
    "when",
    "tags",
];

/// Does this object accept the keyword?
pub fn accepts(specific: &[&str], key: &str) -> bool {
    COMMON.contains(&key) || specific.contains(&key)
}

/// All keywords of an object, for suggestions.
pub fn all<'a>(specific: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
    COMMON.iter().chain(specific.iter()).copied()
}
