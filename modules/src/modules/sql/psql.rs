//! One psql session on the host: the script fed through stdin, and its output read back into typed
//! results.
//!
//! Every statement is sent twice in a row: first with `\gdesc` (which prepares it and prints its result
//! columns with their types, running nothing), then for real with CSV output. Random marker lines around
//! each part tell the sections apart, the column types turn the CSV text into JSON ints, floats, bools,
//! nulls and json, and psql's `ROW_COUNT` gives the row count. Values bound to placeholders go in as
//! psql variables set on stdin and interpolated with `:'name'`, which psql quotes as a literal itself, so
//! no value is ever pasted into SQL text or put on a command line.

use crate::connection::{CommandRequest, ConnectionError};
use crate::contract::ModuleContext;
use crate::shell_quote::shell_quote;
use serde_json::{Map, Value};

/// How to reach the server.
#[derive(Clone, Debug, Default)]
pub struct Conn {
    pub db: Option<String>,
    pub port: Option<i64>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub unix_socket: Option<String>,
    pub session_role: Option<String>,
}

/// One statement to run, as psql text (placeholders already turned into `:'var'` references).
#[derive(Clone, Debug)]
pub struct Statement {
    pub sql: String,
    /// Internal statements (BEGIN, SET ROLE) run without being described or reported.
    pub internal: bool,
}

impl Statement {
    pub fn user(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            internal: false,
        }
    }
    pub fn internal(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            internal: true,
        }
    }
}

/// What one reported statement returned.
#[derive(Clone, Debug, Default)]
pub struct StatementResult {
    /// Rows as objects in column order; empty for statements without a result.
    pub rows: Vec<Map<String, Value>>,
    pub has_columns: bool,
    pub statusmessage: String,
    pub rowcount: i64,
}

/// A failed session: PostgreSQL's message and SQLSTATE, and which reported statement failed.
#[derive(Clone, Debug)]
pub struct SqlError {
    pub message: String,
    pub sqlstate: Option<String>,
    /// Index into the reported statements, `None` when it failed before any (e.g. connecting).
    pub statement: Option<usize>,
    pub stderr: String,
    /// The results of the statements before the failing one.
    pub completed: Vec<StatementResult>,
}

pub enum Failure {
    Sql(SqlError),
    /// psql is missing, or the host could not run it.
    Host(String),
    Connection(ConnectionError),
}

