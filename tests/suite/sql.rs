//! The sql module and its community.postgresql names through the `ply` binary, against a throwaway
//! PostgreSQL cluster (tests/src/postgres.rs), connecting as `become_user: postgres` over the socket.

use ply_tests::postgres::Postgres;
use ply_tests::Ply;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;

/// Runs one task with `--output json` and returns the task's result (the last `result` event).
fn task(pg: &Postgres, module: &str, args: &str, check: bool) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let playbook = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - {module}:\n        login_unix_socket: {}\n        port: {}\n{}\n      become: true\n      become_user: postgres\n      ignore_errors: true\n",
        pg.socket_dir().display(),
        pg.port(),
        args.lines().map(|l| format!("        {l}\n")).collect::<String>()
    );
    fs::write(dir.path().join("site.yml"), playbook).unwrap();
    fs::write(
        dir.path().join("hosts"),
        "localhost ansible_connection=local\n",
    )
    .unwrap();
    let mut ply = Ply::new()
        .args(["run", "site.yml", "-i", "hosts", "--output", "json"])
        .current_dir(dir.path());
    if check {
        ply = ply.arg("--check");
    }
    let out = ply.run();
    let events: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    events
        .iter()
        .rev()
        .find_map(|e| e.get("result").cloned())
        .unwrap_or_else(|| panic!("no result event in:\n{}\n{}", out.stdout, out.stderr))
}

#[test]
fn harness_starts_and_answers() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("SELECT 1 + 1"), "2");
    assert_eq!(pg.psql("SHOW password_encryption"), "scram-sha-256");
}

#[test]
fn sql_module_end_to_end() {
    let pg = Postgres::start();
    // Typed results.
    let r = task(&pg, "sql", "query: \"SELECT 1 AS i, 2.5::float8 AS f, true AS b, NULL::text AS n, '{\\\"a\\\": 1}'::jsonb AS j, 'x' AS s\"", false);
    assert_eq!(r["query_result"][0]["i"], 1, "{r}");
    assert_eq!(r["query_result"][0]["f"], 2.5, "{r}");
    assert_eq!(r["query_result"][0]["b"], true, "{r}");
    assert_eq!(r["query_result"][0]["n"], Value::Null, "{r}");
    assert_eq!(r["query_result"][0]["j"]["a"], 1, "{r}");
    assert_eq!(r["changed"], false, "{r}");

    // Hostile bound values come back byte for byte.
    pg.psql("CREATE TABLE t (v text)");
    let hostile = "it's \\\\ $$ x $$ é\\nline2 %s ; DROP TABLE t; --";
    let r = task(&pg, "sql", &format!("query:\n  - INSERT INTO t VALUES (%s)\n  - SELECT v FROM t\npositional_args:\n  - \"{hostile}\""), false);
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(
        r["query_all_results"][1][0]["v"], "it's \\ $$ x $$ é\nline2 %s ; DROP TABLE t; --",
        "{r}"
    );
    assert_eq!(r["statusmessage"], "SELECT 1", "{r}");

    // Check mode: the insert is refused by the read-only transaction and reported as a change.
    let r = task(&pg, "sql", "query: INSERT INTO t VALUES ('check')", true);
    assert_eq!(r["changed"], true, "{r}");
    assert_ne!(r["failed"], true, "{r}");
    assert_eq!(pg.psql("SELECT count(*) FROM t"), "1");

    // A syntax error: message, SQLSTATE, statement.
    let r = task(&pg, "sql", "query: SELEC 1", false);
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("42601") && msg.contains("SELEC 1"), "{msg}");

    // user: created, then unchanged; the password never shows.
    let args = "user: replicator\npassword: \"S3cret'pw\"\nrole_attr_flags: REPLICATION,LOGIN";
    let r = task(&pg, "sql", args, false);
    assert_eq!(r["changed"], true, "{r}");
    assert!(!r.to_string().contains("S3cret"), "{r}");
    let r = task(&pg, "sql", args, false);
    assert_eq!(r["changed"], false, "{r}");
    let r = task(
        &pg,
        "postgresql_user",
        "name: replicator\npassword: other",
        true,
    );
    assert_eq!(r["changed"], true, "{r}");

    // A wrong password: a clear message, and the password is not in it.
    let r = task(
        &pg,
        "sql",
        "login_user: replicator\nlogin_password: wrong-pw-123\nquery: SELECT 'wrong-pw-123'",
        false,
    );
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .contains("password authentication failed"),
        "{r}"
    );
    assert!(!r.to_string().contains("wrong-pw-123"), "{r}");
    // The right one works.
    let r = task(&pg, "sql", "login_user: replicator\nlogin_password: \"S3cret'pw\"\ndb: postgres\nquery: SELECT current_user AS u", false);
    assert_eq!(r["query_result"][0]["u"], "replicator", "{r}");

    // slot, setting, database: changed once, then not.
    for (module, args) in [
        ("sql", "slot: standby1"),
        ("postgresql_slot", "slot_name: standby2"),
        ("sql", "setting:\n  work_mem: 8MB"),
        ("sql", "database: appdb"),
    ] {
        let r = task(&pg, module, args, true);
        assert_eq!(r["changed"], true, "check {args}: {r}");
        let r = task(&pg, module, args, false);
        assert_eq!(r["changed"], true, "{args}: {r}");
        let r = task(&pg, module, args, false);
        assert_eq!(r["changed"], false, "again {args}: {r}");
    }
    assert_eq!(pg.psql("SELECT count(*) FROM pg_replication_slots"), "2");
    let r = task(&pg, "postgresql_ping", "db: postgres", false);
    assert_eq!(r["is_available"], true, "{r}");
}

