//! Hostile input gets a clear error, in bounded memory: alias bombs, deep nesting, recursive imports and
//! includes, huge host ranges and megabyte lines are refused with the file, the line and the limit, by the
//! real `ply` binary. Each case writes its files into a temporary folder. How fast and in how much memory
//! they are refused is measured by hand (README.md, "Hostile input"), not asserted here.

use ply_tests::Ply;
use std::fs;

/// A play on localhost with these tasks (indented as a play's `tasks:` entries).
fn play(tasks: &str) -> String {
    format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
}

/// Nine levels of nine aliases: 387 million nodes once copied.
fn billion_laughs() -> String {
    let mut vars = String::from("    a: &a [x, x, x, x, x, x, x, x, x]\n");
    for (name, previous) in "bcdefghi".chars().zip("abcdefgh".chars()) {
        let aliases = vec![format!("*{previous}"); 9].join(", ");
        vars.push_str(&format!("    {name}: &{name} [{aliases}]\n"));
    }
    format!("- hosts: localhost\n  gather_facts: false\n  vars:\n{vars}  tasks: []\n")
}

fn file(path: &str, text: impl Into<String>) -> (String, String) {
    (path.to_string(), text.into())
}

struct Case {
    name: &'static str,
    /// Files to write, relative to the case's folder, where ply runs.
    files: Vec<(String, String)>,
    args: &'static [&'static str],
    /// 4 for a load error, 2 for a host whose task failed at run time, 0 for input read as Ansible does.
    code: i32,
    /// Every one of these is in the output (stderr for load errors, stdout for a failed task).
    says: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    const SYNTAX_CHECK: &[&str] = &["run", "site.yml", "-i", "localhost,", "--syntax-check"];
    const RUN: &[&str] = &["run", "site.yml", "-i", "localhost,"];
    const LIST: &[&str] = &["inventory", "-i", "hosts", "--list"];
    vec![
        Case {
            name: "a billion laughs alias bomb",
            files: vec![file("site.yml", billion_laughs())],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec![
                "YAML alias expansion limit",
                "more than 1000000 nodes",
                "--> site.yml:9:",
            ],
        },
        Case {
            name: "20000 nested block sequences",
            files: vec![file("site.yml", format!("{}x\n", "- ".repeat(20_000)))],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec![
                "YAML nesting depth limit",
                "more than 128 levels",
                "--> site.yml:1:257",
            ],
        },
        Case {
            name: "20000 nested flow sequences",
            files: vec![file(
                "site.yml",
                format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000)),
            )],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec!["YAML nesting depth limit", "--> site.yml:1:"],
        },
        Case {
            name: "a deeply nested JSON extra vars file",
            files: vec![
                file("site.yml", play("    - debug: msg=hi\n")),
                file(
                    "vars.json",
                    format!("{{\"x\": {}1{}}}\n", "[".repeat(200), "]".repeat(200)),
                ),
            ],
            args: &[
                "run",
                "site.yml",
                "-i",
                "localhost,",
                "-e",
                "@vars.json",
                "--syntax-check",
            ],
            code: 4,
            says: vec!["YAML nesting depth limit", "--> vars.json:1:"],
        },
        Case {
            name: "import_tasks files that import each other",
            files: vec![
                file("site.yml", play("    - import_tasks: a.yml\n")),
                file("a.yml", "- debug: msg=a\n- import_tasks: b.yml\n"),
                file("b.yml", "- import_tasks: a.yml\n"),
            ],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec![
                "import recursion: a.yml -> b.yml -> a.yml",
                "--> b.yml:1:17",
                "a.yml:2:17 imports b.yml, b.yml:1:17 imports a.yml",
            ],
        },
        Case {
            name: "a playbook that imports itself",
            files: vec![file("site.yml", "- import_playbook: site.yml\n")],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec!["import recursion: site.yml -> site.yml", "--> site.yml:1:20"],
        },
        Case {
            name: "roles that depend on each other",
            files: vec![
                file(
                    "site.yml",
                    "- hosts: localhost\n  gather_facts: false\n  roles: [r1]\n",
                ),
                file("roles/r1/meta/main.yml", "dependencies: [r2]\n"),
                file("roles/r1/tasks/main.yml", "- debug: msg=r1\n"),
                file("roles/r2/meta/main.yml", "dependencies: [r1]\n"),
                file("roles/r2/tasks/main.yml", "- debug: msg=r2\n"),
            ],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec![
                "role recursion: r1 -> r2 -> r1",
                "--> roles/r2/meta/main.yml:1:16",
            ],
        },
        Case {
            name: "a role that imports itself",
            files: vec![
                file(
                    "site.yml",
                    "- hosts: localhost\n  gather_facts: false\n  roles: [r]\n",
                ),
                file("roles/r/tasks/main.yml", "- import_role: name=r\n"),
            ],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec!["role recursion: r -> r", "--> roles/r/tasks/main.yml:1:"],
        },
        Case {
            name: "a chain of 70 imported task files",
            files: (1..=70)
                .map(|i| file(&format!("t{i}.yml"), format!("- import_tasks: t{}.yml\n", i + 1)))
                .chain([
                    file("t71.yml", "- debug: msg=bottom\n"),
                    file("site.yml", play("    - import_tasks: t1.yml\n")),
                ])
                .collect(),
            args: SYNTAX_CHECK,
            code: 4,
            says: vec!["nesting limit", "more than 64 levels", "--> t64.yml:1:3"],
        },
        Case {
            name: "include_tasks of itself without a guard",
            files: vec![
                file("site.yml", play("    - include_tasks: again.yml\n")),
                file("again.yml", "- include_tasks: again.yml\n"),
            ],
            args: RUN,
            code: 2,
            says: vec![
                "include recursion limit reached",
                "more than 64 levels",
                "site.yml:4 -> again.yml:1 -> again.yml:1 -> \u{2026} (59 more) -> again.yml:1",
                "--> again.yml:1:3",
            ],
        },
        Case {
            name: "include_role of itself without a guard",
            files: vec![
                file("site.yml", play("    - include_role: name=r\n")),
                file("roles/r/tasks/main.yml", "- include_role: name=r\n"),
            ],
            args: RUN,
            code: 2,
            says: vec![
                "include recursion limit reached",
                "site.yml:4 -> roles/r/tasks/main.yml:1 -> ",
            ],
        },
        Case {
            name: "an INI host range of 50 million hosts",
            files: vec![file("hosts", "[web]\nweb[1:50000000]\n")],
            args: LIST,
            code: 4,
            says: vec![
                "host range limit: 'web[1:50000000]' would expand to 50000000 hosts, more than the 100000",
                "/hosts:2:1",
            ],
        },
        Case {
            name: "two INI host ranges that multiply past the limit",
            files: vec![file("hosts", "[web]\n\nweb[1:1000]-[1:1000] x=1\n")],
            args: LIST,
            code: 4,
            says: vec!["would expand to 1000000 hosts", "/hosts:3:1"],
        },
        Case {
            name: "range lines that together pass the inventory's host limit",
            files: vec![file(
                "hosts",
                (1..=3).map(|i| format!("w{i}-[1:100000]\n")).collect::<String>(),
            )],
            args: LIST,
            code: 4,
            says: vec![
                "inventory host limit: these hosts would make 300000, more than the 200000",
                "/hosts:3:1",
            ],
        },
        Case {
            name: "a chain of 20000 INI groups",
            files: vec![file(
                "hosts",
                (1..=20_000)
                    .map(|i| format!("[g{i}:children]\ng{}\n", i + 1))
                    .collect::<String>(),
            )],
            args: LIST,
            code: 4,
            says: vec![
                "group nesting limit: adding group 'g130' as child to 'g129' nests groups more than 128 levels deep",
                "/hosts:259:1",
            ],
        },
        Case {
            // Python's ast.literal_eval refuses more than 200 levels, so Ansible keeps the text.
            name: "an INI value nested 20000 levels deep",
            files: vec![file(
                "hosts",
                format!("web1 x={}{}\n", "[".repeat(20_000), "]".repeat(20_000)),
            )],
            args: &["inventory", "-i", "hosts", "--host", "web1"],
            code: 0,
            says: vec!["\"x\": \"[[[["],
        },
        Case {
            name: "a YAML inventory host range of 50 million hosts",
            files: vec![file(
                "hosts",
                "all:\n  children:\n    web:\n      hosts:\n        web[1:50000000]:\n",
            )],
            args: LIST,
            code: 4,
            says: vec!["host range limit", "50000000 hosts", "/hosts:5:9"],
        },
        Case {
            name: "a YAML syntax error at the end of a 10 MB line",
            files: vec![file(
                "site.yml",
                format!("- hosts: all\n  vars:\n    x: {} : y\n", "a".repeat(10 << 20)),
            )],
            args: SYNTAX_CHECK,
            code: 4,
            says: vec!["--> site.yml:3:", "| \u{2026}aaaa", "aaaa : y\n"],
        },
        Case {
            name: "an INI error in a 10 MB line",
            files: vec![file("hosts", format!("[web]\nweb1 {}\n", "v".repeat(10 << 20)))],
            args: LIST,
            code: 4,
            says: vec!["got: vvvv", "vvvv\u{2026}\n", "/hosts:2:6"],
        },
    ]
}

