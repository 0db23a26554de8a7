//! The keyword table: every keyword ply accepts is either honoured (a behaviour test shows it) or
//! refused when the playbook loads (a refusal test shows the error). Parsing a keyword and ignoring it
//! is what these tests exist to catch.

use engine::playbook::keywords;
use engine::playbook::unsupported::REFUSED;
use ply_tests::{tests_dir, workspace_root, Ply};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn accepted_keywords() -> BTreeSet<&'static str> {
    [
        keywords::COMMON,
        keywords::PLAY,
        keywords::BLOCK,
        keywords::TASK,
        keywords::LOOP_CONTROL,
        keywords::ROLE_INCLUSION,
        keywords::IMPORT_PLAYBOOK,
    ]
    .into_iter()
    .flatten()
    .copied()
    .filter(|k| !k.starts_with("ansible.builtin."))
    .collect()
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            found.push(path);
        }
    }
}

/// Does any line of `text` write `keyword:` as a key?
fn writes_key(text: &str, keyword: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start().trim_start_matches("- ").trim_start();
        line.strip_prefix(keyword)
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

#[test]
fn every_keyword_has_a_behaviour_or_a_refusal_test() {
    // Golden runs (recorded against ansible-core) are behaviour tests for every keyword they write.
    let mut golden = Vec::new();
    yaml_files(&tests_dir().join("runs"), &mut golden);
    let golden_text: Vec<String> = golden
        .iter()
        .map(|p| fs::read_to_string(p).expect("read golden case"))
        .collect();
    let elsewhere = fs::read_to_string(tests_dir().join("keywords/behaviour-elsewhere.txt"))
        .expect("behaviour-elsewhere.txt");
    let elsewhere: Vec<(&str, &str)> = elsewhere
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once(' ').expect("keyword and test file"))
        .collect();
    let mut missing = Vec::new();
    for keyword in accepted_keywords() {
        let refused = REFUSED.iter().any(|(name, _, _)| *name == keyword)
            && tests_dir()
                .join(format!("keywords/refused/{keyword}.yml"))
                .is_file();
        let in_golden = golden_text.iter().any(|text| writes_key(text, keyword));
        let tested_elsewhere = elsewhere.iter().any(|(name, file)| {
            *name == keyword
                && fs::read_to_string(workspace_root().join(file))
                    .is_ok_and(|text| text.contains(keyword))
        });
        if !(refused || in_golden || tested_elsewhere) {
            missing.push(keyword);
        }
    }
    assert!(
        missing.is_empty(),
        "keywords with neither a behaviour test (a golden run in tests/runs, or a line in \
         tests/keywords/behaviour-elsewhere.txt) nor a refusal test (tests/keywords/refused/NAME.yml \
         and an entry in engine/src/playbook/unsupported.rs): {missing:?}"
    );
    // And every refusal in the table has its test case.
    for (keyword, _, _) in REFUSED {
        assert!(
            tests_dir()
                .join(format!("keywords/refused/{keyword}.yml"))
                .is_file(),
            "no refusal test for `{keyword}`"
        );
    }
}

#[test]
fn refused_keywords_stop_the_run_before_any_host_is_contacted() {
    let dir = tests_dir().join("keywords/refused");
    for (keyword, _, _) in REFUSED {
        let file = format!("{keyword}.yml");
        let text = fs::read_to_string(dir.join(&file)).expect("refusal case");
        let line = text
            .lines()
            .position(|l| writes_key(l, keyword))
            .map(|i| i + 1)
            .expect("the case writes the keyword");
        // `nowhere` cannot be reached: a run that got past loading would say UNREACHABLE instead.
        let outcome = Ply::new()
            .args(["run", &file, "-i", "nowhere.invalid,"])
            .current_dir(&dir)
            .run()
            .code(4);
        let names_it = format!("`{keyword}`");
        let place = format!("{file}:{line}:");
        assert!(
            outcome.stderr.contains(&names_it) && outcome.stderr.contains(&place),
            "{keyword}: the error must name the keyword and {place}\n{}",
            outcome.stderr
        );
        assert!(
            !outcome.stdout.contains("UNREACHABLE"),
            "{keyword}: the run started\n{}",
            outcome.stdout
        );
    }
}

#[test]
fn a_prompted_variable_given_with_e_runs_without_a_prompt() {
    let dir = tests_dir().join("keywords/refused");
    let outcome = Ply::new()
        .args([
            "run",
            "vars_prompt.yml",
            "-i",
            "localhost,",
            "-e",
            "ansible_connection=local",
            "-e",
            "release=42",
        ])
        .current_dir(&dir)
        .run()
        .success();
    assert!(
        outcome.stdout.contains("\"msg\": \"42\""),
        "{}",
        outcome.stdout
    );
}

#[test]
fn throttle_caps_the_hosts_running_a_task_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("inventory.ini"),
        "[fleet]\nh[1:4] ansible_connection=local\n",
    )
    .expect("inventory");
    // mkdir is atomic: two hosts inside the task at once make one of them fail.
    let playbook = |throttle: &str| {
        format!(
            "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - name: One at a time\n      shell: mkdir {0}/lock && sleep 0.3 && rmdir {0}/lock\n{throttle}",
            dir.path().display()
        )
    };
    fs::write(
        dir.path().join("throttled.yml"),
        playbook("      throttle: 1\n"),
    )
    .expect("write");
    fs::write(dir.path().join("free.yml"), playbook("")).expect("write");
    let run = |file: &str| {
        Ply::new()
            .args(["run", file, "-i", "inventory.ini", "-f", "4"])
            .current_dir(dir.path())
            .run()
    };
    run("throttled.yml").success();
    // Without throttle the same task does collide, so the check above can fail.
    let _ = fs::remove_dir(dir.path().join("lock"));
    run("free.yml").code(2);
}

#[test]
fn an_unknown_become_method_fails_the_task_instead_of_using_sudo() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      become: true\n      become_method: doas\n",
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
    assert!(
        outcome
            .stdout
            .contains("the become method 'doas' is not supported by ply"),
        "{}",
        outcome.stdout
    );
}

/// become_exe runs the named program, become_flags are its flags, become_method su uses su: seen from
/// the commands themselves (root here, becoming `nobody`).
#[cfg(feature = "system-tests")]
#[test]
fn become_method_flags_and_exe_are_what_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("exe.log");
    let wrapper = dir.path().join("my-sudo");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nexec sudo \"$@\"\n",
            log.display()
        ),
    )
    .expect("wrapper");
    let mut perms = fs::metadata(&wrapper).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&wrapper, perms).expect("chmod");
    fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  become: true\n  become_user: nobody\n  tasks:\n    - command: id -un\n      register: via_exe\n      become_exe: {}\n      become_flags: -H -n\n    - command: id -un\n      register: via_su\n      become_method: su\n    - assert:\n        that:\n          - via_exe.stdout == 'nobody'\n          - via_su.stdout == 'nobody'\n",
            wrapper.display()
        ),
    )
    .expect("playbook");
    Ply::new()
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
        .success();
    let called = fs::read_to_string(&log).expect("become_exe ran");
    assert!(called.starts_with("-H -n -u nobody"), "{called}");
}
