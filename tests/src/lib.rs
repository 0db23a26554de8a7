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
        let output = command.output().expect("ply runs");
        Outcome {
            invocation: format!("ply {}", self.args.join(" ")),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
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
