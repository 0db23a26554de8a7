//! sql: runs SQL on a host's PostgreSQL server through the host's own `psql` (usually as `become_user:
//! postgres` over the local socket, so no port needs to be open to the controller), and the idempotent
//! helpers `user:`, `slot:`, `setting:` and `database:`. The same code serves community.postgresql's
//! postgresql_query, postgresql_user, postgresql_slot, postgresql_db and postgresql_ping.
//!
//! Everything is decided and done in `plan`, because SQL cannot be predicted without the server. In check
//! mode every psql session is one `READ ONLY` transaction that is rolled back (`psql::run`), so the server
//! itself refuses writes; a refused statement, and one check mode does not send at all (it cannot run in a
//! transaction block, or its effect escapes the transaction: see `not_in_check_mode`), is reported as a
//! change instead of run. Helpers only read.

mod lexer;
mod psql;
mod scram;

use crate::args::{ArgDefault, ArgSpec, ArgType, UnknownArgs};
use crate::contract::{ModuleContext, ModuleResult};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use lexer::Piece;
use psql::{ident, Conn, Failure, Statement, StatementResult};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const LOGIN_DB: ArgSpec = ArgSpec::new(
    "login_db",
    ArgType::Str,
    "Database to connect to (default postgres).",
)
.aliases(&["db"]);
const LOGIN_PORT: ArgSpec = ArgSpec::new(
    "login_port",
    ArgType::Int,
    "Server port (psql's default, 5432).",
)
.aliases(&["port"]);
const LOGIN_HOST: ArgSpec = ArgSpec::new(
    "login_host",
    ArgType::Str,
    "Host to connect to; empty (the default) uses the local unix socket.",
);
const LOGIN_USER: ArgSpec = ArgSpec::new(
    "login_user",
    ArgType::Str,
    "Role to log in as (default: the OS user psql runs as, e.g. postgres with become_user).",
);
const LOGIN_PASSWORD: ArgSpec = ArgSpec::new(
    "login_password",
    ArgType::Str,
    "Password; sent to psql on its stdin, never on a command line, and never shown in output.",
);
const LOGIN_SOCKET: ArgSpec = ArgSpec::new(
    "login_unix_socket",
    ArgType::Str,
    "Folder of the server's unix socket.",
);
const SESSION_ROLE: ArgSpec = ArgSpec::new(
    "session_role",
    ArgType::Str,
    "Role to SET ROLE to after connecting.",
);
const QUERY: ArgSpec = ArgSpec::new(
    "query",
    ArgType::Raw,
    "A statement or a list of statements, run in order in one session; a text holding several \
     statements separated by ; runs each once and returns the last one's rows. Placeholders are %s \
     (positional_args) or %(name)s (named_args); %% is a literal %.",
);
const POSITIONAL: ArgSpec = ArgSpec::new(
    "positional_args",
    ArgType::List,
    "Values for %s placeholders, bound as literals (never pasted as SQL text).",
);
const NAMED: ArgSpec = ArgSpec::new(
    "named_args",
    ArgType::Dict,
    "Values for %(name)s placeholders.",
);
const AUTOCOMMIT: ArgSpec = ArgSpec::new(
    "autocommit",
    ArgType::Bool,
    "Run each statement in its own transaction (refused in check mode, as community.postgresql does).",
);
const TRANSACTION: ArgSpec = ArgSpec::new(
    "transaction",
    ArgType::Bool,
    "Wrap all statements in one BEGIN/COMMIT. (In check mode they always share one read-only \
     transaction, rolled back.)",
)
.default(ArgDefault::Bool(false));
const STATE: ArgSpec = ArgSpec::new("state", ArgType::Str, "Whether the object should exist.")
    .choices(&["present", "absent"])
    .default(ArgDefault::Str("present"));
const PASSWORD: ArgSpec = ArgSpec::new(
    "password",
    ArgType::Str,
    "The role's password: compared with the stored SCRAM/MD5 verifier, and set (as a SCRAM verifier \
     computed here, so the plain password never reaches the server) only when it differs.",
);
const ROLE_ATTR: ArgSpec = ArgSpec::new(
    "role_attr_flags",
    ArgType::Str,
    "Role attributes, comma separated: LOGIN, REPLICATION, CREATEDB, NOSUPERUSER, ...",
);
const CONN_LIMIT: ArgSpec =
    ArgSpec::new("conn_limit", ArgType::Int, "The role's connection limit.");
const SLOT_TYPE: ArgSpec = ArgSpec::new("slot_type", ArgType::Str, "Slot type.")
    .choices(&["physical", "logical"])
    .default(ArgDefault::Str("physical"));
const RESERVE: ArgSpec = ArgSpec::new(
    "immediately_reserve",
    ArgType::Bool,
    "Reserve WAL for a physical slot at once.",
)
.default(ArgDefault::Bool(false));
const OUTPUT_PLUGIN: ArgSpec = ArgSpec::new(
    "output_plugin",
    ArgType::Str,
    "Output plugin of a logical slot.",
)
.default(ArgDefault::Str("test_decoding"));
const OWNER: ArgSpec = ArgSpec::new("owner", ArgType::Str, "Owner of the database.");
const TEMPLATE: ArgSpec = ArgSpec::new(
    "template",
    ArgType::Str,
    "Template the database is created from (e.g. template0, needed for an encoding or locale other \
     than template1's). Only used when the database is created.",
);
const ENCODING: ArgSpec = ArgSpec::new(
    "encoding",
    ArgType::Str,
    "Encoding of the database (e.g. UTF-8). An existing database with another encoding is an error: \
     PostgreSQL cannot change it.",
);
const LC_COLLATE: ArgSpec = ArgSpec::new(
    "lc_collate",
    ArgType::Str,
    "Collation order (LC_COLLATE) of the database; like encoding, never changed on an existing database.",
);
const LC_CTYPE: ArgSpec = ArgSpec::new(
    "lc_ctype",
    ArgType::Str,
    "Character classification (LC_CTYPE) of the database; like encoding, never changed on an existing \
     database.",
);

