//! Each module's decisions, run through `modules::execute` against the real local host.

mod common;

use common::Harness;
use modules::{FactLevel, MetaAction};
use serde_json::{json, Value};
use std::fs;

fn is_py_datetime(text: &str) -> bool {
    let re = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$").unwrap();
    re.is_match(text)
}

#[tokio::test]
async fn command_reports_rc_output_and_times() {
    let h = Harness::new();
    let r = h
        .run("command", json!({"_raw_params": "printf 'a\\nb\\n\\n'"}))
        .await;
    assert!(r.changed && !r.failed, "{r:?}");
    assert_eq!(r.msg.as_deref(), Some(""));
    assert_eq!(r.values["rc"], json!(0));
    assert_eq!(r.values["cmd"], json!(["printf", "a\\nb\\n\\n"]));
    assert_eq!(r.values["stdout"], json!("a\nb"));
    assert_eq!(r.values["stdout_lines"], json!(["a", "b"]));
    assert_eq!(r.values["stderr"], json!(""));
    assert!(is_py_datetime(r.values["start"].as_str().unwrap()));
    assert!(is_py_datetime(r.values["end"].as_str().unwrap()));
    let delta = regex::Regex::new(r"^0:00:0\d(\.\d{6})?$").unwrap();
    assert!(
        delta.is_match(r.values["delta"].as_str().unwrap()),
        "{}",
        r.values["delta"]
    );
}

#[tokio::test]
async fn command_nonzero_rc_fails() {
    let h = Harness::new();
    let r = h
        .run(
            "command",
            json!({"argv": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
        )
        .await;
    assert!(r.failed && r.changed);
    assert_eq!(r.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(r.values["rc"], json!(3));
    assert_eq!(r.values["stdout"], json!("out"));
    assert_eq!(r.values["stderr_lines"], json!(["err"]));
}

#[tokio::test]
async fn command_does_not_use_a_shell() {
    let h = Harness::new();
    let r = h.run("command", json!({"cmd": "echo $HOME | cat"})).await;
    assert_eq!(r.values["stdout"], json!("$HOME | cat"));
}

#[tokio::test]
async fn command_creates_and_removes_decide() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("made.txt");
    fs::write(&file, "x").unwrap();
    let file = file.display().to_string();
    let missing = dir.path().join("nope").display().to_string();
    let glob = dir.path().join("*.txt").display().to_string();
    let h = Harness::new();

    let r = h
        .run("command", json!({"_raw_params": "false", "creates": file}))
        .await;
    assert!(!r.changed && !r.failed && !r.skipped);
    assert_eq!(
        r.msg,
        Some(format!("Did not run command since '{file}' exists"))
    );
    assert_eq!(
        r.values["stdout"],
        json!(format!("skipped, since {file} exists"))
    );
    assert_eq!(r.values["rc"], json!(0));
    assert_eq!(r.values["delta"], Value::Null);

    let r = h
        .run("command", json!({"_raw_params": "false", "creates": glob}))
        .await;
    assert_eq!(
        r.msg,
        Some(format!("Did not run command since '{glob}' exists"))
    );

    let r = h
        .run(
            "command",
            json!({"_raw_params": "false", "removes": missing}),
        )
        .await;
    assert_eq!(
        r.msg,
        Some(format!(
            "Did not run command since '{missing}' does not exist"
        ))
    );

    let r = h
        .run(
            "command",
            json!({"_raw_params": "true", "creates": missing, "removes": file}),
        )
        .await;
    assert!(r.changed && !r.failed, "{r:?}");

    // Relative to chdir, as Ansible changes directory before it checks.
    let r = h
        .run(
            "command",
            json!({"_raw_params": "false", "chdir": dir.path(), "creates": "made.txt"}),
        )
        .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("Did not run command since 'made.txt' exists")
    );
}

#[tokio::test]
async fn command_chdir_stdin_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    h.environment = vec![("PLY_TEST".into(), "from-env".into())];
    let r = h
        .run(
            "command",
            json!({"_raw_params": "pwd", "chdir": dir.path()}),
        )
        .await;
    assert_eq!(
        r.values["stdout"],
        json!(dir.path().canonicalize().unwrap().display().to_string())
    );

    let r = h
        .run("command", json!({"_raw_params": "od -c", "stdin": "hi"}))
        .await;
    assert!(
        r.values["stdout"].as_str().unwrap().contains("h   i  \\n"),
        "{}",
        r.values["stdout"]
    );
    let r = h.run("command", json!({"_raw_params": "cat", "stdin": "hi", "stdin_add_newline": false, "strip_empty_ends": "no"})).await;
    assert_eq!(r.values["stdout"], json!("hi"));
    let r = h
        .run(
            "command",
            json!({"_raw_params": "printf 'x\\n\\n'", "strip_empty_ends": false}),
        )
        .await;
    assert_eq!(r.values["stdout"], json!("x\n\n"));

    let r = h
        .run("command", json!({"_raw_params": "printenv PLY_TEST"}))
        .await;
    assert_eq!(r.values["stdout"], json!("from-env"));

    let r = h
        .run(
            "command",
            json!({"_raw_params": "pwd", "chdir": "/nonexistent/ply"}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(
        r.msg.as_deref(),
        Some("Unable to change directory before execution: [Errno 2] No such file or directory: b'/nonexistent/ply'")
    );
}

#[tokio::test]
async fn command_argument_errors() {
    let h = Harness::new();
    let r = h.run("command", json!({})).await;
    assert_eq!(
        (r.failed, r.msg.as_deref(), &r.values["rc"]),
        (true, Some("no command given"), &json!(256))
    );
    let r = h
        .run("command", json!({"_raw_params": "ls", "argv": ["ls"]}))
        .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("only command or argv can be given, not both")
    );
    let r = h
        .run("command", json!({"_raw_params": "ls", "cmd": "ls"}))
        .await;
    assert!(r
        .msg
        .unwrap()
        .starts_with("The 'cmd' argument cannot be used when other raw parameters"));
    let r = h
        .run("command", json!({"_raw_params": "ls", "bogus": 1}))
        .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("Unsupported parameters for (command) module: bogus. Supported parameters include: _raw_params, argv, chdir, cmd, creates, executable, removes, stdin, stdin_add_newline, strip_empty_ends.")
    );
    let r = h
        .run(
            "command",
            json!({"_raw_params": "true", "executable": "/bin/bash"}),
        )
        .await;
    assert!(!r.failed);
    assert!(r.warnings[0]
        .contains("no longer supported with the 'command' module. Not using '/bin/bash'."));
}

