//! tests/run's pieces that can be checked without running the whole suite: the closing summary
//! (tests/summary) fed recorded `cargo test --no-fail-fast` output, and that every test script parses
//! (`bash -n`) and passes shellcheck.

use ply_tests::{tests_dir, workspace_root};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn summary(log: &str) -> String {
    summary_with(&[], log)
}

/// tests/summary with options (`--features LIST`), the log on stdin.
fn summary_with(options: &[&str], log: &str) -> String {
    let mut child = Command::new("bash")
        .arg(tests_dir().join("summary"))
        .args(options)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(log.as_bytes())
        .expect("write the log");
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "tests/summary failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Recorded from `cargo test --workspace --no-fail-fast` on a workspace with a failing unit test (whose
/// captured output holds lines that look like libtest's own), a binary that aborts, a failing
/// integration test, passing ones and doc-tests (backtraces shortened).
const FAILING_RUN: &str = "\
   Compiling b v0.1.0 (/tmp/sumdemo/b)
   Compiling a v0.1.0 (/tmp/sumdemo/a)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.84s
     Running unittests src/lib.rs (target/debug/deps/a-3110576fc3c3c96d)

running 3 tests
test tests::ign ... ignored
test tests::ok1 ... ok
test tests::bad ... FAILED

failures:

---- tests::bad stdout ----
    indented
test result: ok. 99 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
test looks::like::a::test ... FAILED

thread 'tests::bad' (25970) panicked at a/src/lib.rs:8:51:
assertion `left == right` failed
  left: 714
 right: 3
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.


failures:
    tests::bad

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.13s

error: test failed, to rerun pass `-p a --lib`
     Running unittests src/lib.rs (target/debug/deps/b-d297d743c1d6421f)

running 1 test
test tests::it_works ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/crash.rs (target/debug/deps/crash-8d3f5b302eaad4a8)

running 2 tests
error: test failed, to rerun pass `-p b --test crash`

Caused by:
  process didn't exit successfully: `/tmp/sumdemo/target/debug/deps/crash-8d3f5b302eaad4a8` (signal: 6, SIGABRT: process abort signal)
     Running tests/other.rs (target/debug/deps/other-a88d0db6b56ca3d5)

running 2 tests
test passes ... ok
test fails_too ... FAILED

failures:

---- fails_too stdout ----

thread 'fails_too' (25984) panicked at b/tests/other.rs:2:26:
no
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.


failures:
    fails_too

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.13s

error: test failed, to rerun pass `-p b --test other`
   Doc-tests a

running 1 test
test a/src/lib.rs - f (line 1) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

all doctests ran in 0.38s; merged doctests compilation took 0.37s
   Doc-tests b

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: 3 targets failed:
    `-p a --lib`
    `-p b --test crash`
    `-p b --test other`
";

#[test]
fn summary_sums_every_binary_and_names_the_failures() {
    assert_eq!(
        summary(FAILING_RUN),
        "4 passed, 3 failed, 1 ignored\n\
         failed:\n  \
         -p a --lib: tests::bad\n  \
         -p b --test crash: the test binary did not finish (signal: 6, SIGABRT: process abort signal)\n  \
         -p b --test other: fails_too\n"
    );
}

/// tests/run turns the test tiers on; cargo's rerun hint leaves the features out, the summary adds them,
/// since a gated target does not exist without them.
#[test]
fn summary_with_features_names_them_in_every_rerun() {
    assert_eq!(
        summary_with(&["--features", "system-tests,lab-tests"], FAILING_RUN),
        "4 passed, 3 failed, 1 ignored\n\
         failed:\n  \
         -p a --lib --features system-tests,lab-tests: tests::bad\n  \
         -p b --test crash --features system-tests,lab-tests: the test binary did not finish \
         (signal: 6, SIGABRT: process abort signal)\n  \
         -p b --test other --features system-tests,lab-tests: fails_too\n"
    );
}

#[test]
fn summary_of_a_passing_run_is_one_line() {
    let passing: String = FAILING_RUN
        .lines()
        .take_while(|line| {
            !line.starts_with("     Running unittests src/lib.rs (target/debug/deps/a-")
        })
        .chain(
            FAILING_RUN
                .lines()
                .skip_while(|line| !line.contains("deps/b-"))
                .take(6),
        )
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        summary(&passing),
        "1 passed, 0 failed, 0 ignored\n",
        "{passing}"
    );
    assert_eq!(summary(""), "0 passed, 0 failed, 0 ignored\n");
}

#[test]
fn scripts_parse_and_pass_shellcheck() {
    let scripts = [
        "tests/run",
        "tests/install-deps",
        "tests/summary",
        "tests/cleanup-users",
        "tests/lab/lab",
        "tests/lab/demo",
        ".ci/run",
    ];
    for script in scripts {
        let output = Command::new("bash")
            .args(["-n", script])
            .current_dir(workspace_root())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "bash -n {script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // tests/install-deps installs shellcheck.
    let output = Command::new("shellcheck")
        .args(scripts)
        .current_dir(workspace_root())
        .output()
        .expect("shellcheck runs (apt-get install shellcheck; tests/install-deps does)");
    assert!(
        output.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