static SQL_ARGS: &[ArgSpec] = &[
    LOGIN_DB,
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
    QUERY,
    POSITIONAL,
    NAMED,
    AUTOCOMMIT,
    TRANSACTION,
    ArgSpec::new(
        "script",
        ArgType::Str,
        "psql input run as is in one session, meta-commands (\\! ...) included: a file (on the controller, \
         looked up in files/ first) or the text itself. Skipped in check mode.",
    ),
    ArgSpec::new(
        "user",
        ArgType::Raw,
        "A role to keep present or absent: its name (with password, role_attr_flags, conn_limit, state), \
         or a dict of those.",
    ),
    ArgSpec::new(
        "slot",
        ArgType::Str,
        "A replication slot to keep present or absent (slot_type, immediately_reserve, state).",
    ),
    ArgSpec::new(
        "setting",
        ArgType::Raw,
        "Server settings to keep with ALTER SYSTEM: a dict name: value, or a name with value. Reloads the \
         configuration and reports restart_required.",
    ),
    ArgSpec::new("value", ArgType::Str, "The value when setting is a name."),
    ArgSpec::new("database", ArgType::Str, "A database to keep present or absent (owner, state)."),
    OWNER,
    PASSWORD,
    ROLE_ATTR,
    CONN_LIMIT,
    STATE,
    SLOT_TYPE,
    RESERVE,
    OUTPUT_PLUGIN,
];

static QUERY_ARGS: &[ArgSpec] = &[
    LOGIN_DB,
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
    QUERY.required(),
    POSITIONAL,
    NAMED,
    AUTOCOMMIT,
    TRANSACTION,
];
static USER_ARGS: &[ArgSpec] = &[
    LOGIN_DB,
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
    ArgSpec::new("name", ArgType::Str, "The role.")
        .required()
        .aliases(&["user"]),
    PASSWORD,
    ROLE_ATTR,
    CONN_LIMIT,
    STATE,
    ArgSpec::new(
        "fail_on_user",
        ArgType::Bool,
        "With state=absent: fail when the role cannot be dropped (it still owns objects or has \
         privileges). When false, the role is left in place with a warning and the task is ok.",
    )
    .aliases(&["fail_on_role"])
    .default(ArgDefault::Bool(true)),
];
static SLOT_ARGS: &[ArgSpec] = &[
    LOGIN_DB,
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
    ArgSpec::new("name", ArgType::Str, "The slot.")
        .required()
        .aliases(&["slot_name"]),
    SLOT_TYPE,
    RESERVE,
    OUTPUT_PLUGIN,
    STATE,
];
static DB_ARGS: &[ArgSpec] = &[
    ArgSpec::new("maintenance_db", ArgType::Str, "Database to connect to.")
        .aliases(&["login_db"])
        .default(ArgDefault::Str("postgres")),
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
    ArgSpec::new("name", ArgType::Str, "The database.")
        .required()
        .aliases(&["db"]),
    OWNER,
    TEMPLATE,
    ENCODING,
    LC_COLLATE,
    LC_CTYPE,
    STATE,
];
static PING_ARGS: &[ArgSpec] = &[
    LOGIN_DB,
    LOGIN_PORT,
    LOGIN_HOST,
    LOGIN_USER,
    LOGIN_PASSWORD,
    LOGIN_SOCKET,
    SESSION_ROLE,
];

static RETURNS: &[ReturnDoc] = &[
    ReturnDoc::new("query_result", "list", "query", "Rows of the last statement, as dicts with typed values (ints, floats, bools, nulls, text, json)."),
    ReturnDoc::new("query_all_results", "list", "query", "The rows of every statement, one list per statement ([] for one not run in check mode)."),
    ReturnDoc::new("rowcount", "int", "query", "Rows returned or affected, summed over the statements."),
    ReturnDoc::new("statusmessage", "str", "query", "The command tag of the last statement, e.g. \"INSERT 0 1\"."),
    ReturnDoc::new("query", "str", "query", "The last statement as written (placeholders, not the values)."),
    ReturnDoc::new("executed_queries", "list", "always", "The statements run, as written (helpers show passwords as ********)."),
    ReturnDoc::new("sqlstate", "str", "failure", "PostgreSQL's SQLSTATE of the error."),
    ReturnDoc::new("rolled_back", "bool", "query in check mode", "Always true: the statements ran in a READ ONLY transaction that was rolled back."),
    ReturnDoc::new("skipped_queries", "list", "query in check mode", "The statements not run, each with why (PostgreSQL refused it as a write, or it cannot run in a read-only transaction block or acts outside it); they make the task changed."),
    ReturnDoc::new("restart_required", "bool", "setting", "Whether a changed setting takes effect only after a restart."),
    ReturnDoc::new("is_available", "bool", "postgresql_ping", "Whether the server answered."),
    ReturnDoc::new("server_version", "dict", "postgresql_ping", "major, minor, full, raw."),
];

const CHECK: Support = Support::Partial(
    "queries run inside a READ ONLY transaction that is rolled back: a statement PostgreSQL refuses there \
     (it writes; nextval() too) is not run and reported as a change, as is one that cannot run in a \
     transaction block or acts outside it (VACUUM, CREATE DATABASE, ALTER SYSTEM, CHECKPOINT, COPY TO a \
     file, slot and WAL functions, pg_reload_conf(), psql meta-commands, ...), listed in skipped_queries; \
     pure reads return their rows; script is skipped; helpers only read and predict",
);

