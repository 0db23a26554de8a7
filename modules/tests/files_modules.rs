//! copy, template, file and stat through `modules::execute` against the real local host: what they
//! decide, what they return, and that a second run changes nothing. The tests that change owners need
//! root and are built only with `--features system-tests` (tests/run turns it on, and runs as root);
//! the others run as any user with plain `cargo test`.

mod common;

use common::{local::LocalConnection, Vars};
use modules::{Evaluator, ModuleContext, ModuleResult, VarMap};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Renders templates with minijinja (trim_blocks, trailing newline kept), as the engine's templar does for
/// the cases here.
struct Templates(Vars);

impl Evaluator for Templates {
    fn eval_expr(&self, expr: &str) -> Result<Value, String> {
        self.0.eval_expr(expr)
    }

    fn eval_condition(&self, expr: &str) -> Result<bool, String> {
        self.0.eval_condition(expr)
    }

    fn render_template(&self, source: &Path, dest: &str) -> Result<String, String> {
        let text = fs::read_to_string(source).map_err(|e| e.to_string())?;
        let mut env = minijinja::Environment::new();
        let mut syntax = minijinja::syntax::SyntaxConfig::builder();
        syntax.trim_blocks(true).keep_trailing_newline(true);
        env.set_syntax(syntax.build().map_err(|e| e.to_string())?);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut vars = self.0 .0.clone();
        vars.insert("template_destpath".into(), json!(dest));
        env.render_str(
            &text,
            minijinja::Value::from(minijinja::value::Serde(&vars)),
        )
        .map_err(|e| e.to_string())
    }
}

struct H {
    host: LocalConnection,
    eval: Templates,
    check: bool,
    diff: bool,
    search_path: Vec<PathBuf>,
}

impl H {
    fn new() -> Self {
        let mut vars = VarMap::new();
        vars.insert("who".into(), json!("world"));
        vars.insert("items".into(), json!(["a", "b"]));
        H {
            host: LocalConnection,
            eval: Templates(Vars(vars)),
            check: false,
            diff: false,
            search_path: Vec::new(),
        }
    }