/// A psql `\set` value: single-quoted for psql's own lexer, where `\` escapes and `''` is a quote, and a
/// literal newline would end the meta-command, so it becomes `\n`.
pub fn psql_set_value(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn token() -> String {
    (0..20)
        .map(|_| fastrand::alphanumeric())
        .collect::<String>()
}

/// The psql command line (nothing secret on it) wrapped so that a password arrives on stdin's first line.
fn command(conn: &Conn) -> String {
    let mut argv = vec![
        "psql".to_string(),
        "-X".into(),
        "-q".into(),
        "-w".into(),
        "-v".into(),
        "ON_ERROR_STOP=1".into(),
        "-v".into(),
        "VERBOSITY=verbose".into(),
    ];
    // community.postgresql: an empty or `localhost` host with a socket dir given means the socket.
    let host = match (&conn.host, &conn.unix_socket) {
        (Some(h), Some(s)) if h.is_empty() || h == "localhost" => Some(s.clone()),
        (None, Some(s)) => Some(s.clone()),
        (Some(h), _) if !h.is_empty() => Some(h.clone()),
        _ => None,
    };
    if let Some(host) = host {
        argv.extend(["-h".into(), host]);
    }
    if let Some(port) = conn.port {
        argv.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = conn.user.as_ref().filter(|u| !u.is_empty()) {
        argv.extend(["-U".into(), user.clone()]);
    }
    argv.extend([
        "-d".into(),
        conn.db.clone().unwrap_or_else(|| "postgres".into()),
    ]);
    let line = argv
        .iter()
        .map(|a| shell_quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let read_password = if conn.password.is_some() {
        // sh's `read` takes bytes one at a time from a pipe, so the rest of stdin stays for psql.
        "IFS= read -r PGPASSWORD; export PGPASSWORD; "
    } else {
        ""
    };
    format!(
        "command -v psql >/dev/null 2>&1 || {{ echo PLY-NO-PSQL >&2; exit 127; }}; {read_password}exec {line}"
    )
}

/// Runs psql with `script` on stdin and returns (rc, stdout, stderr).
pub async fn run_raw(
    ctx: &ModuleContext<'_>,
    conn: &Conn,
    script: &str,
) -> Result<(i32, String, String), Failure> {
    let mut stdin = String::new();
    if let Some(password) = &conn.password {
        if password.contains('\n') {
            return Err(Failure::Host(
                "login_password cannot contain a newline".into(),
            ));
        }
        stdin.push_str(password);
        stdin.push('\n');
    }
    stdin.push_str(script);
    let mut request = CommandRequest::shell(command(conn));
    request.stdin = Some(stdin.into_bytes());
    request.become_ = ctx.become_.clone();
    request.env = ctx.environment.clone();
    // psql (as postgres, via become) cannot enter the login user's home and would say so on stderr
    // ("could not change directory to "/root""), in every result; it needs no working directory.
    request.cwd = Some("/".into());
    let output = ctx.host.run(&request).await.map_err(Failure::Connection)?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.rc == 127 && stderr.contains("PLY-NO-PSQL") {
        return Err(Failure::Host(format!(
            "psql was not found on {}: install the PostgreSQL client (Debian: apt install postgresql-client)",
            ctx.host.host()
        )));
    }
    Ok((
        output.rc,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    ))
}

/// What a check-mode session starts with (see [`run`]); `\gset` keeps the snapshot query's row out of the
/// output.
const CHECK_MODE_BEGIN: &str = "BEGIN READ ONLY;\nSELECT 1 AS ply_snapshot \\gset\n";

/// Strips what a statement may end with that would get in the way of `\gdesc` (`;`, blanks).
fn trimmed(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';')
}

/// Runs statements in one session. `vars` are psql variables set first (values go through stdin only).
///
/// In check mode the statements run inside one `READ ONLY` transaction that is rolled back, so
/// PostgreSQL itself refuses anything that would write (SQLSTATE 25006, `cannot execute INSERT in a
/// read-only transaction`, also for `nextval()`), and psql stops there.
pub async fn run(
    ctx: &ModuleContext<'_>,
    conn: &Conn,
    vars: &[(String, String)],
    statements: &[Statement],
) -> Result<Vec<StatementResult>, Failure> {
    let tok = token();
    let null = format!("PLYNULL{}", token());
    let mut script =
        format!("\\set QUIET on\n\\pset format csv\n\\pset null {null}\n\\pset pager off\n");
    for (name, value) in vars {
        script.push_str(&format!("\\set {name} {}\n", psql_set_value(value)));
    }
    if let Some(role) = &conn.session_role {
        script.push_str(&format!(
            "\\set ply_session_role {}\nSET ROLE :\"ply_session_role\";\n",
            psql_set_value(role)
        ));
    }
    if ctx.check_mode {
        // Check mode: the statements share one read-only transaction, never committed. The first
        // snapshot, taken by the query right after BEGIN, makes PostgreSQL refuse a later `SET TRANSACTION
        // READ WRITE`. Statements that would end the transaction are never sent (sql's
        // `not_in_check_mode`), and psql stops at the first error, so no statement runs outside it. (No
        // session-wide default is set: behind a transaction-pooling pgbouncer it would outlive the session.)
        script.push_str(CHECK_MODE_BEGIN);
    }
    let mut reported = 0usize;
    for statement in statements {
        let sql = trimmed(&statement.sql);
        if statement.internal {
            script.push_str(sql);
            script.push_str("\n;\n");
            continue;
        }
        let i = reported;
        reported += 1;
        script.push_str(&format!(
            "\\echo {tok} D {i}\n{sql}\n\\gdesc\n\\echo {tok} R {i}\n\\set QUIET off\n{sql}\n;\n\\set QUIET on\n\\echo {tok} E {i} :ROW_COUNT\n"
        ));
    }
    if ctx.check_mode {
        script.push_str("ROLLBACK;\n");
    }
    let (rc, stdout, stderr) = run_raw(ctx, conn, &script).await?;
    let (results, last_started) = parse(&stdout, &tok, &null);
    if rc != 0 {
        let (message, sqlstate) = error_of(&stderr);
        let completed = results
            .into_iter()
            .take(last_started.unwrap_or(0))
            .collect();
        return Err(Failure::Sql(SqlError {
            message,
            sqlstate,
            statement: last_started,
            stderr,
            completed,
        }));
    }
    Ok(results)
}

/// PostgreSQL's message and SQLSTATE from psql's stderr (`ERROR:  42601: syntax error ...`), with the
/// DETAIL and HINT lines; psql's own message when there is no server error.
pub fn error_of(stderr: &str) -> (String, Option<String>) {
    let re = regex::Regex::new(r"(?m)(ERROR|FATAL|PANIC):\s+(?:([0-9A-Z]{5}): )?(.*)$")
        .expect("valid regex");
    if let Some(c) = re.captures(stderr) {
        let mut message = c[3].trim().to_string();
        for line in stderr.lines() {
            let l = line.trim();
            if l.starts_with("DETAIL:") || l.starts_with("HINT:") {
                message.push_str(&format!(" ({l})"));
            }
        }
        let mut sqlstate = c.get(2).map(|m| m.as_str().to_string());
        // libpq reports authentication failures without the code; they are invalid_password.
        if sqlstate.is_none() && message.contains("password authentication failed") {
            sqlstate = Some("28P01".into());
        }
        return (message, sqlstate);
    }
    let text = stderr
        .trim()
        .trim_start_matches("psql: error: ")
        .to_string();
    (
        if text.is_empty() {
            "psql failed without a message".into()
        } else {
            text
        },
        None,
    )
}

/// One CSV record starting at `pos` (psql's CSV: `"` quoting with `""`, newlines inside quotes), and the
/// position after it.
fn record(text: &str, mut pos: usize) -> Option<(Vec<String>, usize)> {
    let bytes = text.as_bytes();
    if pos >= bytes.len() {
        return None;
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut start = pos;
    loop {
        if pos >= bytes.len() {
            if !quoted {
                field.push_str(&text[start..pos]);
            }
            fields.push(field);
            return Some((fields, pos));
        }
        let b = bytes[pos];
        if quoted {
            if b == b'"' {
                field.push_str(&text[start..pos]);
                if bytes.get(pos + 1) == Some(&b'"') {
                    field.push('"');
                    pos += 2;
                    start = pos;
                } else {
                    quoted = false;
                    pos += 1;
                    start = pos;
                }
            } else {
                pos += 1;
            }
            continue;
        }
        match b {
            b'"' => {
                field.push_str(&text[start..pos]);
                quoted = true;
                pos += 1;
                start = pos;
            }
            b',' => {
                field.push_str(&text[start..pos]);
                fields.push(std::mem::take(&mut field));
                pos += 1;
                start = pos;
            }
            b'\n' => {
                field.push_str(&text[start..pos]);
                fields.push(field);
                return Some((fields, pos + 1));
            }
            _ => pos += 1,
        }
    }
}

fn marker<'a>(fields: &'a [String], tok: &str) -> Option<Vec<&'a str>> {
    match fields {
        [one] if one.starts_with(tok) => Some(one.split(' ').skip(1).collect()),
        _ => None,
    }
}

/// A CSV cell as JSON by its PostgreSQL type (`\gdesc` names it as format_type does).
fn typed(text: &str, kind: &str) -> Value {
    match kind {
        "smallint" | "integer" | "bigint" | "oid" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.into())),
        "real" | "double precision" | "numeric" => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.into())),
        "boolean" => Value::Bool(text == "t"),
        "json" | "jsonb" => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))
        }
        _ => Value::String(text.into()),
    }
}

