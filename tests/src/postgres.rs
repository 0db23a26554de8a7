//! A throwaway PostgreSQL cluster for the sql tests: the machine's own server binaries
//! (`/usr/lib/postgresql/*/bin`), a fresh `initdb` in a temp dir owned by the `postgres` OS user, listening
//! on a unix socket only (no TCP port can clash with a real server), stopped and removed when dropped.
//!
//! ```no_run
//! use ply_tests::postgres::Postgres;
//! let pg = Postgres::start();
//! assert_eq!(pg.psql("SELECT 1"), "1");
//! ```
//!
//! `initdb` refuses to run as root, so everything runs as `postgres` through `sudo`; the tests run as root.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The OS user that owns the cluster (and the one `peer` authentication maps to the `postgres` role).
pub const OS_USER: &str = "postgres";

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// The newest installed server's `bin` folder.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// A port nobody listens on now. Only the socket file's name uses it, but it must not collide with
/// another cluster sharing the socket dir, and each cluster has its own dir anyway.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("sudo");
    command.args(["-n", "-u", OS_USER, "--"]).arg(program);
    command
}

fn check(command: &mut Command, what: &str) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Postgres {
    /// initdb, configure and start a cluster; panics with the server's output when it cannot.
    pub fn start() -> Postgres {
        let bin = bin_dir().expect("PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("ply-pg-")
            .tempdir()
            .expect("temp dir");
        // postgres must reach the dir (the temp root may be 0700 for root) and own it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        check(
            Command::new("chown").arg(OS_USER).arg(dir.path()),
            "chown the cluster dir",
        );
        let port = free_port();
        let pg = Postgres { bin, dir, port };
        check(
            as_postgres(&pg.bin.join("initdb"))
                .args(["-A", "peer", "--auth-local=peer", "-E", "UTF8", "--no-sync"])
                .args(["--locale=C.UTF-8", "-U", "postgres", "-D"])
                .arg(pg.data_dir()),
            "initdb",
        );
        let hba =
            "# ply test cluster: the postgres OS user by peer, everyone else by SCRAM password\n\
                   local all postgres peer\n\
                   local all all scram-sha-256\n";
        let conf = format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {port}\n\
             password_encryption = 'scram-sha-256'\nfsync = off\nwal_level = replica\n\
             max_wal_senders = 4\nmax_replication_slots = 4\n",
            pg.socket_dir().display()
        );
        let data = pg.data_dir();
        let write = |name: &str, text: &str, append: bool| {
            let path = data.join(name);
            let mut content = if append {
                fs::read_to_string(&path).expect("read conf")
            } else {
                String::new()
            };
            content.push_str(text);
            fs::write(&path, content).expect("write conf");
        };
        write("pg_hba.conf", hba, false);
        write("postgresql.conf", &conf, true);
        fs::create_dir_all(pg.socket_dir()).expect("socket dir");
        check(
            Command::new("chown")
                .arg("-R")
                .arg(OS_USER)
                .arg(pg.dir.path()),
            "chown the cluster",
        );
        check(
            as_postgres(&pg.bin.join("pg_ctl"))
                .arg("-D")
                .arg(pg.data_dir())
                .arg("-l")
                .arg(pg.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        pg
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the server's unix socket (`.s.PGSQL.PORT`) lives: the `login_unix_socket` of the tests.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs SQL as the `postgres` superuser and returns the unaligned, tuples-only output, trimmed.
    pub fn psql(&self, sql: &str) -> String {
        let output = check(
            as_postgres(&self.bin.join("psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(self.socket_dir())
                .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql]),
            &format!("psql {sql:?}"),
        );
        output.trim_end().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // TempDir removes the rest (root may remove files postgres owns).
    }
}