    async fn run(&self, module: &str, args: Value) -> ModuleResult {
        let Value::Object(args) = args else {
            panic!("arguments must be a mapping")
        };
        let ctx = ModuleContext {
            host: &self.host,
            become_: None,
            check_mode: self.check,
            diff_mode: self.diff,
            verbosity: 0,
            environment: Vec::new(),
            evaluator: &self.eval,
            search_path: &self.search_path,
        };
        modules::execute(module, &args, &ctx).await
    }
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn sha1_of(path: &Path) -> String {
    // From stdin: sha1sum escapes the line of a name with a newline in it.
    let out = std::process::Command::new("sh")
        .args(["-c", "sha1sum < \"$1\"", "sh"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The test user the SSH harness creates; `daemon` (always on Debian) when it has not been made yet.
#[cfg(feature = "system-tests")]
fn test_user() -> &'static str {
    let exists = std::process::Command::new("id")
        .arg("plyssh")
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        "plyssh"
    } else {
        "daemon"
    }
}

/// `id FLAG` of the user running the tests, who owns the files they create (root under tests/run).
fn id(flag: &str) -> String {
    let out = std::process::Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn ok(r: &ModuleResult) {
    assert!(!r.failed, "unexpected failure: {r:?}");
}

#[tokio::test]
async fn copy_content_writes_once_then_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("motd");
    let d = dest.display().to_string();
    let mut h = H::new();
    h.diff = true;

    let r = h
        .run("copy", json!({"content": "hello\n", "dest": d}))
        .await;
    ok(&r);
    assert!(r.changed);
    assert_eq!(fs::read_to_string(&dest).unwrap(), "hello\n");
    assert_eq!(r.values["dest"], json!(d));
    assert_eq!(
        r.values["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert_eq!(
        r.values["md5sum"],
        json!("b1946ac92492d2347c6235b4d2611184")
    );
    assert_eq!(r.values["mode"], json!("0644"));
    assert_eq!(r.values["size"], json!(6));
    assert_eq!(r.values["state"], json!("file"));
    assert_eq!(r.values["uid"], json!(id("-u").parse::<u32>().unwrap()));
    assert_eq!(r.diff.len(), 1);
    assert_eq!(r.diff[0].before, "");
    assert_eq!(r.diff[0].after, "hello\n");
    assert_eq!(r.diff[0].after_header, d);

    let mtime = fs::metadata(&dest).unwrap().mtime_nsec();
    let r = h
        .run("copy", json!({"content": "hello\n", "dest": d}))
        .await;
    ok(&r);
    assert!(!r.changed, "{r:?}");
    assert!(r.diff.is_empty());
    assert_eq!(
        r.values["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert_eq!(
        fs::metadata(&dest).unwrap().mtime_nsec(),
        mtime,
        "untouched"
    );

    let r = h.run("copy", json!({"content": "bye\n", "dest": d})).await;
    assert!(r.changed);
    assert_eq!(r.diff[0].before, "hello\n");
    assert_eq!(r.diff[0].before_header, d);
    assert_eq!(fs::read_to_string(&dest).unwrap(), "bye\n");

    // A non-string content is written as JSON, as Ansible's action does.
    let r = h
        .run("copy", json!({"content": {"a": [1, 2]}, "dest": d}))
        .await;
    ok(&r);
    assert_eq!(fs::read_to_string(&dest).unwrap(), r#"{"a":[1,2]}"#);
}

#[tokio::test]
async fn copy_argument_errors_use_ansible_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let h = H::new();
    let cases = [
        (
            json!({"content": "x", "src": "a", "dest": "/tmp/x"}),
            "parameters are mutually exclusive: content|src",
        ),
        (json!({"dest": "/tmp/x"}), "src (or content) is required"),
        (
            json!({"content": "x", "dest": format!("{d}/")}),
            "can not use content with a dir as dest",
        ),
        (
            json!({"content": "x", "dest": format!("{d}/no/such/f")}),
            &*format!("Destination directory {d}/no/such does not exist"),
        ),
        (
            json!({"content": "x", "dest": format!("{d}/f"), "validate": "true"}),
            "validate must contain %s: true",
        ),
    ];
    for (args, expected) in cases {
        let r = h.run("copy", args.clone()).await;
        assert!(r.failed, "{args}");
        assert_eq!(r.msg.as_deref(), Some(expected), "{args}");
    }
    let r = h.run("copy", json!({"src": "nope.txt", "dest": d})).await;
    assert!(r.failed);
    assert!(
        r.msg
            .as_deref()
            .unwrap()
            .starts_with("Could not find or access 'nope.txt'"),
        "{r:?}"
    );
}

#[tokio::test]
async fn copy_src_from_the_search_path_and_folders() {
    let controller = tempfile::tempdir().unwrap();
    let files = controller.path().join("files");
    fs::create_dir_all(files.join("tree/sub")).unwrap();
    fs::create_dir_all(files.join("tree/empty")).unwrap();
    fs::write(files.join("one.txt"), "one\n").unwrap();
    fs::write(files.join("tree/a.txt"), "a\n").unwrap();
    fs::write(files.join("tree/sub/b.txt"), "b\n").unwrap();
    fs::write(controller.path().join("beside.txt"), "beside\n").unwrap();
    let host = tempfile::tempdir().unwrap();
    let h_dir = host.path().display().to_string();
    let mut h = H::new();
    h.search_path = vec![controller.path().to_path_buf()];

    // (src, dest, path that must then hold, its content)
    let cases = [
        ("one.txt", format!("{h_dir}/x.txt"), "x.txt", "one\n"),
        ("beside.txt", format!("{h_dir}/"), "beside.txt", "beside\n"),
        ("one.txt", format!("{h_dir}/new/"), "new/one.txt", "one\n"),
        ("tree", format!("{h_dir}/c1"), "c1/tree/sub/b.txt", "b\n"),
        ("tree/", format!("{h_dir}/c2"), "c2/sub/b.txt", "b\n"),
    ];
    for (src, dest, check, content) in &cases {
        let args = json!({"src": src, "dest": dest});
        let r = h.run("copy", args.clone()).await;
        ok(&r);
        assert!(r.changed, "{args}: {r:?}");
        assert_eq!(
            fs::read_to_string(host.path().join(check)).unwrap(),
            *content,
            "{args}"
        );
        let again = h.run("copy", args.clone()).await;
        ok(&again);
        assert!(!again.changed, "second run of {args}: {again:?}");
    }
    assert!(host.path().join("c1/tree/empty").is_dir());
    assert!(host.path().join("c2/a.txt").is_file());
    // Copying into an existing folder puts the file inside it.
    let r = h
        .run(
            "copy",
            json!({"src": "one.txt", "dest": format!("{h_dir}/c2")}),
        )
        .await;
    ok(&r);
    assert_eq!(r.values["dest"], json!(format!("{h_dir}/c2/one.txt")));

    // directory_mode applies to folders the copy creates.
    let r = h
        .run(
            "copy",
            json!({"src": "tree/", "dest": format!("{h_dir}/c3"), "directory_mode": "0750", "mode": "0600"}),
        )
        .await;
    ok(&r);
    assert_eq!(mode_of(&host.path().join("c3/sub")), 0o750);
    assert_eq!(mode_of(&host.path().join("c3/sub/b.txt")), 0o600);
}

#[tokio::test]
async fn copy_backup_validate_force_and_remote_src() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("conf");
    let d = dest.display().to_string();
    fs::write(&dest, "old\n").unwrap();
    let h = H::new();

    let r = h
        .run(
            "copy",
            json!({"content": "new\n", "dest": d, "backup": true}),
        )
        .await;
    ok(&r);
    let backup = r.values["backup_file"].as_str().unwrap().to_string();
    let pattern = regex::Regex::new(&format!(
        r"^{}\.\d+\.\d{{4}}-\d\d-\d\d@\d\d:\d\d:\d\d~$",
        regex::escape(&d)
    ))
    .unwrap();
    assert!(pattern.is_match(&backup), "{backup}");
    assert_eq!(fs::read_to_string(&backup).unwrap(), "old\n");
    fs::remove_file(&backup).unwrap();

    // validate runs against a temp copy holding the new content.
    let r = h
        .run(
            "copy",
            json!({"content": "good\n", "dest": d, "validate": "grep -q good %s"}),
        )
        .await;
    ok(&r);
    assert!(r.changed);
    let r = h
        .run(
            "copy",
            json!({"content": "bad\n", "dest": d, "validate": "grep -q good %s"}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(r.msg.as_deref(), Some("failed to validate"));
    assert_eq!(r.values["exit_status"], json!(1));
    assert_eq!(fs::read_to_string(&dest).unwrap(), "good\n", "kept");
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");

    // force=no leaves an existing file alone.
    let r = h
        .run(
            "copy",
            json!({"content": "other\n", "dest": d, "force": false}),
        )
        .await;
    ok(&r);
    assert!(!r.changed);
    assert_eq!(fs::read_to_string(&dest).unwrap(), "good\n");

    // remote_src reads the source on the host.
    let copy = dir.path().join("copy");
    let r = h
        .run(
            "copy",
            json!({"src": d, "remote_src": true, "dest": copy.display().to_string()}),
        )
        .await;
    ok(&r);
    assert_eq!(fs::read_to_string(&copy).unwrap(), "good\n");
}

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn mode_forms_and_owner_group() {
    let dir = tempfile::tempdir().unwrap();
    let h = H::new();
    // (mode argument, mode of a new file with it)
    let cases: &[(Value, u32)] = &[
        (json!(0o600), 0o600),
        (json!("0640"), 0o640),
        (json!("755"), 0o755),
        (json!("u=rw,g=r,o="), 0o640),
        (json!("u+x"), 0o744),
        (json!("a=rX"), 0o444),
        (json!("go-r"), 0o600),
    ];
    for (i, (mode, expected)) in cases.iter().enumerate() {
        let dest = dir.path().join(format!("m{i}"));
        let args = json!({"content": "x", "dest": dest.display().to_string(), "mode": mode});
        let r = h.run("copy", args.clone()).await;
        ok(&r);
        assert_eq!(mode_of(&dest), *expected, "{args}");
        assert_eq!(r.values["mode"], json!(format!("0{expected:03o}")));
        let again = h.run("copy", args.clone()).await;
        assert!(!again.changed, "{args}: {again:?}");
        // The file module brings the same mode to an existing file, and reports it unchanged then.
        let f = h
            .run(
                "file",
                json!({"path": dest.display().to_string(), "mode": mode}),
            )
            .await;
        ok(&f);
        assert!(!f.changed, "file {args}: {f:?}");
    }
    let r = h
        .run(
            "copy",
            json!({"content": "x", "dest": dir.path().join("bad").display().to_string(), "mode": "u=rwz"}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(
        r.msg.as_deref(),
        Some("mode must be in octal or symbolic form")
    );
    assert_eq!(
        r.values["details"],
        json!("bad symbolic permission for mode: u=rwz")
    );

    // Attributes alone: the same content, a new mode, owner and group, with the file module's diff.
    let user = test_user();
    let dest = dir.path().join("owned");
    let d = dest.display().to_string();
    fs::write(&dest, "x").unwrap();
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o644)).unwrap();
    let mut h = H::new();
    h.diff = true;
    let args = json!({"content": "x", "dest": d, "mode": "0600", "owner": user, "group": user});
    let r = h.run("copy", args.clone()).await;
    ok(&r);
    assert!(r.changed);
    assert_eq!(r.values["owner"], json!(user));
    assert_eq!(r.values["group"], json!(user));
    let meta = fs::metadata(&dest).unwrap();
    assert_ne!(meta.uid(), 0);
    assert_eq!(mode_of(&dest), 0o600);
    assert!(
        r.diff[0].before.contains("\"mode\": \"0644\""),
        "{:?}",
        r.diff
    );
    assert!(
        r.diff[0].after.contains("\"mode\": \"0600\""),
        "{:?}",
        r.diff
    );
    assert!(r.diff[0]
        .after
        .contains(&format!("\"owner\": {}", meta.uid())));
    let again = h.run("copy", args).await;
    assert!(!again.changed, "{again:?}");

    let r = h
        .run("file", json!({"path": d, "owner": "no-such-user-ply"}))
        .await;
    assert!(r.failed);
    assert_eq!(
        r.msg.as_deref(),
        Some("chown failed: failed to look up user no-such-user-ply")
    );
}

#[tokio::test]
async fn check_mode_predicts_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing");
    fs::write(&existing, "old\n").unwrap();
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o644)).unwrap();
    let e = existing.display().to_string();
    let new = dir.path().join("new").display().to_string();
    let before_sum = sha1_of(&existing);
    let before_mtime = fs::metadata(&existing).unwrap().mtime_nsec();
    let mut h = H::new();
    h.check = true;
    h.diff = true;

    let cases: Vec<(&str, Value, bool)> = vec![
        ("copy", json!({"content": "new\n", "dest": e}), true),
        ("copy", json!({"content": "old\n", "dest": e}), false),
        (
            "copy",
            json!({"content": "old\n", "dest": e, "mode": "0600"}),
            true,
        ),
        ("copy", json!({"content": "x", "dest": new}), true),
        ("file", json!({"path": e, "state": "absent"}), true),
        ("file", json!({"path": e, "mode": "0600"}), true),
        ("file", json!({"path": e, "mode": "0644"}), false),
        ("file", json!({"path": new, "state": "directory"}), true),
        ("file", json!({"path": new, "state": "touch"}), true),
        (
            "file",
            json!({"path": new, "state": "link", "src": e}),
            true,
        ),
        ("stat", json!({"path": e}), false),
    ];
    for (module, args, changed) in cases {
        let r = h.run(module, args.clone()).await;
        ok(&r);
        assert_eq!(r.changed, changed, "{module} {args}: {r:?}");
        if changed {
            assert!(!r.diff.is_empty(), "{module} {args} shows a diff");
        }
    }
    assert_eq!(sha1_of(&existing), before_sum);
    assert_eq!(fs::metadata(&existing).unwrap().mtime_nsec(), before_mtime);
    assert_eq!(mode_of(&existing), 0o644);
    assert!(!Path::new(&new).exists());
}

#[tokio::test]
async fn template_renders_then_copies() {
    let controller = tempfile::tempdir().unwrap();
    let templates = controller.path().join("templates");
    fs::create_dir_all(&templates).unwrap();
    fs::write(
        templates.join("motd.j2"),
        "hello {{ who }}\n{% for i in items %}\n- {{ i }}\n{% endfor %}\n",
    )
    .unwrap();
    fs::set_permissions(templates.join("motd.j2"), fs::Permissions::from_mode(0o640)).unwrap();
    let host = tempfile::tempdir().unwrap();
    let dest = host.path().join("motd");
    let d = dest.display().to_string();
    let mut h = H::new();
    h.search_path = vec![controller.path().to_path_buf()];

    let r = h
        .run("template", json!({"src": "motd.j2", "dest": d}))
        .await;
    ok(&r);
    assert!(r.changed);
    assert_eq!(
        fs::read_to_string(&dest).unwrap(),
        "hello world\n- a\n- b\n"
    );
    assert_eq!(r.values["checksum"], json!(sha1_of(&dest)));
    let again = h
        .run("template", json!({"src": "motd.j2", "dest": d}))
        .await;
    assert!(!again.changed, "{again:?}");

    let r = h
        .run(
            "template",
            json!({"src": "motd.j2", "dest": d, "mode": "preserve", "newline_sequence": "\r\n"}),
        )
        .await;
    ok(&r);
    assert_eq!(mode_of(&dest), 0o640);
    assert_eq!(
        fs::read_to_string(&dest).unwrap(),
        "hello world\r\n- a\r\n- b\r\n"
    );

    let r = h
        .run("template", json!({"src": "missing.j2", "dest": d}))
        .await;
    assert!(r.failed);
    assert!(r
        .msg
        .as_deref()
        .unwrap()
        .starts_with("Could not find or access 'missing.j2'"));
}

#[tokio::test]
async fn file_states() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display().to_string();
    let h = H::new();
    fs::write(dir.path().join("target"), "t").unwrap();
    // (args, changed on the first run)
    let cases: Vec<(Value, bool)> = vec![
        (
            json!({"path": format!("{base}/a/b/c"), "state": "directory", "mode": "0750"}),
            true,
        ),
        (
            json!({"path": format!("{base}/a/b/c"), "state": "directory", "mode": "0750"}),
            false,
        ),
        (
            json!({"path": format!("{base}/a"), "state": "directory", "recurse": true, "mode": "0700"}),
            true,
        ),
        (
            json!({"path": format!("{base}/a"), "state": "directory", "recurse": true, "mode": "0700"}),
            false,
        ),
        (json!({"path": format!("{base}/t"), "state": "touch"}), true),
        (
            json!({"path": format!("{base}/t"), "state": "touch", "modification_time": "preserve", "access_time": "preserve"}),
            false,
        ),
        (
            json!({"path": format!("{base}/l"), "state": "link", "src": "target"}),
            true,
        ),
        (
            json!({"path": format!("{base}/l"), "state": "link", "src": "target"}),
            false,
        ),
        (
            json!({"path": format!("{base}/hl"), "state": "hard", "src": format!("{base}/target")}),
            true,
        ),
        (
            json!({"path": format!("{base}/hl"), "state": "hard", "src": format!("{base}/target")}),
            false,
        ),
        (
            json!({"path": format!("{base}/a"), "state": "absent"}),
            true,
        ),
        (
            json!({"path": format!("{base}/a"), "state": "absent"}),
            false,
        ),
    ];
    for (args, changed) in cases {
        let r = h.run("file", args.clone()).await;
        ok(&r);
        assert_eq!(r.changed, changed, "{args}: {r:?}");
    }
    assert!(!dir.path().join("a").exists());
    assert_eq!(
        fs::read_link(dir.path().join("l")).unwrap(),
        Path::new("target")
    );
    assert_eq!(
        fs::metadata(dir.path().join("hl")).unwrap().ino(),
        fs::metadata(dir.path().join("target")).unwrap().ino()
    );
    assert_eq!(fs::metadata(dir.path().join("t")).unwrap().len(), 0);

    let errors = [
        (
            json!({"path": format!("{base}/nope"), "state": "file"}),
            format!("file ({base}/nope) is absent, cannot continue"),
        ),
        (
            json!({"path": format!("{base}/target"), "state": "directory"}),
            format!("{base}/target already exists as a file"),
        ),
        (
            json!({"path": format!("{base}/t"), "state": "link", "src": "target"}),
            format!("refusing to convert from file to symlink for {base}/t"),
        ),
        (
            json!({"path": format!("{base}/x"), "src": "target"}),
            "src option requires state to be 'link' or 'hard'".to_string(),
        ),
        (
            json!({"path": format!("{base}/x"), "state": "link"}),
            "state is link but all of the following are missing: src".to_string(),
        ),
    ];
    for (args, expected) in errors {
        let r = h.run("file", args.clone()).await;
        assert!(r.failed, "{args}");
        assert_eq!(r.msg.as_deref(), Some(expected.as_str()), "{args}");
    }
}

#[tokio::test]
async fn stat_reports_like_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    fs::write(&f, "hello\n").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
    let h = H::new();