/// Reads the marked sections back: the results, and the index of the last statement that started.
fn parse(stdout: &str, tok: &str, null: &str) -> (Vec<StatementResult>, Option<usize>) {
    let mut results = Vec::new();
    let mut last_started = None;
    let mut pos = 0;
    let mut columns: Vec<(String, String)> = Vec::new();
    let mut current = StatementResult::default();
    // Section: 0 outside, 1 description, 2 result.
    let mut section = 0;
    let mut first = true;
    while let Some((fields, next)) = record(stdout, pos) {
        pos = next;
        if let Some(m) = marker(&fields, tok) {
            match m.first().copied() {
                Some("D") => {
                    last_started = m.get(1).and_then(|i| i.parse().ok());
                    columns.clear();
                    current = StatementResult::default();
                    section = 1;
                    first = true;
                }
                Some("R") => {
                    section = 2;
                    first = true;
                    current.has_columns = !columns.is_empty();
                }
                Some("E") => {
                    current.rowcount = m.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
                    results.push(std::mem::take(&mut current));
                    section = 0;
                }
                _ => {}
            }
            continue;
        }
        match section {
            1 => {
                if first {
                    first = false;
                    if fields != ["Column", "Type"] {
                        // "The command has no result, or the result has no columns."
                        section = 3;
                    }
                    continue;
                }
                if let [name, kind] = fields.as_slice() {
                    columns.push((name.clone(), kind.clone()));
                }
            }
            2 if current.has_columns => {
                if first {
                    first = false;
                    continue;
                }
                let mut row = Map::new();
                for ((name, kind), cell) in columns.iter().zip(fields.iter()) {
                    let value = if cell == null {
                        Value::Null
                    } else {
                        typed(cell, kind)
                    };
                    row.insert(name.clone(), value);
                }
                current.rows.push(row);
            }
            2 => {
                let line = fields.join(",");
                if !line.trim().is_empty() {
                    current.statusmessage = line.trim().to_string();
                }
            }
            _ => {}
        }
    }
    (results, last_started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_and_types() {
        let text = "a,\"b,\"\"c\"\"\nd\",\n1\n";
        let (r, p) = record(text, 0).unwrap();
        assert_eq!(r, ["a", "b,\"c\"\nd", ""]);
        let (r, _) = record(text, p).unwrap();
        assert_eq!(r, ["1"]);
        assert_eq!(typed("12", "integer"), Value::from(12));
        assert_eq!(typed("2.5", "double precision"), serde_json::json!(2.5));
        assert_eq!(typed("t", "boolean"), Value::Bool(true));
        assert_eq!(typed("{\"a\": 1}", "jsonb"), serde_json::json!({"a": 1}));
        assert_eq!(psql_set_value("it's \\ \n"), "'it''s \\\\ \\n'");
    }
}
