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
