//! A fluent helper for running the real `ply` binary in tests:
//!
//! ```no_run
//! use ply_tests::Ply;
//! Ply::new().args(["run", "site.yml", "--syntax-check"]).current_dir("corpus/good/x").run().success().stdout_has("playbook:");
//! ```

pub mod chaos;
pub mod lab;
pub mod postgres;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The test data folder `tests/`.
pub fn tests_dir() -> PathBuf {
    workspace_root().join("tests")
}

/// The `ply` binary, built once per test process so `cargo test -p ply-tests` works on its own.
pub fn ply_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "engine", "--bin", "ply"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building ply failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        let binary = target.join("debug").join("ply");
        assert!(binary.is_file(), "no ply binary at {}", binary.display());
        binary
    })
}

/// A `ply` invocation being built.
#[derive(Default)]
pub struct Ply {
    args: Vec<String>,
    dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Ply {
    pub fn new() -> Self {
        Ply::default()
    }

    /// `ply run site.yml -i ../inventory.ini` inside a good-corpus case folder; add the options to test.
    pub fn corpus_case(dir: impl Into<PathBuf>) -> Self {
        Ply::new()
            .args(["run", "site.yml", "-i", "../inventory.ini"])
            .current_dir(dir)
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn arg(self, arg: impl AsRef<str>) -> Self {
        self.args([arg])
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn run(self) -> Outcome {
        let output = self.command().output().expect("ply runs");
        Outcome {
            invocation: format!("ply {}", self.args.join(" ")),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts the run without waiting, for tests that do something to it (or to its hosts) meanwhile.
    pub fn spawn(self) -> Running {
        let mut child = self
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ply starts");
        let collect = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        Running {
            invocation: format!("ply {}", self.args.join(" ")),
            child,
            stdout,
            stderr,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(ply_binary());
        command
            .args(&self.args)
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_INVENTORY");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }
}

/// A `ply` run in progress ([`Ply::spawn`]); its output is collected until it exits.
pub struct Running {
    invocation: String,
    child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`INT`, `TERM`, ...) to the ply process, as a terminal or a supervisor would.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {} failed", self.child.id());
    }

    /// Waits for the exit, at most `limit`; a run still going after that is killed and the test fails.
    pub fn wait(mut self, limit: std::time::Duration) -> Outcome {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for ply") {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let outcome = Outcome {
            invocation: self.invocation,
            code: status.and_then(|s| s.code()),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        };
        assert!(
            status.is_some(),
            "still running after {limit:?}, killed\n{}",
            outcome.context()
        );
        outcome
    }
}

/// What a `ply` run did, with assertions that print everything on failure.
#[derive(Debug)]
pub struct Outcome {
    pub invocation: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn context(&self) -> String {
        format!(
            "{}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.invocation, self.code, self.stdout, self.stderr
        )
    }

    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit code for {}",
            self.context()
        );
        self
    }

    pub fn success(self) -> Self {
        self.code(0)
    }

    pub fn stdout_eq(self, expected: &str) -> Self {
        assert_eq!(
            self.stdout,
            expected,
            "stdout differs for {}",
            self.context()
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?} for {}",
            self.context()
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?} for {}",
            self.context()
        );
        self
    }

    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}) for {}", self.context()))
    }
}