#[test]
fn transactions_named_args_and_scripts() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE accounts (name text PRIMARY KEY, balance int)");
    // A transaction commits every statement together.
    let r = task(
        &pg,
        "sql",
        "transaction: true\nquery:\n  - INSERT INTO accounts VALUES ('alice', 10)\n  - INSERT INTO accounts VALUES ('bob', 5)",
        false,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(pg.psql("SELECT count(*) FROM accounts"), "2");
    // A failing statement inside a transaction leaves nothing of the others behind.
    let r = task(
        &pg,
        "sql",
        "transaction: true\nquery:\n  - UPDATE accounts SET balance = 0\n  - INSERT INTO accounts VALUES ('alice', 1)",
        false,
    );
    assert!(
        r["msg"].as_str().unwrap_or_default().contains("23505"),
        "a unique violation is reported: {r}"
    );
    assert_eq!(
        pg.psql("SELECT sum(balance) FROM accounts"),
        "15",
        "the update was rolled back"
    );
    // Named arguments are bound, not pasted.
    let r = task(
        &pg,
        "sql",
        "query: SELECT balance FROM accounts WHERE name = %(who)s\nnamed_args:\n  who: \"bob' OR '1'='1\"",
        false,
    );
    assert_eq!(r["rowcount"], 0, "the quote is data, not SQL: {r}");
    // A script runs in one session: a variable set by a meta-command is seen by a later statement.
    let r = task(
        &pg,
        "sql",
        "script: |\n  \\set who alice\n  UPDATE accounts SET balance = balance + 1 WHERE name = :'who';",
        false,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(
        pg.psql("SELECT balance FROM accounts WHERE name = 'alice'"),
        "11"
    );
}

#[test]
fn postgresql_db_creates_with_encoding_and_locale_and_never_changes_them() {
    let pg = Postgres::start();
    let args = "name: \"app'db\"\nencoding: UTF-8\nlc_collate: C\nlc_ctype: C\ntemplate: template0";
    let r = task(&pg, "postgresql_db", args, true);
    assert_eq!(r["changed"], true, "check: {r}");
    let r = task(&pg, "postgresql_db", args, false);
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(
        r["executed_commands"][0],
        "CREATE DATABASE \"app'db\" TEMPLATE \"template0\" ENCODING 'UTF-8' LC_COLLATE 'C' LC_CTYPE 'C'",
        "{r}"
    );
    assert_eq!(
        pg.psql("SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = 'app''db'"),
        "UTF8 C"
    );
    // Another spelling of the same encoding is the same encoding.
    let r = task(
        &pg,
        "postgresql_db",
        "name: \"app'db\"\nencoding: utf8\nlc_ctype: C",
        false,
    );
    assert_eq!(r["changed"], false, "{r}");
    let r = task(
        &pg,
        "postgresql_db",
        "name: \"app'db\"\nencoding: LATIN1",
        false,
    );
    assert_eq!(
        r["msg"], "Changing database encoding is not supported. Current encoding: UTF8",
        "{r}"
    );
    let r = task(
        &pg,
        "postgresql_db",
        "name: \"app'db\"\nlc_collate: en_US.UTF-8",
        false,
    );
    assert_eq!(
        r["msg"], "Changing LC_COLLATE is not supported. Current LC_COLLATE: C",
        "{r}"
    );
}

#[test]
fn postgresql_user_fail_on_user_no_keeps_a_role_that_owns_objects() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE keeper");
    pg.psql("CREATE TABLE kept (i int)");
    pg.psql("ALTER TABLE kept OWNER TO keeper");
    let r = task(&pg, "postgresql_user", "name: keeper\nstate: absent", false);
    assert_eq!(r["sqlstate"], "2BP01", "the drop fails by default: {r}");
    let r = task(
        &pg,
        "postgresql_user",
        "name: keeper\nstate: absent\nfail_on_user: no",
        false,
    );
    assert_eq!(r["sqlstate"], Value::Null, "{r}");
    assert_eq!(r["changed"], false, "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with("Unable to remove user keeper")),
        "{r}"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'keeper'"),
        "1"
    );
}