const fn doc(
    name: &'static str,
    short_description: &'static str,
    args: &'static [ArgSpec],
    required_one_of: &'static [&'static [&'static str]],
    example: &'static str,
) -> ModuleDoc {
    ModuleDoc {
        name,
        short_description,
        description: "Runs SQL on the host's PostgreSQL server through the host's psql (usually with \
            become_user: postgres over the local socket). Results come back typed; helpers change only \
            what differs.",
        free_form: None,
        args,
        unknown_args: UnknownArgs::Module,
        mutually_exclusive: &[&["positional_args", "named_args"], &["query", "script"]],
        required_one_of,
        check_mode: CHECK,
        diff_mode: Support::None,
        returns: RETURNS,
        notes: &[
            "Needs psql on the host (Debian: postgresql-client). Passwords travel on psql's stdin only.",
        ],
        example,
    }
}

pub static DOC: ModuleDoc = doc(
    "sql",
    "Run SQL and keep roles, slots, settings and databases on PostgreSQL",
    SQL_ARGS,
    &[&["query", "script", "user", "slot", "setting", "database"]],
    r#"- name: Count rows
  sql:
    query: SELECT count(*) AS n FROM pg_stat_activity WHERE usename = %s
    positional_args: [replicator]
  become: true
  become_user: postgres
  register: r

- name: A replication role, idempotent
  sql:
    user: replicator
    password: "{{ replication_password }}"
    role_attr_flags: REPLICATION,LOGIN
  become: true
  become_user: postgres

- name: A physical slot and a setting
  sql:
    slot: standby1
  become: true
  become_user: postgres
"#,
);
pub static DOC_QUERY: ModuleDoc = doc(
    "postgresql_query",
    "Run PostgreSQL queries (community.postgresql compatible)",
    QUERY_ARGS,
    &[],
    "- community.postgresql.postgresql_query:\n    db: postgres\n    query: SELECT version()\n",
);
pub static DOC_USER: ModuleDoc = doc(
    "postgresql_user",
    "Create, alter, or remove a PostgreSQL role (community.postgresql compatible)",
    USER_ARGS,
    &[],
    "- community.postgresql.postgresql_user:\n    name: replicator\n    password: secret\n    role_attr_flags: REPLICATION,LOGIN\n",
);
pub static DOC_SLOT: ModuleDoc = doc(
    "postgresql_slot",
    "Add or remove replication slots (community.postgresql compatible)",
    SLOT_ARGS,
    &[],
    "- community.postgresql.postgresql_slot:\n    slot_name: standby1\n",
);
pub static DOC_DB: ModuleDoc = doc(
    "postgresql_db",
    "Add or remove PostgreSQL databases (community.postgresql compatible)",
    DB_ARGS,
    &[],
    "- community.postgresql.postgresql_db:\n    name: app\n    owner: app\n",
);
pub static DOC_PING: ModuleDoc = doc(
    "postgresql_ping",
    "Check that the server answers (community.postgresql compatible)",
    PING_ARGS,
    &[],
    "- community.postgresql.postgresql_ping:\n    db: postgres\n",
);

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    login_db: Option<String>,
    maintenance_db: Option<String>,
    login_port: Option<i64>,
    login_host: Option<String>,
    login_user: Option<String>,
    login_password: Option<String>,
    login_unix_socket: Option<String>,
    session_role: Option<String>,
    query: Option<Value>,
    positional_args: Option<Vec<Value>>,
    named_args: Option<Map<String, Value>>,
    autocommit: Option<bool>,
    transaction: bool,
    script: Option<String>,
    user: Option<Value>,
    name: Option<String>,
    slot: Option<String>,
    setting: Option<Value>,
    value: Option<String>,
    database: Option<String>,
    owner: Option<String>,
    template: Option<String>,
    encoding: Option<String>,
    lc_collate: Option<String>,
    lc_ctype: Option<String>,
    password: Option<String>,
    role_attr_flags: Option<String>,
    conn_limit: Option<i64>,
    /// None (the sql module's `user:` helper) fails like the default true.
    fail_on_user: Option<bool>,
    state: Option<String>,
    slot_type: Option<String>,
    immediately_reserve: bool,
    output_plugin: Option<String>,
}

/// The module under one of its names; `0` is the doc, which also says which form it takes.
pub struct Sql(pub &'static ModuleDoc);

/// Replaces every secret in every string of the result with `********`.
fn redact(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "********");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact(v, secrets)),
        _ => {}
    }
}

fn failure_result(failure: Failure, statements: &[String]) -> ModuleResult {
    match failure {
        Failure::Connection(e) => ModuleResult::from_connection_error(&e),
        Failure::Host(msg) => ModuleResult::failed(msg),
        Failure::Sql(e) => {
            let statement = e.statement.and_then(|i| statements.get(i));
            let code = e
                .sqlstate
                .as_deref()
                .map(|c| format!(" (SQLSTATE {c})"))
                .unwrap_or_default();
            let msg = match statement {
                Some(q) => format!("Cannot execute SQL '{q}': {}{code}", e.message),
                None => format!("Cannot connect or run SQL: {}{code}", e.message),
            };
            let mut result = ModuleResult::failed(msg);
            result.values.insert("sqlstate".into(), json!(e.sqlstate));
            result.values.insert("stderr".into(), json!(e.stderr));
            result.values.insert(
                "executed_queries".into(),
                json!(statements[..e.completed.len().min(statements.len())]),
            );
            result
        }
    }
}

/// The literal SQL text for a bound value: psql variables for strings (quoted by psql), plain text for
/// numbers and booleans, ARRAY[...] for lists, NULL for null.
fn bind(value: &Value, vars: &mut Vec<(String, String)>) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "ARRAY[{}]",
            items
                .iter()
                .map(|v| bind(v, vars))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::String(s) => {
            let name = format!("ply_arg_{}", vars.len());
            vars.push((name.clone(), s.clone()));
            format!(":'{name}'")
        }
        Value::Object(_) => {
            let name = format!("ply_arg_{}", vars.len());
            vars.push((name.clone(), value.to_string()));
            format!(":'{name}'")
        }
    }
}