#[test]
fn hostile_input_is_refused_with_the_file_line_and_limit() {
    for case in cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in &case.files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().expect("in the folder")).expect("folder");
            fs::write(path, text).expect("write");
        }
        let outcome = Ply::new().args(case.args).current_dir(dir.path()).run();
        let output = format!("{}{}", outcome.stdout, outcome.stderr);
        let shown = || {
            // The output of a refused 10 MB line is short; cut it anyway, should it not be.
            let end = output
                .char_indices()
                .nth(3000)
                .map_or(output.len(), |(i, _)| i);
            format!("{}: {:?}\n{}", case.name, outcome.code, &output[..end])
        };
        assert_eq!(outcome.code, Some(case.code), "{}", shown());
        for needle in &case.says {
            assert!(output.contains(needle), "lacks {needle:?}: {}", shown());
        }
        assert!(
            case.code == 0 || output.len() < 20_000,
            "{}: the error quotes too much ({} bytes)",
            case.name,
            output.len()
        );
    }
}

/// Limits leave room for what real playbooks do: recursion that a `when` ends, deep but bounded data.
#[test]
fn recursion_that_a_when_ends_and_nesting_within_the_limits_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deep_value = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let files = [
        file(
            "site.yml",
            play(&format!(
                "    - set_fact:\n        n: 0\n        deep: {deep_value}\n    - include_tasks: again.yml\n    - debug:\n        msg: \"{{{{ n }}}} {{{{ deep | flatten }}}}\"\n"
            )),
        ),
        file(
            "again.yml",
            "- set_fact:\n    n: \"{{ n | int + 1 }}\"\n- include_tasks: again.yml\n  when: n | int < 60\n"
                .to_string(),
        ),
    ];
    for (path, text) in files {
        fs::write(dir.path().join(path), text).expect("write");
    }
    Ply::new()
        .args(["run", "site.yml", "-i", "localhost,"])
        .current_dir(dir.path())
        .run()
        .success()
        .stdout_has("\"msg\": \"60 [1]\"");
}