/// `--check` changes nothing: every statement runs inside one READ ONLY transaction that is rolled back,
/// so PostgreSQL refuses what would write (nextval() included), and what a read-only transaction would
/// allow but a rollback not undo is never sent. Both are reported as changes, not failures.
#[test]
fn check_mode_runs_statements_only_in_a_read_only_transaction() {
    let pg = Postgres::start();
    pg.psql("CREATE SEQUENCE s");
    pg.psql("CREATE TABLE t (i int)");
    pg.psql("INSERT INTO t VALUES (1)");
    let sequence = || pg.psql("SELECT last_value || ' ' || is_called FROM s");
    let count = || pg.psql("SELECT count(*) FROM t");
    let before = sequence();

    let r = task(
        &pg,
        "sql",
        "query:\n  - SELECT nextval('s') AS n\n  - INSERT INTO t VALUES (2)",
        true,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert_ne!(r["failed"], true, "{r}");
    let skipped = r["skipped_queries"].as_array().expect("skipped_queries");
    let first = skipped[0].as_str().unwrap_or_default();
    assert!(
        first.starts_with("SELECT nextval('s') AS n: not run in check mode: it writes")
            && first.contains("cannot execute nextval() in a read-only transaction")
            && first.contains("25006"),
        "{r}"
    );
    assert!(
        skipped[1]
            .as_str()
            .unwrap_or_default()
            .starts_with("INSERT INTO t VALUES (2): not run in check mode"),
        "{r}"
    );
    assert!(
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .starts_with("check mode: not run, so reported as a change: SELECT nextval"),
        "{r}"
    );
    assert_eq!(r["executed_queries"], serde_json::json!([]), "{r}");
    assert_eq!(sequence(), before, "the sequence did not advance");
    assert_eq!(count(), "1", "nothing was inserted");

    // The INSERT alone, after a read: the read's rows are kept, the INSERT is refused.
    let r = task(
        &pg,
        "sql",
        "query:\n  - SELECT count(*) AS n FROM t\n  - INSERT INTO t VALUES (2)",
        true,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(r["query_all_results"][0][0]["n"], 1, "{r}");
    assert_eq!(r["query_all_results"][1], serde_json::json!([]), "{r}");
    assert_eq!(count(), "1");

    // A pure SELECT returns its rows as in a real run, and is no change.
    let r = task(
        &pg,
        "sql",
        "query: SELECT i, 'x' AS s FROM t ORDER BY i",
        true,
    );
    assert_eq!(r["changed"], false, "{r}");
    assert_ne!(r["failed"], true, "{r}");
    assert_eq!(
        r["query_result"],
        serde_json::json!([{"i": 1, "s": "x"}]),
        "{r}"
    );
    assert_eq!(r["rowcount"], 1, "{r}");
    assert_eq!(r["rolled_back"], true, "{r}");
    assert!(r.get("skipped_queries").is_none(), "{r}");

    // Not sent at all: what cannot run in a transaction block, what would end it, what a read-only
    // transaction allows but a rollback does not undo, and psql meta-commands.
    let scratch = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let copied = scratch.path().join("copied");
    let touched = scratch.path().join("touched");
    for query in [
        "VACUUM t".to_string(),
        "CREATE DATABASE never".into(),
        "ALTER SYSTEM SET work_mem = '7MB'".into(),
        "\"SELECT pg_create_physical_replication_slot('never')\"".into(),
        "\"SELECT * FROM pg_create_physical_replication_slot('never')\"".into(),
        "\"DO $$ BEGIN PERFORM pg_create_physical_replication_slot('never'); END $$\"".into(),
        "SELECT pg_reload_conf()".into(),
        "CHECKPOINT".into(),
        "LOCK TABLE t IN ACCESS EXCLUSIVE MODE".into(),
        format!("\"COPY t TO '{}'\"", copied.display()),
        "\"SELECT 1; COMMIT; INSERT INTO t VALUES (3)\"".into(),
        format!("'SELECT 1 \\! touch {}'", touched.display()),
    ] {
        let r = task(&pg, "sql", &format!("query: {query}"), true);
        assert_eq!(r["changed"], true, "{query}: {r}");
        assert_ne!(r["failed"], true, "{query}: {r}");
        assert_eq!(
            r["skipped_queries"].as_array().map(Vec::len),
            Some(1),
            "{query}: {r}"
        );
    }
    // A statement that lifts read-only mode is refused by PostgreSQL itself.
    let r = task(
        &pg,
        "sql",
        "query:\n  - SET TRANSACTION READ WRITE\n  - INSERT INTO t VALUES (4)",
        true,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert!(
        r["skipped_queries"][0]
            .as_str()
            .unwrap_or_default()
            .contains("25001"),
        "{r}"
    );

    assert_eq!(count(), "1");
    assert_eq!(sequence(), before);
    assert_eq!(pg.psql("SELECT count(*) FROM pg_replication_slots"), "0");
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'never'"),
        "0"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_file_settings WHERE name = 'work_mem'"),
        "0"
    );
    assert!(!copied.exists(), "COPY TO wrote a file");
    assert!(!touched.exists(), "a psql meta-command ran");

    // The same task for real: the refused statements run.
    let r = task(
        &pg,
        "sql",
        "query:\n  - SELECT nextval('s') AS n\n  - INSERT INTO t VALUES (2)",
        false,
    );
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(r["query_all_results"][0][0]["n"], 1, "{r}");
    assert_eq!(count(), "2");
}

/// A query text of several statements: psql sends each one, so each is described and run exactly once;
/// the text's result is that of its last statement.
#[test]
fn a_text_of_several_statements_runs_each_once() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE t (i int)");
    let r = task(
        &pg,
        "sql",
        "query: \"INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); SELECT count(*) AS n FROM t\"",
        false,
    );
    assert_ne!(r["failed"], true, "{r}");
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(r["query_result"], serde_json::json!([{"n": 2}]), "{r}");
    assert_eq!(r["statusmessage"], "SELECT 1", "{r}");
    assert_eq!(pg.psql("SELECT count(*) FROM t"), "2");
    // Semicolons inside literals, comments and dollar quotes do not split.
    let r = task(
        &pg,
        "sql",
        "query: \"SELECT ';' AS a, $$;$$ AS b /* ; */\"",
        false,
    );
    assert_eq!(
        r["query_result"],
        serde_json::json!([{"a": ";", "b": ";"}]),
        "{r}"
    );
}