    // The shared harness (no diff, no templates) runs stat just the same.
    let r = common::Harness::new()
        .run(
            "stat",
            json!({"path": dir.path().join("none").display().to_string()}),
        )
        .await;
    ok(&r);
    assert_eq!(r.values["stat"], json!({"exists": false}));

    let r = h
        .run("stat", json!({"path": f.display().to_string()}))
        .await;
    let s = &r.values["stat"];
    assert_eq!(s["exists"], json!(true));
    assert_eq!(s["isreg"], json!(true));
    assert_eq!(s["isdir"], json!(false));
    assert_eq!(s["mode"], json!("0640"));
    assert_eq!(s["size"], json!(6));
    assert_eq!(s["pw_name"], json!(id("-un")));
    assert_eq!(s["rgrp"], json!(true));
    assert_eq!(s["roth"], json!(false));
    assert_eq!(
        s["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert!(s["mtime"].as_f64().unwrap() > 1e9);

    let r = h
        .run(
            "stat",
            json!({"path": f.display().to_string(), "get_checksum": false}),
        )
        .await;
    assert!(r.values["stat"].get("checksum").is_none());

    let l = dir.path().join("l").display().to_string();
    let r = h.run("stat", json!({"path": l})).await;
    let s = &r.values["stat"];
    assert_eq!(s["islnk"], json!(true));
    assert_eq!(s["lnk_target"], json!("f"));
    let real = fs::canonicalize(&f).unwrap().display().to_string();
    assert_eq!(s["lnk_source"], json!(real));
    let r = h.run("stat", json!({"path": l, "follow": true})).await;
    assert_eq!(r.values["stat"]["isreg"], json!(true));
    assert_eq!(r.values["stat"]["islnk"], json!(false));

    let r = h
        .run("stat", json!({"path": dir.path().display().to_string()}))
        .await;
    assert_eq!(r.values["stat"]["isdir"], json!(true));
    assert!(r.values["stat"].get("checksum").is_none());
}

/// Names a shell would mangle: every command line these modules build must pass them literally.
#[cfg(feature = "system-tests")]
const HOSTILE: &[&str] = &[
    "it's here",
    "$(touch PWNED)",
    "`touch PWNED2`",
    "star*",
    "q?[ab]",
    "new\nline",
    "-rf",
    "--help",
    "semi;colon&amp",
    "\"dq\" $HOME",
];

#[cfg(feature = "system-tests")]
#[tokio::test]
async fn hostile_file_names_are_taken_literally() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let user = test_user();
    let mut h = H::new();
    h.diff = true;
    for name in HOSTILE {
        let path = base.join(name);
        let p = path.display().to_string();
        let r = h
            .run(
                "copy",
                json!({"content": format!("{name}\n"), "dest": p, "backup": true, "mode": "0600", "owner": user, "validate": "test -s %s"}),
            )
            .await;
        ok(&r);
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{name}\n"));
        // Again with new content: a backup, attributes already right.
        let r = h
            .run(
                "copy",
                json!({"content": "v2\n", "dest": p, "backup": true, "mode": "0600", "owner": user}),
            )
            .await;
        ok(&r);
        let backup = r.values["backup_file"].as_str().unwrap();
        assert_eq!(fs::read_to_string(backup).unwrap(), format!("{name}\n"));
        fs::remove_file(backup).unwrap();

        let r = h.run("file", json!({"path": p, "mode": "u+x"})).await;
        ok(&r);
        assert_eq!(mode_of(&path), 0o700, "{name:?}");
        let r = h.run("stat", json!({"path": p})).await;
        ok(&r);
        assert_eq!(r.values["stat"]["pw_name"], json!(user));
        assert_eq!(r.values["stat"]["checksum"], json!(sha1_of(&path)));

        let sub = base.join(format!("{name}.d"));
        let s = sub.display().to_string();
        let r = h
            .run(
                "file",
                json!({"path": format!("{s}/{name}"), "state": "directory", "owner": user}),
            )
            .await;
        ok(&r);
        assert!(sub.join(name).is_dir(), "{name:?}");
        let link = format!("{s}/{name}.link");
        let r = h
            .run("file", json!({"path": link, "state": "link", "src": p}))
            .await;
        ok(&r);
        assert_eq!(fs::read_link(&link).unwrap(), path);
        let r = h
            .run(
                "file",
                json!({"path": s, "state": "directory", "recurse": true, "mode": "u=rwX,go="}),
            )
            .await;
        ok(&r);
        let r = h.run("file", json!({"path": s, "state": "absent"})).await;
        ok(&r);
        assert!(!sub.exists());
    }
    let mut names: Vec<String> = fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "nothing else was created or removed");
    assert!(!Path::new("PWNED").exists() && !Path::new("PWNED2").exists());
}
