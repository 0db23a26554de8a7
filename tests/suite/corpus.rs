//! The playbook corpus: realistic playbooks that must pass `--syntax-check` (and list exactly like
//! ansible-playbook), and broken ones whose errors must point at the right file, line and column.

use ply_tests::{tests_dir, Ply};
use std::fs;
use std::path::{Path, PathBuf};

fn case_dirs(folder: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(tests_dir().join("corpus").join(folder))
        .expect("corpus folder exists")
        .map(|e| e.expect("readable").path())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn good_playbooks_pass_syntax_check_and_list_like_ansible() {
    let cases: Vec<PathBuf> = case_dirs("good")
        .into_iter()
        .filter(|d| d.join("site.yml").is_file())
        .collect();
    assert!(
        cases.len() >= 15,
        "the corpus holds at least 15 good playbooks, found {}",
        cases.len()
    );
    for dir in &cases {
        Ply::corpus_case(dir)
            .args(["--syntax-check"])
            .run()
            .success()
            .stdout_eq("\nplaybook: site.yml\n");
        for (option, expected_file) in [
            ("--list-tasks", "expected-list-tasks.txt"),
            ("--list-tags", "expected-list-tags.txt"),
            ("--list-hosts", "expected-list-hosts.txt"),
        ] {
            if let Ok(expected) = fs::read_to_string(dir.join(expected_file)) {
                Ply::corpus_case(dir)
                    .args([option])
                    .run()
                    .success()
                    .stdout_eq(&expected);
            }
        }
    }
}

/// The `# expect-*:` header of a broken playbook.
#[derive(Debug, Default)]
struct Expectation {
    file: Option<String>,
    line: usize,
    column: Option<usize>,
    message: String,
    hint: Option<String>,
}

fn expectation(playbook: &Path) -> Expectation {
    let text = fs::read_to_string(playbook).expect("readable");
    let mut expected = Expectation::default();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some((key, value)) = line.trim_start_matches('#').trim().split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match key {
            "expect-file" => expected.file = Some(value),
            "expect-line" => expected.line = value.parse().expect("a line number"),
            "expect-column" => expected.column = Some(value.parse().expect("a column number")),
            "expect-message" => expected.message = value,
            "expect-hint" => expected.hint = Some(value),
            _ => {}
        }
    }
    assert!(
        expected.line > 0 && !expected.message.is_empty(),
        "{} has no expect-line/expect-message header",
        playbook.display()
    );
    expected
}

#[test]
fn broken_playbooks_report_file_line_and_hint() {
    let cases = case_dirs("bad");
    assert!(
        cases.len() >= 15,
        "the corpus holds at least 15 broken playbooks, found {}",
        cases.len()
    );
    let inventory = tests_dir().join("corpus/good/inventory.ini");
    for case in cases {
        let (dir, playbook) = if case.is_dir() {
            (case.clone(), "site.yml".to_string())
        } else {
            (
                case.parent().unwrap().to_path_buf(),
                case.file_name().unwrap().to_string_lossy().into_owned(),
            )
        };
        let expected = expectation(&dir.join(&playbook));
        let file = expected.file.clone().unwrap_or_else(|| playbook.clone());
        let location = match expected.column {
            Some(column) => format!("--> {file}:{}:{column}\n", expected.line),
            None => format!("--> {file}:{}:", expected.line),
        };
        let outcome = Ply::new()
            .args([
                "run",
                &playbook,
                "-i",
                inventory.to_str().unwrap(),
                "--syntax-check",
            ])
            .current_dir(&dir)
            .run()
            .code(4)
            .stderr_has(&location)
            .stderr_has(&expected.message);
        if let Some(hint) = &expected.hint {
            outcome.stderr_has("= hint: ").stderr_has(hint);
        }
    }
}

/// The load-time checks decide with what this run knows: names from `-e`, from the inventory's own
/// `group_vars/`, from a vars file only a template names, and tasks the tags select.
#[test]
fn load_checks_use_what_the_run_knows() {
    let dir = tests_dir().join("corpus/good/load_checks");
    let check = |playbook: &str, inventory: &str, extra: &[&str]| {
        Ply::new()
            .args(["run", playbook, "-i", inventory, "--syntax-check"])
            .args(extra)
            .current_dir(&dir)
            .run()
    };
    let shared = "../inventory.ini";
    check("extra_vars.yml", shared, &[])
        .code(4)
        .stderr_has("'release_tag' is undefined in every scope")
        .stderr_has("--> extra_vars.yml:11:26\n");
    check("extra_vars.yml", shared, &["-e", "release_tag=v1.2"]).success();
    check("extra_vars.yml", shared, &["-e", "{\"release_tag\": 3}"]).success();

    let with_group_vars = "../../inventories/dirs_ini/hosts.ini";
    check("inventory_group_vars.yml", shared, &[])
        .code(4)
        .stderr_has("'admin_email' is undefined in every scope");
    check("inventory_group_vars.yml", with_group_vars, &[]).success();

    check("dynamic_include_vars.yml", shared, &[]).success();

    // A `never` task is read only when its tags are asked for, and then needs its extra var.
    check("site.yml", shared, &["-t", "dump"])
        .code(4)
        .stderr_has("'dump_target' is undefined in every scope");
    check("site.yml", shared, &["-t", "dump", "-e", "dump_target=all"]).success();

    // --list-* and runs refuse the same way as --syntax-check, before any host is contacted.
    Ply::new()
        .args(["run", "extra_vars.yml", "-i", shared, "--list-tasks"])
        .current_dir(&dir)
        .run()
        .code(4)
        .stderr_has("'release_tag' is undefined in every scope");
    Ply::new()
        .args(["run", "extra_vars.yml", "-i", shared, "--check"])
        .current_dir(&dir)
        .run()
        .code(4)
        .stderr_has("'release_tag' is undefined in every scope");
}

/// What only a template decides is left to the module, which words it as Ansible does.
#[test]
fn templated_arguments_fail_at_run_time_with_ansible_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("made");
    fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: localhost\n  gather_facts: false\n  vars:\n    wanted: dirctory\n    where: {}\n  tasks:\n    - file:\n        path: \"{{{{ where }}}}\"\n        state: \"{{{{ wanted }}}}\"\n      ignore_errors: true\n    - file:\n        pth: \"{{{{ where }}}}\"\n      ignore_errors: true\n",
            target.display()
        ),
    )
    .expect("write playbook");
    fs::write(
        dir.path().join("hosts"),
        "localhost ansible_connection=local\n",
    )
    .expect("write hosts");
    Ply::new()
        .args(["run", "site.yml", "-i", "hosts", "--syntax-check"])
        .current_dir(dir.path())
        .run()
        .success();
    Ply::new()
        .args(["run", "site.yml", "-i", "hosts"])
        .current_dir(dir.path())
        .run()
        .success()
        .stdout_has(
            "value of state must be one of: absent, directory, file, hard, link, touch, got: dirctory",
        )
        .stdout_has("Unsupported parameters for (file) module: pth. Supported parameters include: ");
    assert!(!target.exists());
}