#[tokio::test]
async fn command_check_mode_skips_unless_creates_or_removes_decide() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let mut h = Harness::new();
    h.check_mode = true;
    let touch = format!("touch {}", marker.display());

    let r = h.run("command", json!({"_raw_params": touch})).await;
    assert!(r.skipped && !r.changed && !r.failed);
    assert_eq!(
        r.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    assert_eq!(r.values["rc"], json!(0));
    assert!(!marker.exists(), "check mode must not run the command");

    let r = h
        .run("command", json!({"_raw_params": touch, "creates": marker}))
        .await;
    assert!(r.changed && !r.skipped);
    assert_eq!(
        r.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    assert!(!marker.exists());

    fs::write(&marker, "").unwrap();
    let r = h
        .run("shell", json!({"_raw_params": "exit 1", "creates": marker}))
        .await;
    assert!(!r.changed && !r.skipped);
    assert_eq!(
        r.msg,
        Some(format!(
            "Would not run command since '{}' exists",
            marker.display()
        ))
    );
}

#[tokio::test]
async fn shell_runs_through_a_shell() {
    let h = Harness::new();
    let r = h
        .run(
            "shell",
            json!({"_raw_params": "echo one two | wc -w; echo e >&2"}),
        )
        .await;
    assert_eq!(r.values["cmd"], json!("echo one two | wc -w; echo e >&2"));
    assert_eq!(r.values["stdout"].as_str().unwrap().trim(), "2");
    assert_eq!(r.values["stderr"], json!("e"));
    let r = h
        .run(
            "shell",
            json!({"cmd": "echo $0", "executable": "/bin/bash"}),
        )
        .await;
    assert_eq!(r.values["stdout"], json!("/bin/bash"));
    let r = h.run("shell", json!({"_raw_params": "exit 4"})).await;
    assert!(r.failed);
    assert_eq!(r.values["rc"], json!(4));
    let r = h
        .run("shell", json!({"_raw_params": "ls", "argv": ["ls"]}))
        .await;
    assert!(r
        .msg
        .unwrap()
        .starts_with("Unsupported parameters for (shell) module: argv."));
}

#[tokio::test]
async fn debug_msg_var_and_verbosity() {
    let mut h = Harness::new();
    h.vars.0.insert("answer".into(), json!({"n": 42}));
    let r = h.run("debug", json!({})).await;
    assert_eq!(r.msg.as_deref(), Some("Hello world!"));
    assert!(r.verbose_always && !r.changed);

    let r = h.run("debug", json!({"msg": ["a", 1]})).await;
    assert_eq!((r.msg, &r.values["msg"]), (None, &json!(["a", 1])));

    let r = h.run("debug", json!({"var": "answer.n"})).await;
    assert_eq!(r.values["answer.n"], json!(42));
    let r = h.run("debug", json!({"var": "missing"})).await;
    assert_eq!(r.values["missing"], json!("VARIABLE IS NOT DEFINED!"));

    let r = h.run("debug", json!({"msg": "x", "verbosity": 2})).await;
    assert!(r.skipped && !r.verbose_always && r.msg.is_none());
    assert_eq!(
        r.values["skipped_reason"],
        json!("Verbosity threshold not met.")
    );
    h.verbosity = 2;
    let r = h.run("debug", json!({"msg": "x", "verbosity": "2"})).await;
    assert_eq!((r.skipped, r.msg.as_deref()), (false, Some("x")));

    let r = h.run("debug", json!({"msg": "x", "var": "y"})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("'msg' and 'var' are incompatible options")
    );
    let r = h.run("debug", json!({"mgs": "x"})).await;
    assert_eq!(r.msg.as_deref(), Some("Invalid options for debug: mgs"));
}

#[tokio::test]
async fn assert_passes_fails_and_stays_quiet() {
    let mut h = Harness::new();
    h.vars.0.insert("n".into(), json!(5));
    let r = h.run("assert", json!({"that": ["n > 1", "n < 10"]})).await;
    assert!(!r.failed && r.verbose_always);
    assert_eq!(r.msg.as_deref(), Some("All assertions passed"));

    let r = h
        .run(
            "assert",
            json!({"that": ["n > 1", "n > 7", "undefined_thing"]}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(r.msg.as_deref(), Some("Assertion failed"));
    assert_eq!(r.values["assertion"], json!("n > 7"));
    assert_eq!(r.values["evaluated_to"], json!(false));

    let r = h
        .run(
            "assert",
            json!({"that": "n == 4", "msg": "custom", "quiet": true}),
        )
        .await;
    assert_eq!(
        (r.failed, r.msg.as_deref(), r.verbose_always),
        (true, Some("custom"), false)
    );
    let r = h
        .run(
            "assert",
            json!({"that": "n == 4", "msg": "m", "fail_msg": "f"}),
        )
        .await;
    assert_eq!(r.msg.as_deref(), Some("f"));
    let r = h
        .run(
            "assert",
            json!({"that": "n == 5", "success_msg": "fine", "quiet": "yes"}),
        )
        .await;
    assert_eq!((r.msg.as_deref(), r.verbose_always), (Some("fine"), false));

    let r = h.run("assert", json!({"that": "nope"})).await;
    assert!(r.failed && r.msg.unwrap().contains("undefined"));
    let r = h.run("assert", json!({"fail_msg": "x"})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("conditional required in \"that\" string")
    );
    let r = h.run("assert", json!({"that": "n", "fail_msg": 3})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("Incorrect type for fail_msg or msg, expected a string or list and got <class 'int'>")
    );
}

#[tokio::test]
async fn set_fact_defines_facts() {
    let h = Harness::new();
    let r = h
        .run(
            "set_fact",
            json!({"a": "yes", "b": [1], "c": "False", "d": "text", "cacheable": true}),
        )
        .await;
    assert!(!r.changed && !r.failed);
    assert_eq!(r.fact_level, FactLevel::SetFact);
    assert_eq!(
        Value::Object(r.facts),
        json!({"a": true, "b": [1], "c": false, "d": "text"})
    );
    let r = h.run("set_fact", json!({"bad-name": 1})).await;
    assert!(r
        .msg
        .unwrap()
        .starts_with("The variable name 'bad-name' is not valid."));
    let r = h.run("set_fact", json!({})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("No key/value pairs provided, at least one is required for this action to succeed")
    );
}

#[tokio::test]
async fn fail_fails_with_its_message() {
    let h = Harness::new();
    let r = h.run("fail", json!({})).await;
    assert_eq!(
        (r.failed, r.msg.as_deref()),
        (true, Some("Failed as requested from task"))
    );
    let r = h.run("fail", json!({"msg": "stop"})).await;
    assert_eq!(r.msg.as_deref(), Some("stop"));
}

#[tokio::test]
async fn meta_returns_the_action() {
    let h = Harness::new();
    for (text, action) in [
        ("flush_handlers", MetaAction::FlushHandlers),
        ("end_play", MetaAction::EndPlay),
        ("end_host", MetaAction::EndHost),
        ("end_batch", MetaAction::EndBatch),
        ("noop", MetaAction::Noop),
        ("clear_facts", MetaAction::ClearFacts),
        ("clear_host_errors", MetaAction::ClearHostErrors),
        ("refresh_inventory", MetaAction::RefreshInventory),
        ("reset_connection", MetaAction::ResetConnection),
    ] {
        let r = h.run("meta", json!({"_raw_params": text})).await;
        assert_eq!(r.meta, Some(action), "{text}");
    }
    let r = h.run("meta", json!({"_raw_params": "flush"})).await;
    assert_eq!(
        (r.failed, r.msg.as_deref()),
        (true, Some("invalid meta action requested: flush"))
    );
}

#[tokio::test]
async fn ping_pongs_and_crashes_on_request() {
    let h = Harness::new();
    let r = h.run("ping", json!({})).await;
    assert_eq!((r.failed, &r.values["ping"]), (false, &json!("pong")));
    let r = h.run("ping", json!({"data": "hi"})).await;
    assert_eq!(r.values["ping"], json!("hi"));
    let r = h.run("ping", json!({"data": "crash"})).await;
    assert!(r.failed);
    assert_eq!(
        r.msg.as_deref(),
        Some("MODULE FAILURE\nSee stdout/stderr for the exact error")
    );
    let r = h.run("ping", json!({"date": "x"})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("Unsupported parameters for (ping) module: date. Supported parameters include: data.")
    );
}

#[tokio::test]
async fn pause_waits_for_seconds() {
    let h = Harness::new();
    let started = std::time::Instant::now();
    let r = h.run("pause", json!({"seconds": "1"})).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(!r.failed && !r.changed);
    assert_eq!(r.values["delta"], json!(1));
    assert_eq!(r.values["user_input"], json!(""));
    assert_eq!(r.values["echo"], json!(true));
    let stdout = r.values["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("Paused for 1.") && stdout.ends_with(" seconds"),
        "{stdout}"
    );
    assert!(is_py_datetime(r.values["start"].as_str().unwrap()));
    assert!(is_py_datetime(r.values["stop"].as_str().unwrap()));

    let r = h.run("pause", json!({"seconds": "1.5"})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("non-integer value given for prompt duration:\ninvalid literal for int() with base 10: '1.5'")
    );
    let r = h.run("pause", json!({"prompt": "Continue?"})).await;
    assert_eq!(
        r.warnings,
        ["Not waiting for response to prompt as stdin is not interactive"]
    );
    assert_eq!(r.values["stdout"], json!("Paused for 0.0 minutes"));
}

fn vars_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let vars = dir.path().join("vars");
    fs::create_dir_all(vars.join("all/b_sub")).unwrap();
    fs::create_dir_all(vars.join("all/a_sub")).unwrap();
    fs::write(vars.join("common.yml"), "port: 80\nname: web\n").unwrap();
    fs::write(dir.path().join("top.json"), r#"{"top": [1, 2]}"#).unwrap();
    fs::write(vars.join("empty.yml"), "").unwrap();
    fs::write(vars.join("list.yml"), "- 1\n").unwrap();
    fs::write(vars.join("all/10-first.yml"), "x: 1\nshared: first\n").unwrap();
    fs::write(vars.join("all/20-second.yaml"), "y: 2\nshared: second\n").unwrap();
    fs::write(
        vars.join("all/a_sub/deep.json"),
        r#"{"deep": true, "shared": "deep"}"#,
    )
    .unwrap();
    fs::write(vars.join("all/b_sub/deeper.yml"), "deeper: 3\n").unwrap();
    dir
}

#[tokio::test]
async fn include_vars_from_a_file() {
    let dir = vars_tree();
    let mut h = Harness::new();
    h.search_path = vec![dir.path().to_path_buf()];

    let r = h
        .run("include_vars", json!({"_raw_params": "common.yml"}))
        .await;
    assert!(!r.failed && !r.changed, "{r:?}");
    assert_eq!(r.fact_level, FactLevel::IncludeVars);
    assert_eq!(Value::Object(r.facts), json!({"port": 80, "name": "web"}));
    let included = dir.path().join("vars/common.yml").display().to_string();
    assert_eq!(r.values["ansible_included_var_files"], json!([included]));

    let r = h
        .run(
            "include_vars",
            json!({"file": "top.json", "name": "scoped"}),
        )
        .await;
    assert_eq!(Value::Object(r.facts), json!({"scoped": {"top": [1, 2]}}));

    let r = h.run("include_vars", json!({"file": "empty.yml"})).await;
    assert!(!r.failed && r.facts.is_empty());

    let r = h.run("include_vars", json!({"file": "missing.yml"})).await;
    assert!(r.failed && r.msg.is_none());
    assert_eq!(
        r.values["message"],
        json!("Could not find or access 'missing.yml' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option")
    );
    let r = h.run("include_vars", json!({"file": "list.yml"})).await;
    assert_eq!(
        r.values["message"],
        json!(format!(
            "{} must be stored as a dictionary/hash",
            dir.path().join("vars/list.yml").display()
        ))
    );
    let r = h
        .run("include_vars", json!({"file": "a.yml", "depth": 1}))
        .await;
    assert_eq!(
        r.msg.as_deref(),
        Some("You are mixing file only and dir only arguments, these are incompatible")
    );
    let r = h.run("include_vars", json!({"fil": "a.yml"})).await;
    assert_eq!(
        r.msg.as_deref(),
        Some("fil is not a valid option in include_vars")
    );
}

#[tokio::test]
async fn include_vars_from_a_dir() {
    let dir = vars_tree();
    let mut h = Harness::new();
    h.search_path = vec![dir.path().to_path_buf()];

    let r = h.run("include_vars", json!({"dir": "all"})).await;
    assert!(!r.failed, "{r:?}");
    // Sorted walk: all/, all/a_sub, all/b_sub; later files override earlier ones.
    assert_eq!(
        Value::Object(r.facts),
        json!({"x": 1, "shared": "deep", "y": 2, "deep": true, "deeper": 3})
    );
    let files: Vec<String> = r.values["ansible_included_var_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        files,
        ["10-first.yml", "20-second.yaml", "deep.json", "deeper.yml"]
    );

    let r = h
        .run(
            "include_vars",
            json!({"dir": "all", "depth": 1, "name": "cfg"}),
        )
        .await;
    assert_eq!(
        Value::Object(r.facts),
        json!({"cfg": {"x": 1, "shared": "second", "y": 2}})
    );

    let r = h
        .run(
            "include_vars",
            json!({"dir": "all", "files_matching": "^[0-9]", "ignore_files": ["second.yaml"]}),
        )
        .await;
    assert_eq!(Value::Object(r.facts), json!({"x": 1, "shared": "first"}));

    let r = h
        .run("include_vars", json!({"dir": "all", "extensions": ["yml"]}))
        .await;
    assert!(r.failed);
    assert!(r.values["message"]
        .as_str()
        .unwrap()
        .ends_with("20-second.yaml does not have a valid extension: yml"));
    let r = h
        .run(
            "include_vars",
            json!({"dir": "all", "extensions": ["yml"], "ignore_unknown_extensions": true}),
        )
        .await;
    assert_eq!(
        Value::Object(r.facts),
        json!({"x": 1, "shared": "first", "deeper": 3})
    );

    let r = h.run("include_vars", json!({"dir": "nothing"})).await;
    assert!(r.values["message"]
        .as_str()
        .unwrap()
        .ends_with("nothing directory does not exist"));
}

#[tokio::test]
async fn unknown_modules_are_reported() {
    let h = Harness::new();
    // import_role is a keyword the engine handles, never a module ply runs.
    assert!(!modules::is_implemented("import_role"));
    assert!(modules::is_implemented("command"));
    let r = h.run("import_role", json!({})).await;
    assert!(r.failed);
}