/// psycopg's placeholders (`%s`, `%(name)s`, `%%`) replaced by bound values; the text is left alone
/// without arguments, as psycopg does.
fn substitute(
    sql: &str,
    positional: Option<&[Value]>,
    named: Option<&Map<String, Value>>,
    vars: &mut Vec<(String, String)>,
) -> Result<String, String> {
    if positional.is_none() && named.is_none() {
        return Ok(sql.to_string());
    }
    let mut out = String::new();
    let mut next = 0;
    let mut rest = sql;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('s') {
            let value = positional
                .and_then(|p| p.get(next))
                .ok_or("not enough positional_args for the %s placeholders")?;
            next += 1;
            out.push_str(&bind(value, vars));
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            let (key, tail) = tail
                .split_once(")s")
                .ok_or("a %( placeholder must be written %(name)s")?;
            let value = named
                .and_then(|n| n.get(key))
                .ok_or_else(|| format!("named_args has no {key}"))?;
            out.push_str(&bind(value, vars));
            rest = tail;
        } else {
            return Err("unsupported placeholder: only %s, %(name)s and %% are".into());
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Functions whose effect lies outside the transaction, so that neither a read-only transaction nor its
/// rollback stops or undoes them (PostgreSQL lets them run there): replication slots and origins, WAL,
/// backups, the server's configuration and other sessions, statistics, files written by the server,
/// other servers (dblink), and locks other sessions would wait for. Check mode never sends a statement
/// that names one (also inside a string or a function body, where EXECUTE or DO would run it).
const OUTSIDE_THE_TRANSACTION: &[&str] = &[
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    "pg_logical_slot_get_changes",
    "pg_logical_slot_get_binary_changes",
    "pg_sync_replication_slots",
    "pg_logical_emit_message",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_replication_origin_advance",
    "pg_replication_origin_session_setup",
    "pg_replication_origin_session_reset",
    "pg_replication_origin_xact_setup",
    "pg_replication_origin_xact_reset",
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_create_restore_point",
    "pg_log_standby_snapshot",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_promote",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
    "pg_xlog_replay_pause",
    "pg_xlog_replay_resume",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_cancel_backend",
    "pg_terminate_backend",
    "pg_stat_reset",
    "pg_stat_reset_shared",
    "pg_stat_reset_single_table_counters",
    "pg_stat_reset_single_function_counters",
    "pg_stat_reset_slru",
    "pg_stat_reset_replication_slot",
    "pg_stat_reset_subscription_stats",
    "pg_stat_statements_reset",
    "lo_export",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_send_query",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
];

/// Whether `name` occurs in `lower` (lower-cased SQL) as a whole word.
fn mentions(lower: &str, name: &str) -> bool {
    let word =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    lower.match_indices(name).any(|(at, _)| {
        !word(lower[..at].chars().next_back()) && !word(lower[at + name.len()..].chars().next())
    })
}

/// Why check mode does not send a statement at all, or `None` when it may run in the read-only
/// transaction, where PostgreSQL refuses whatever would write. These are the statements that cannot run
/// in a transaction block, that would end it, and those whose effect a read-only transaction allows and
/// a rollback does not undo.
fn not_in_check_mode(piece: &Piece) -> Option<String> {
    if piece.meta {
        return Some("psql meta-commands (\\...) can act outside the database".into());
    }
    let why = match (piece.keyword(), piece.second()) {
        ("VACUUM", _) => "VACUUM cannot run inside a transaction block",
        ("CREATE" | "DROP", "DATABASE" | "TABLESPACE") => {
            "it cannot run inside a transaction block"
        }
        ("ALTER", "SYSTEM") => "ALTER SYSTEM cannot run inside a transaction block",
        ("CREATE" | "ALTER" | "DROP", "SUBSCRIPTION") => {
            "a subscription acts on its publisher, outside the transaction"
        }
        ("BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT", _)
        | ("PREPARE", "TRANSACTION") => "it would end check mode's read-only transaction",
        ("CHECKPOINT", _) => "CHECKPOINT acts outside the transaction",
        ("ANALYZE" | "ANALYSE", _) => "ANALYZE updates statistics outside the transaction",
        ("CLUSTER" | "REINDEX", _) => "it rewrites and locks tables or indexes",
        ("LOAD", _) => "LOAD loads a library into the server",
        ("LOCK", _) => "LOCK takes locks that other sessions would wait for",
        ("COPY", _) => {
            let mut top = piece.words.iter().skip(1).filter(|w| w.depth == 0);
            match top.find(|w| w.text == "TO" || w.text == "FROM") {
                Some(w) if w.text == "FROM" => "COPY FROM writes rows",
                Some(_) if top.next().is_some_and(|w| w.text == "STDOUT") => return None,
                Some(_) => "COPY TO a file or a program writes outside the database",
                None => return None,
            }
        }
        _ if piece.words.iter().any(|w| w.text == "CONCURRENTLY") => {
            "CONCURRENTLY cannot run inside a transaction block"
        }
        _ => {
            let lower = piece.text.to_ascii_lowercase();
            let name = OUTSIDE_THE_TRANSACTION
                .iter()
                .find(|name| mentions(&lower, name))?;
            return Some(format!("{name}() acts outside the transaction"));
        }
    };
    Some(why.to_string())
}

/// The SQLSTATEs with which PostgreSQL refuses a statement in check mode's read-only transaction block
/// without doing it: read_only_sql_transaction (a write, `nextval()` included), active_sql_transaction
/// (cannot run inside a transaction block, or `SET TRANSACTION READ WRITE` after the first query) and
/// invalid_transaction_termination (a COMMIT inside a procedure or DO block).
const REFUSED_IN_CHECK_MODE: &[&str] = &["25006", "25001", "2D000"];

/// The text (by index) of the statement PostgreSQL refused in check mode, when that is how it failed.
fn refused_text(e: &psql::SqlError, owner: &[usize]) -> Option<usize> {
    let code = e.sqlstate.as_deref()?;
    if !REFUSED_IN_CHECK_MODE.contains(&code) {
        return None;
    }
    owner.get(e.statement?).copied()
}

/// Whether a statement changed something, by its command tag (community.postgresql's rule).
fn statement_changed(r: &StatementResult) -> bool {
    let tag = r.statusmessage.to_ascii_uppercase();
    if tag.is_empty() || tag.starts_with("SELECT") || tag.starts_with("SHOW") || tag == "SET" {
        return false;
    }
    let count = tag.rsplit(' ').next().and_then(|n| n.parse::<i64>().ok());
    if ["INSERT", "UPDATE", "DELETE", "MERGE"]
        .iter()
        .any(|k| tag.starts_with(k))
    {
        return count != Some(0);
    }
    true
}

/// What one query text returned: its last statement's rows and command tag, the row counts of all its
/// statements, and whether any of them changed something.
#[derive(Clone, Debug, Default)]
struct TextOutcome {
    rows: Vec<Value>,
    status: String,
    rowcount: i64,
    changed: bool,
}

/// The command tag of a statement that returned rows (psql prints none for those), by its first keyword.
fn rows_tag(keyword: &str, rowcount: i64) -> String {
    match keyword {
        "INSERT" => format!("INSERT 0 {rowcount}"),
        k @ ("UPDATE" | "DELETE" | "MERGE" | "MOVE" | "FETCH" | "COPY") => {
            format!("{k} {rowcount}")
        }
        "SHOW" => "SHOW".into(),
        _ => format!("SELECT {rowcount}"),
    }
}

impl Sql {
    fn conn(&self, p: &Params) -> Conn {
        Conn {
            db: p.login_db.clone().or_else(|| p.maintenance_db.clone()),
            port: p.login_port,
            host: p.login_host.clone(),
            user: p.login_user.clone(),
            password: p.login_password.clone(),
            unix_socket: p.login_unix_socket.clone(),
            session_role: p.session_role.clone(),
        }
    }

    async fn query(&self, p: &Params, query: &Value, ctx: &ModuleContext<'_>) -> ModuleResult {
        let texts: Vec<String> = match query {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect(),
            other => vec![other.to_string()],
        };
        if ctx.check_mode && p.autocommit == Some(true) {
            return ModuleResult::failed("Using autocommit is mutually exclusive with check_mode");
        }
        let mut vars = Vec::new();
        // Each text's statements, as psql gets them one by one with their first keyword; in check mode,
        // why a text is not run instead.
        let mut plans: Vec<Result<Vec<(String, String)>, String>> = Vec::new();
        for text in &texts {
            let sql = match substitute(
                text,
                p.positional_args.as_deref(),
                p.named_args.as_ref(),
                &mut vars,
            ) {
                Ok(sql) => sql,
                Err(msg) => return ModuleResult::failed(msg),
            };
            let pieces = lexer::split(&sql);
            if ctx.check_mode {
                if let Some(why) = pieces.iter().find_map(not_in_check_mode) {
                    plans.push(Err(why));
                    continue;
                }
            }
            if pieces.is_empty() || pieces.iter().any(|piece| piece.meta) {
                // psql reads the text as it is (a meta-command's arguments are psql's to parse).
                let keyword = pieces.first().map(|piece| piece.keyword().to_string());
                plans.push(Ok(vec![(sql, keyword.unwrap_or_default())]));
            } else {
                // Several statements in one text are sent one by one, each described and run once.
                plans.push(Ok(pieces
                    .iter()
                    .map(|piece| (piece.text.clone(), piece.keyword().to_string()))
                    .collect()));
            }
        }
        // In check mode psql::run makes the whole session one read-only transaction, rolled back.
        let own_transaction = p.transaction && !ctx.check_mode;
        let mut statements = Vec::new();
        // The text of each reported statement, and the texts sent, in order.
        let mut owner = Vec::new();
        let mut sent = Vec::new();
        if own_transaction {
            statements.push(Statement::internal("BEGIN"));
        }
        for (t, plan) in plans.iter().enumerate() {
            if let Ok(pieces) = plan {
                for (sql, _) in pieces {
                    statements.push(Statement::user(sql.clone()));
                    owner.push(t);
                }
                sent.push(t);
            }
        }
        if own_transaction {
            statements.push(Statement::internal("COMMIT"));
        }
        let conn = self.conn(p);
        let (results, refused) = match psql::run(ctx, &conn, &vars, &statements).await {
            Ok(results) => (results, None),
            Err(Failure::Sql(e)) if ctx.check_mode && refused_text(&e, &owner).is_some() => {
                let at = refused_text(&e, &owner).unwrap_or_default();
                let why = format!(
                    "it writes: {} (SQLSTATE {})",
                    e.message,
                    e.sqlstate.as_deref().unwrap_or_default()
                );
                (e.completed, Some((at, why)))
            }
            Err(Failure::Sql(mut e)) => {
                // Reported per text, as written: the failing statement's text, and the texts before it.
                let failed_text = e.statement.and_then(|i| owner.get(i).copied());
                let position = failed_text.and_then(|t| sent.iter().position(|&s| s == t));
                let done = position.unwrap_or(sent.len());
                e.statement = position;
                e.completed = vec![StatementResult::default(); done];
                let shown: Vec<String> = sent.iter().map(|&t| texts[t].clone()).collect();
                return failure_result(Failure::Sql(e), &shown);
            }
            Err(f) => return failure_result(f, &texts),
        };
        // Per text: the rows and tag of its last statement, the row counts summed, changed if any changed.
        let mut outcomes: Vec<Option<TextOutcome>> = vec![None; texts.len()];
        let keywords = plans
            .iter()
            .filter_map(|plan| plan.as_ref().ok())
            .flatten()
            .map(|(_, keyword)| keyword);
        for ((r, &t), keyword) in results.into_iter().zip(&owner).zip(keywords) {
            let mut r = r;
            if r.has_columns {
                r.statusmessage = rows_tag(keyword, r.rowcount);
            }
            let changed = statement_changed(&r);
            let outcome = outcomes[t].get_or_insert_with(TextOutcome::default);
            outcome.rows = r.rows.into_iter().map(Value::Object).collect();
            outcome.status = r.statusmessage;
            outcome.rowcount += r.rowcount;
            outcome.changed |= changed;
        }
        let mut all = Vec::new();
        let mut executed = Vec::new();
        let mut not_run = Vec::new();
        let mut changed = false;
        let mut rowcount = 0;
        let mut status = String::new();
        for (t, text) in texts.iter().enumerate() {
            let why = match (&plans[t], &refused) {
                (Err(why), _) => Some(why.clone()),
                (Ok(_), Some((at, why))) if *at == t => Some(why.clone()),
                (Ok(_), Some((at, _))) if *at < t => {
                    Some("a statement before it was not run".to_string())
                }
                _ => None,
            };
            if let Some(why) = why {
                not_run.push((text, why));
                all.push(json!([]));
                continue;
            }
            let outcome = outcomes[t].take().unwrap_or_default();
            changed |= outcome.changed;
            rowcount += outcome.rowcount;
            status = outcome.status;
            all.push(Value::Array(outcome.rows));
            executed.push(text.clone());
        }
        let mut result = ModuleResult {
            // What check mode does not run may change something: it is reported as a change.
            changed: changed || !not_run.is_empty(),
            ..ModuleResult::default()
        };
        let v = &mut result.values;
        v.insert("query".into(), json!(executed.last()));
        v.insert("query_list".into(), json!(texts));
        v.insert("executed_queries".into(), json!(executed));
        v.insert("statusmessage".into(), json!(status));
        v.insert("rowcount".into(), json!(rowcount));
        v.insert(
            "query_result".into(),
            all.last().cloned().unwrap_or_else(|| json!([])),
        );
        v.insert("query_all_results".into(), Value::Array(all));
        if ctx.check_mode {
            v.insert("rolled_back".into(), json!(true));
            let mut msg =
                "check mode: the statements ran in a read-only transaction that was rolled back"
                    .to_string();
            if !not_run.is_empty() {
                let listed: Vec<String> = not_run
                    .iter()
                    .map(|(text, why)| format!("{text} ({why})"))
                    .collect();
                msg = format!(
                    "check mode: not run, so reported as a change: {}; the other statements ran in a \
                     read-only transaction that was rolled back",
                    listed.join("; ")
                );
                let skipped: Vec<String> = not_run
                    .iter()
                    .map(|(text, why)| format!("{text}: not run in check mode: {why}"))
                    .collect();
                v.insert("skipped_queries".into(), json!(skipped));
            }
            result.msg = Some(msg);
        }
        result
    }

    async fn script(&self, p: &Params, script: &str, ctx: &ModuleContext<'_>) -> ModuleResult {
        let looks_like_file = !script.contains('\n') && !script.trim_start().starts_with('\\');
        let mut text = script.to_string();
        if looks_like_file {
            let path = std::path::Path::new(script);
            let found = if path.is_absolute() {
                Some(path.to_path_buf()).filter(|p| p.is_file())
            } else {
                ctx.search_path
                    .iter()
                    .flat_map(|d| [d.join("files").join(script), d.join(script)])
                    .find(|c| c.is_file())
            };
            if let Some(found) = found {
                match std::fs::read_to_string(&found) {
                    Ok(t) => text = t,
                    Err(e) => return ModuleResult::failed(format!("{}: {e}", found.display())),
                }
            }
        }
        if ctx.check_mode {
            return ModuleResult::skipped(
                "script: skipped in check mode (psql meta-commands and shell steps cannot be rolled back)",
            );
        }
        let conn = self.conn(p);
        match psql::run_raw(ctx, &conn, &text).await {
            Err(f) => failure_result(f, &[]),
            Ok((rc, stdout, stderr)) => {
                let mut result = ModuleResult {
                    changed: true,
                    ..ModuleResult::default()
                };
                if rc != 0 {
                    let (message, sqlstate) = psql::error_of(&stderr);
                    let code = sqlstate
                        .as_deref()
                        .map(|c| format!(" (SQLSTATE {c})"))
                        .unwrap_or_default();
                    result.failed = true;
                    result.msg = Some(format!("psql script failed: {message}{code}"));
                    result.values.insert("sqlstate".into(), json!(sqlstate));
                }
                result.values.insert("rc".into(), json!(rc));
                result.values.insert("stdout".into(), json!(stdout));
                result.values.insert("stderr".into(), json!(stderr));
                result
            }
        }
    }

    /// Runs helper statements (no args, or psql vars), reporting failures as results.
    async fn exec(
        &self,
        p: &Params,
        ctx: &ModuleContext<'_>,
        vars: &[(String, String)],
        sql: &[String],
    ) -> Result<Vec<StatementResult>, ModuleResult> {
        let statements: Vec<Statement> = sql.iter().map(Statement::user).collect();
        psql::run(ctx, &self.conn(p), vars, &statements)
            .await
            .map_err(|f| failure_result(f, sql))
    }
}

fn done(changed: bool, queries: Vec<String>, extra: &[(&str, Value)]) -> ModuleResult {
    let mut result = ModuleResult {
        changed,
        ..ModuleResult::default()
    };
    result
        .values
        .insert("executed_queries".into(), json!(queries));
    result.values.insert("queries".into(), json!(queries));
    for (k, v) in extra {
        result.values.insert((*k).into(), v.clone());
    }
    result
}

fn first_row(results: &[StatementResult]) -> Option<&Map<String, Value>> {
    results.first().and_then(|r| r.rows.first())
}

impl Sql {
    async fn user(&self, p: &Params, spec: &Value, ctx: &ModuleContext<'_>) -> ModuleResult {
        let field = |k: &str| spec.get(k).cloned();
        let name = match spec {
            Value::String(s) => s.clone(),
            _ => match field("name").and_then(|v| v.as_str().map(str::to_string)) {
                Some(n) => n,
                None => return ModuleResult::failed("user needs a name"),
            },
        };
        let text = |k: &str, own: &Option<String>| {
            field(k)
                .and_then(|v| v.as_str().map(str::to_string))
                .or_else(|| own.clone())
        };
        let password = text("password", &p.password);
        let flags = text("role_attr_flags", &p.role_attr_flags);
        let conn_limit = field("conn_limit")
            .and_then(|v| v.as_i64())
            .or(p.conn_limit);
        let state = text("state", &p.state).unwrap_or_else(|| "present".into());
        let vars = vec![("ply_role".to_string(), name.clone())];
        let read = "SELECT rolpassword, rolcanlogin, rolreplication, rolsuper, rolcreatedb, \
                    rolcreaterole, rolinherit, rolbypassrls, rolconnlimit FROM pg_authid WHERE rolname = :'ply_role'";
        let current = match self.exec(p, ctx, &vars, &[read.to_string()]).await {
            Ok(r) => first_row(&r).cloned(),
            Err(e) => return e,
        };
        let role = ident(&name);
        let mut changes: Vec<String> = Vec::new();
        let mut shown: Vec<String> = Vec::new();
        if state == "absent" {
            if current.is_some() {
                changes.push(format!("DROP ROLE {role}"));
                shown.push(format!("DROP ROLE {role}"));
            }
        } else {
            let mut attrs = Vec::new();
            let mut attrs_shown = Vec::new();
            for flag in flags
                .iter()
                .flat_map(|f| f.split(','))
                .map(str::trim)
                .filter(|f| !f.is_empty())
            {
                let upper = flag.to_ascii_uppercase();
                let (negated, base) = match upper.strip_prefix("NO") {
                    Some(b) if b != "NE" => (true, b.to_string()),
                    _ => (false, upper.clone()),
                };
                let column = match base.as_str() {
                    "LOGIN" => "rolcanlogin",
                    "REPLICATION" => "rolreplication",
                    "SUPERUSER" => "rolsuper",
                    "CREATEDB" => "rolcreatedb",
                    "CREATEROLE" => "rolcreaterole",
                    "INHERIT" => "rolinherit",
                    "BYPASSRLS" => "rolbypassrls",
                    _ => return ModuleResult::failed(format!("unknown role attribute {flag}")),
                };
                let has = current
                    .as_ref()
                    .and_then(|c| c.get(column))
                    .and_then(Value::as_bool);
                if current.is_none() || has != Some(!negated) {
                    attrs.push(upper.clone());
                }
            }
            if let Some(limit) = conn_limit {
                let has = current
                    .as_ref()
                    .and_then(|c| c.get("rolconnlimit"))
                    .and_then(Value::as_i64);
                if has != Some(limit) {
                    attrs.push(format!("CONNECTION LIMIT {limit}"));
                }
            }
            attrs_shown.clone_from(&attrs);
            if let Some(pw) = &password {
                let stored = current
                    .as_ref()
                    .and_then(|c| c.get("rolpassword"))
                    .and_then(Value::as_str);
                let same = stored.and_then(|s| scram::matches(s, &name, pw)) == Some(true);
                if !same {
                    // The verifier, not the password, goes to the server: nothing secret in its logs.
                    attrs.push(format!("PASSWORD '{}'", scram::scram_verifier(pw)));
                    attrs_shown.push("PASSWORD '********'".into());
                }
            }
            let verb = if current.is_some() { "ALTER" } else { "CREATE" };
            if current.is_none() || !attrs.is_empty() {
                changes.push(
                    format!("{verb} ROLE {role} {}", attrs.join(" "))
                        .trim_end()
                        .to_string(),
                );
                shown.push(
                    format!("{verb} ROLE {role} {}", attrs_shown.join(" "))
                        .trim_end()
                        .to_string(),
                );
            }
        }
        if changes.is_empty() || ctx.check_mode {
            return done(!changes.is_empty(), shown, &[("user", json!(name))]);
        }
        match self.exec(p, ctx, &[], &changes).await {
            Ok(_) => done(true, shown, &[("user", json!(name))]),
            Err(e) if state == "absent" && p.fail_on_user == Some(false) => {
                let mut result = done(false, shown, &[("user", json!(name))]);
                result.warnings.push(format!(
                    "Unable to remove user {name}: {}",
                    e.msg.unwrap_or_default()
                ));
                result
            }
            Err(mut e) => {
                e.values.insert("executed_queries".into(), json!(shown));
                e
            }
        }
    }

    async fn slot(&self, p: &Params, name: &str, ctx: &ModuleContext<'_>) -> ModuleResult {
        let vars = vec![("ply_slot".to_string(), name.to_string())];
        let read = "SELECT slot_type FROM pg_replication_slots WHERE slot_name = :'ply_slot'";
        let exists = match self.exec(p, ctx, &vars, &[read.into()]).await {
            Ok(r) => first_row(&r).is_some(),
            Err(e) => return e,
        };
        let want = p.state.as_deref() != Some("absent");
        if exists == want {
            return done(false, vec![], &[("name", json!(name))]);
        }
        let sql = if !want {
            "SELECT pg_drop_replication_slot(:'ply_slot')".to_string()
        } else if p.slot_type.as_deref() == Some("logical") {
            vars_push_plugin(p)
        } else {
            format!(
                "SELECT pg_create_physical_replication_slot(:'ply_slot', {})",
                p.immediately_reserve
            )
        };
        let mut vars = vars;
        vars.push((
            "ply_plugin".into(),
            p.output_plugin
                .clone()
                .unwrap_or_else(|| "test_decoding".into()),
        ));
        if ctx.check_mode {
            return done(true, vec![sql], &[("name", json!(name))]);
        }
        match self.exec(p, ctx, &vars, std::slice::from_ref(&sql)).await {
            Ok(_) => done(true, vec![sql], &[("name", json!(name))]),
            Err(e) => e,
        }
    }

    async fn setting(&self, p: &Params, spec: &Value, ctx: &ModuleContext<'_>) -> ModuleResult {
        let wanted: Vec<(String, String)> = match spec {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
            Value::String(name) => match &p.value {
                Some(v) => vec![(name.clone(), v.clone())],
                None => return ModuleResult::failed("setting given as a name needs value"),
            },
            _ => return ModuleResult::failed("setting must be a dict or a name"),
        };
        let mut queries = Vec::new();
        let mut restart = false;
        let mut changed = false;
        for (name, value) in &wanted {
            let vars = vec![("ply_name".to_string(), name.clone())];
            // The value as written in postgresql.auto.conf (what ALTER SYSTEM keeps), and the live one.
            let read = "SELECT s.context, current_setting(s.name) AS current, \
                        (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name \
                         AND f.sourcefile LIKE '%postgresql.auto.conf' ORDER BY f.seqno DESC LIMIT 1) AS auto \
                        FROM pg_settings s WHERE s.name = :'ply_name'";
            let row = match self.exec(p, ctx, &vars, &[read.into()]).await {
                Ok(r) => match first_row(&r) {
                    Some(row) => row.clone(),
                    None => return ModuleResult::failed(format!("unknown setting {name}")),
                },
                Err(e) => return e,
            };
            let get = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
            let matches_auto = get("auto").as_deref() == Some(value.as_str());
            let matches_live =
                get("auto").is_none() && get("current").as_deref() == Some(value.as_str());
            if matches_auto || matches_live {
                continue;
            }
            changed = true;
            let sql = format!("ALTER SYSTEM SET {} = :'ply_value'", ident(name));
            queries.push(format!("ALTER SYSTEM SET {} = '{value}'", ident(name)));
            restart |= get("context").as_deref() == Some("postmaster");
            if !ctx.check_mode {
                let mut vars = vars.clone();
                vars.push(("ply_value".into(), value.clone()));
                if let Err(e) = self
                    .exec(p, ctx, &vars, &[sql, "SELECT pg_reload_conf()".into()])
                    .await
                {
                    return e;
                }
            }
        }
        let mut result = done(changed, queries, &[("restart_required", json!(restart))]);
        if restart {
            result
                .warnings
                .push("Restart of PostgreSQL is required for the changed settings".into());
        }
        result
    }

    async fn database(&self, p: &Params, name: &str, ctx: &ModuleContext<'_>) -> ModuleResult {
        let mut vars = vec![
            ("ply_db".to_string(), name.to_string()),
            (
                "ply_encoding".to_string(),
                p.encoding.clone().unwrap_or_default(),
            ),
        ];
        // The server compares encodings itself, so that `UTF-8`, `utf8` and `UTF8` are one encoding.
        let read =
            "SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding, \
                    encoding = pg_char_to_encoding(:'ply_encoding') AS same_encoding, \
                    datcollate AS lc_collate, datctype AS lc_ctype \
                    FROM pg_database WHERE datname = :'ply_db'";
        let existing = match self.exec(p, ctx, &vars, &[read.into()]).await {
            Ok(r) => first_row(&r).cloned(),
            Err(e) => return e,
        };
        let text = |row: &Map<String, Value>, key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let db = ident(name);
        let mut sql = Vec::new();
        // What is shown carries the values; what runs binds them as psql variables.
        let mut run = Vec::new();
        match (p.state.as_deref() == Some("absent"), existing) {
            (true, Some(_)) => sql.push(format!("DROP DATABASE {db}")),
            (true, None) => {}
            (false, None) => {
                let mut shown = format!("CREATE DATABASE {db}");
                let mut bound = shown.clone();
                if let Some(o) = &p.owner {
                    let clause = format!(" OWNER {}", ident(o));
                    shown.push_str(&clause);
                    bound.push_str(&clause);
                }
                if let Some(t) = &p.template {
                    let clause = format!(" TEMPLATE {}", ident(t));
                    shown.push_str(&clause);
                    bound.push_str(&clause);
                }
                for (keyword, var, value) in [
                    ("ENCODING", "ply_encoding", &p.encoding),
                    ("LC_COLLATE", "ply_lc_collate", &p.lc_collate),
                    ("LC_CTYPE", "ply_lc_ctype", &p.lc_ctype),
                ] {
                    if let Some(value) = value {
                        shown.push_str(&format!(" {keyword} '{}'", value.replace('\'', "''")));
                        bound.push_str(&format!(" {keyword} :'{var}'"));
                        vars.push((var.to_string(), value.clone()));
                    }
                }
                sql.push(shown);
                run.push(bound);
            }
            (false, Some(row)) => {
                // PostgreSQL fixes these when a database is created; a difference cannot be converged.
                if p.encoding.is_some() && row.get("same_encoding") != Some(&Value::Bool(true)) {
                    return ModuleResult::failed(format!(
                        "Changing database encoding is not supported. Current encoding: {}",
                        text(&row, "encoding")
                    ));
                }
                for (key, label, wanted) in [
                    ("lc_collate", "LC_COLLATE", &p.lc_collate),
                    ("lc_ctype", "LC_CTYPE", &p.lc_ctype),
                ] {
                    let current = text(&row, key);
                    if wanted.as_ref().is_some_and(|w| *w != current) {
                        return ModuleResult::failed(format!(
                            "Changing {label} is not supported. Current {label}: {current}"
                        ));
                    }
                }
                let current = text(&row, "owner");
                if let Some(o) = p.owner.as_ref().filter(|o| **o != current) {
                    sql.push(format!("ALTER DATABASE {db} OWNER TO {}", ident(o)));
                }
            }
        }
        if run.is_empty() {
            run.clone_from(&sql);
        }
        if sql.is_empty() || ctx.check_mode {
            return done(!sql.is_empty(), sql, &[("db", json!(name))]);
        }
        match self.exec(p, ctx, &vars, &run).await {
            Ok(_) => done(
                true,
                sql.clone(),
                &[("db", json!(name)), ("executed_commands", json!(sql))],
            ),
            Err(e) => e,
        }
    }

    async fn ping(&self, p: &Params, ctx: &ModuleContext<'_>) -> ModuleResult {
        let read = "SELECT current_setting('server_version') AS raw, current_setting('server_version_num')::int AS num";
        let mut result = ModuleResult::ok();
        match self.exec(p, ctx, &[], &[read.into()]).await {
            Ok(r) => {
                let row = first_row(&r).cloned().unwrap_or_default();
                let num = row.get("num").and_then(Value::as_i64).unwrap_or(0);
                let raw = row.get("raw").cloned().unwrap_or(Value::Null);
                result.values.insert("is_available".into(), json!(true));
                result.values.insert(
                    "server_version".into(),
                    json!({"major": num / 10000, "minor": num % 10000, "full": raw, "raw": raw}),
                );
                result.values.insert("conn_err_msg".into(), json!(""));
            }
            Err(e) => {
                result.values.insert("is_available".into(), json!(false));
                result.values.insert("server_version".into(), json!({}));
                result.values.insert("conn_err_msg".into(), json!(e.msg));
            }
        }
        result
    }
}

fn vars_push_plugin(_p: &Params) -> String {
    "SELECT pg_create_logical_replication_slot(:'ply_slot', :'ply_plugin')".into()
}

#[async_trait]
impl Module for Sql {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        self.0
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        let mut result = match self.0.name {
            "postgresql_user" => {
                let name = json!(p.name);
                self.user(p, &name, ctx).await
            }
            "postgresql_slot" => self.slot(p, p.name.as_deref().unwrap_or(""), ctx).await,
            "postgresql_db" => self.database(p, p.name.as_deref().unwrap_or(""), ctx).await,
            "postgresql_ping" => self.ping(p, ctx).await,
            _ => {
                if let Some(q) = &p.query {
                    self.query(p, q, ctx).await
                } else if let Some(s) = &p.script {
                    self.script(p, s, ctx).await
                } else if let Some(u) = &p.user {
                    self.user(p, u, ctx).await
                } else if let Some(s) = &p.slot {
                    self.slot(p, s, ctx).await
                } else if let Some(s) = &p.setting {
                    self.setting(p, s, ctx).await
                } else if let Some(d) = &p.database {
                    self.database(p, d, ctx).await
                } else {
                    ModuleResult::failed(
                        "one of query, script, user, slot, setting, database is required",
                    )
                }
            }
        };
        let mut secrets: Vec<String> = [&p.login_password, &p.password]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        if let Some(pw) = p
            .user
            .as_ref()
            .and_then(|u| u.get("password"))
            .and_then(Value::as_str)
        {
            secrets.push(pw.to_string());
        }
        let mut values = Value::Object(std::mem::take(&mut result.values));
        redact(&mut values, &secrets);
        if let Value::Object(map) = values {
            result.values = map;
        }
        if let Some(msg) = &mut result.msg {
            let mut m = Value::String(msg.clone());
            redact(&mut m, &secrets);
            *msg = m.as_str().unwrap_or_default().to_string();
        }
        Plan::Done(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> Option<String> {
        lexer::split(sql).iter().find_map(not_in_check_mode)
    }

    #[test]
    fn check_mode_holds_back_what_a_read_only_transaction_would_not_stop() {
        for sql in [
            "VACUUM t",
            "vacuum (analyze) t",
            "create\n  database x",
            "DROP TABLESPACE x",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "CREATE SUBSCRIPTION s CONNECTION 'c' PUBLICATION p",
            "COMMIT",
            "end",
            "PREPARE TRANSACTION 'x'",
            "CHECKPOINT",
            "ANALYZE t",
            "REINDEX TABLE t",
            "LOCK t",
            "LOAD 'auto_explain'",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "COPY t FROM STDIN",
            "COPY t TO '/tmp/x'",
            "COPY (SELECT 1 FROM t) TO PROGRAM 'touch /tmp/x'",
            "SELECT pg_reload_conf()",
            "SELECT * FROM pg_catalog.PG_CREATE_PHYSICAL_REPLICATION_SLOT('s')",
            "DO $$ BEGIN EXECUTE 'SELECT pg_terminate_backend(1)'; END $$",
            "SELECT 1; COMMIT",
            "SELECT 1 \\g /tmp/out",
        ] {
            assert!(
                refused(sql).is_some(),
                "{sql} must not be sent in check mode"
            );
        }
        for sql in [
            "SELECT 1",
            "-- VACUUM\nSELECT 'CHECKPOINT', $$COMMIT$$",
            "SELECT * FROM pg_replication_slots",
            "SELECT pg_stat_reset_time FROM x",
            "COPY (SELECT 1 FROM t) TO STDOUT",
            "INSERT INTO t VALUES (1)",
            "SELECT nextval('s')",
            "PREPARE q AS SELECT 1",
            "EXPLAIN SELECT 1",
        ] {
            assert_eq!(
                refused(sql),
                None,
                "{sql} runs in the read-only transaction"
            );
        }
        assert_eq!(
            refused("SELECT pg_reload_conf()").as_deref(),
            Some("pg_reload_conf() acts outside the transaction")
        );
    }
}
