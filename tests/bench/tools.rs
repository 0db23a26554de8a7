//! The tools under test and how each is invoked: ply (this workspace's release build), ansible-core and
//! pyinfra (pip-installed into a throwaway virtualenv, so the machine's Python stays untouched).
//!
//! Settings follow the issue: Ansible with its best settings (pipelining, ControlPersist, forks equal to
//! the host count, no fact gathering; those live in the generated ansible.cfg and inventory, see
//! `workloads`), pyinfra with its defaults (it already runs every host in parallel), ply with `-f` equal
//! to the host count.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the virtualenv lives; reused across runs, removable at any time.
pub const DEFAULT_VENV: &str = "/var/cache/ply-bench/venv";
/// ansible-core 2.19 is the newest series that runs on Debian 12's Python 3.11 controller.
const ANSIBLE_CORE: &str = "ansible-core==2.19.*";
const PYINFRA: &str = "pyinfra==3.*";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ply,
    Ansible,
    Pyinfra,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ply => "ply",
            Tool::Ansible => "ansible",
            Tool::Pyinfra => "pyinfra",
        }
    }
}

/// The programs to run.
pub struct Toolbox {
    pub ply: PathBuf,
    /// The virtualenv holding ansible-playbook and pyinfra, when the others are compared.
    pub venv: Option<PathBuf>,
}

impl Toolbox {
    pub fn tools(&self) -> Vec<Tool> {
        if self.venv.is_some() {
            vec![Tool::Ply, Tool::Ansible, Tool::Pyinfra]
        } else {
            vec![Tool::Ply]
        }
    }

    /// The command running `tool` on the workload generated in `case`, against `hosts` hosts.
    pub fn command(&self, tool: Tool, case: &Path, hosts: usize, extra: &[&str]) -> Command {
        let mut command = match tool {
            Tool::Ply => {
                let mut c = Command::new(&self.ply);
                c.args(["run", "site.yml", "-i", "inventory.ini", "-f"])
                    .arg(hosts.to_string())
                    .args(["--host-key-checking", "off"]);
                c
            }
            Tool::Ansible => {
                let mut c = Command::new(self.venv_bin("ansible-playbook"));
                c.args(["site.yml", "-i", "inventory.ini"])
                    .env("ANSIBLE_CONFIG", case.join("ansible.cfg"));
                c
            }
            Tool::Pyinfra => {
                let mut c = Command::new(self.venv_bin("pyinfra"));
                c.args(["inventory.py", "deploy.py", "-y"]);
                c
            }
        };
        command
            .args(extra)
            .current_dir(case)
            .env("NO_COLOR", "1")
            .env("ANSIBLE_NOCOLOR", "1")
            .env_remove("ANSIBLE_INVENTORY");
        command
    }

    fn venv_bin(&self, program: &str) -> PathBuf {
        self.venv
            .as_ref()
            .expect("the Python tools are installed")
            .join("bin")
            .join(program)
    }

    /// One line per tool: its version, for the report.
    pub fn versions(&self) -> Vec<String> {
        let mut lines = vec![first_line(Command::new(&self.ply).arg("--version"))];
        if self.venv.is_some() {
            lines.push(first_line(
                Command::new(self.venv_bin("ansible-playbook")).arg("--version"),
            ));
            lines.push(format!(
                "pyinfra {}",
                first_line(
                    Command::new(self.venv_bin("python"))
                        .args(["-c", "import pyinfra.version as v; print(v.__version__)"])
                )
            ));
            lines.push(first_line(
                Command::new(self.venv_bin("python")).arg("--version"),
            ));
        }
        lines
    }
}

fn first_line(command: &mut Command) -> String {
    command
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|e| format!("{command:?}: {e}"))
}

/// Creates `venv` with the machine's `/usr/bin/python3` (the pyenv shims on PATH are not meant for this)
/// and pip-installs ansible-core and pyinfra into it, unless both are there already.
pub fn ensure_venv(venv: &Path) -> PathBuf {
    let ready = venv.join("bin/ansible-playbook").is_file() && venv.join("bin/pyinfra").is_file();
    if !ready {
        eprintln!(
            "ply-bench: installing {ANSIBLE_CORE} and {PYINFRA} into {}",
            venv.display()
        );
        if !venv.join("bin/python").is_file() {
            std::fs::create_dir_all(venv).expect("create the venv dir");
            run_checked(
                Command::new("/usr/bin/python3")
                    .args(["-m", "venv"])
                    .arg(venv),
                "python3 -m venv (apt-get install python3-venv)",
            );
        }
        run_checked(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                ANSIBLE_CORE,
                PYINFRA,
            ]),
            "pip install ansible-core pyinfra",
        );
    }
    venv.to_path_buf()
}

fn run_checked(command: &mut Command, what: &str) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

/// `cargo build --release` of ply (or the named example of the engine crate); the built file.
pub fn build_release(example: Option<&str>) -> PathBuf {
    build("release", example)
}

/// As [`build_release`] with the dev profile, which the test suite has mostly built already.
pub fn build_debug(example: Option<&str>) -> PathBuf {
    build("debug", example)
}

fn build(profile: &str, example: Option<&str>) -> PathBuf {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(["build", "--quiet", "-p", "engine"]);
    if profile == "release" {
        command.arg("--release");
    }
    match example {
        Some(name) => command.args(["--example", name]),
        None => command.args(["--bin", "ply"]),
    };
    run_checked(
        command.current_dir(ply_tests::workspace_root()),
        &format!("cargo build ({profile})"),
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| ply_tests::workspace_root().join("target"), PathBuf::from);
    match example {
        Some(name) => target.join(profile).join("examples").join(name),
        None => target.join(profile).join("ply"),
    }
}
