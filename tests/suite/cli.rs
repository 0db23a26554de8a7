//! The `ply` command line as users meet it: options, exit codes, inventories shown like ansible-inventory.

use ply_tests::{tests_dir, Ply};
use std::fs;
use std::path::PathBuf;

fn inventories() -> Vec<PathBuf> {
    // Inventory sources with an expected `--list` beside them, at the top or one folder down (folders hold
    // sources with group_vars/ and host_vars/ beside them).
    let dir = tests_dir().join("corpus/inventories");
    let mut candidates = Vec::new();
    for entry in fs::read_dir(&dir).expect("inventory corpus exists") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            candidates.extend(
                fs::read_dir(&path)
                    .expect("readable")
                    .map(|e| e.expect("readable").path()),
            );
        } else {
            candidates.push(path);
        }
    }
    let mut sources: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("ini" | "yml" | "yaml")
            )
        })
        .filter(|p| p.with_extension("list.json").is_file())
        .collect();
    sources.sort();
    sources
}

/// The expected-output file beside an inventory source: `x.ini` → `x.list.json`.
fn expected_beside(source: &std::path::Path, suffix: &str) -> Option<String> {
    fs::read_to_string(source.with_extension(suffix)).ok()
}

#[test]
fn inventory_list_matches_ansible_inventory() {
    let sources = inventories();
    assert!(
        sources.len() >= 6,
        "at least 6 inventories in the corpus, found {}",
        sources.len()
    );
    for source in sources {
        let inventory = &source;
        let expected = expected_beside(&source, "list.json").expect("filtered on it");
        let expected: serde_json::Value =
            serde_json::from_str(&expected).expect("expected JSON parses");
        let outcome = Ply::new()
            .args(["inventory", "-i", inventory.to_str().unwrap(), "--list"])
            .run()
            .success();
        assert_eq!(
            outcome.stdout_json(),
            expected,
            "ply inventory --list for {}",
            source.display()
        );
        if let Some(graph) = expected_beside(&source, "graph.txt") {
            Ply::new()
                .args(["inventory", "-i", inventory.to_str().unwrap(), "--graph"])
                .run()
                .success()
                .stdout_eq(&graph);
        }
    }
}

#[test]
fn version_and_help() {
    Ply::new()
        .arg("--version")
        .run()
        .success()
        .stdout_has(concat!("ply ", env!("CARGO_PKG_VERSION")));
    Ply::new()
        .args(["run", "--help"])
        .run()
        .success()
        .stdout_has("--syntax-check")
        .stdout_has("--list-tasks");
}

#[test]
fn bad_options_exit_5_like_ansible_playbook() {
    let playbook = tests_dir().join("corpus/good/pg_primary/site.yml");
    Ply::new()
        .args(["run", playbook.to_str().unwrap(), "--no-such-flag"])
        .run()
        .code(5)
        .stderr_has("--no-such-flag");
    Ply::new()
        .args([
            "run",
            playbook.to_str().unwrap(),
            "-i",
            "localhost,",
            "-e",
            "./vars.yml",
            "--syntax-check",
        ])
        .run()
        .code(5)
        .stderr_has("Please prepend extra_vars filename './vars.yml' with '@'");
    Ply::new()
        .args(["run", "missing.yml", "-i", "localhost,", "--syntax-check"])
        .run()
        .code(5)
        .stderr_has("could not be found");
}

#[test]
fn list_hosts_honours_limit() {
    let dir = tests_dir().join("corpus/good/pg_primary");
    let all = Ply::corpus_case(&dir)
        .args(["--list-hosts"])
        .run()
        .success();
    assert!(all.stdout.contains("    hosts ("), "{}", all.stdout);
    let limited = Ply::corpus_case(&dir)
        .args(["--list-hosts", "--limit", "nomatch-*"])
        .run()
        .success();
    assert!(
        limited.stdout.contains("    hosts (0):"),
        "{}",
        limited.stdout
    );
}

#[test]
fn tag_selection_narrows_list_tasks() {
    let dir = tests_dir().join("corpus/good/tags_blocks");
    let all = Ply::corpus_case(&dir)
        .args(["--list-tasks"])
        .run()
        .success();
    let tagged = Ply::corpus_case(&dir)
        .args(["--list-tasks", "-t", "restart"])
        .run()
        .success();
    let skipped = Ply::corpus_case(&dir)
        .args(["--list-tasks", "--skip-tags", "restart"])
        .run()
        .success();
    let count = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("      ") && l.contains("\tTAGS:"))
            .count()
    };
    assert!(
        count(&tagged.stdout) < count(&all.stdout),
        "-t restart lists fewer tasks:\n{}",
        tagged.stdout
    );
    assert!(tagged
        .stdout
        .lines()
        .filter(|l| l.contains("\tTAGS:") && l.starts_with("      "))
        .all(|l| l.contains("restart") || l.contains("always")));
    assert!(
        !skipped
            .stdout
            .lines()
            .any(|l| l.starts_with("      ") && l.contains("restart") && l.contains("\tTAGS:")),
        "{}",
        skipped.stdout
    );
}

#[test]
fn templated_hosts_use_extra_vars() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("site.yml"),
        "- hosts: \"{{ target | default('web') }}\"\n  tasks:\n    - ping:\n",
    )
    .unwrap();
    let inventory = tests_dir().join("corpus/good/inventory.ini");
    let inventory = inventory.to_str().unwrap();
    let hosts = |extra: &[&str]| {
        let outcome = Ply::new()
            .args(["run", "site.yml", "-i", inventory, "--list-hosts"])
            .args(extra)
            .current_dir(dir.path())
            .run()
            .success();
        outcome
            .stdout
            .lines()
            .skip_while(|l| !l.contains("hosts ("))
            .skip(1)
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(hosts(&[]), ["web1", "web2"]);
    assert_eq!(hosts(&["-e", "target=db_primary"]), ["pg1"]);
}

#[test]
fn the_readme_example_predicts_then_converges() {
    let root = ply_tests::workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("hello");
    let extra = format!("greeting_dir={}", target.display());
    let run = |options: &[&str]| {
        Ply::new()
            .args([
                "run",
                "playbooks/hello.yml",
                "-i",
                "inventories/local.ini",
                "-e",
                &extra,
            ])
            .args(options)
            .current_dir(&root)
            .run()
            .success()
    };
    let check = run(&["--check", "--diff"]);
    assert!(check.stdout.contains("changed=3 "), "{}", check.stdout);
    assert!(!target.exists(), "--check must not create anything");
    let real = run(&["--diff"]);
    assert_eq!(
        check.stdout, real.stdout,
        "the check run predicts the real run exactly"
    );
    assert!(
        run(&[]).stdout.contains("changed=0 "),
        "a second run changes nothing"
    );
}

/// A malformed -e names its keys but never echoes the text: extra vars carry passwords.
#[test]
fn bad_extra_vars_do_not_echo_their_values() {
    for arg in ["db_password=abc s3cret", "user=x db_password=\"s3cret"] {
        let outcome = Ply::new()
            .args(["run", "playbooks/hello.yml", "-e", arg])
            .current_dir(ply_tests::workspace_root())
            .run()
            .code(5)
            .stderr_has("invalid extra vars for ");
        assert!(
            !outcome.stderr.contains("s3cret") && !outcome.stdout.contains("s3cret"),
            "{arg}: {}",
            outcome.stderr
        );
    }
}

/// Run-time errors point at what to fix: the task's file:line, the argument and its expression, and for
/// a template the .j2 file and its line.
#[test]
fn run_time_errors_name_the_task_the_argument_and_the_template() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("templates")).expect("templates");
    std::fs::write(
        dir.path().join("templates/bad.j2"),
        "line one\n{{ foo }\nline three\n",
    )
    .expect("template");
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - set_fact:\n        name_map: \"{{ {'a': 1} }}\"\n    - name: Undefined key\n      debug:\n        msg: \"{{ name_map.b }}\"\n      ignore_errors: true\n    - name: Bad template\n      template:\n        src: bad.j2\n        dest: \"{{ playbook_dir }}/out.txt\"\n",
    )
    .expect("playbook");
    let outcome = Ply::new()
        .args([
            "run",
            "site.yml",
            "-i",
            "localhost,",
            "-e",
            "ansible_connection=local",
        ])
        .current_dir(dir.path())
        .run()
        .code(2);
    for needle in [
        "Origin: site.yml:6:7",
        "Error while resolving value for 'msg' ({{ name_map.b }}): 'name_map' has no attribute 'b'",
        "Origin: site.yml:10:7",
        "templates/bad.j2: template syntax error",
        "(line 2)",
    ] {
        assert!(
            outcome.stderr.contains(needle),
            "no {needle:?} in\n{}",
            outcome.stderr
        );
    }
}
