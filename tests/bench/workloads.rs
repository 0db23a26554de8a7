//! The workloads, each written once as a list of [`Step`]s and rendered into an Ansible playbook (which
//! ply runs too) and an equivalent pyinfra deploy, with the inventories and configs of each tool.
//!
//! Every host is an alias of one loopback sshd, so each host works in its own directory
//! `ROOT/<workload>/<host>` on this machine, and the harness resets and inspects the end state directly
//! on the local filesystem (see `state`).

use ply_tests::sshd::{KeyKind, Sshd, USER};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the targets' files go: the test user's home, which every tool may write as that user; one
/// directory per benchmark process, so a quick run in the test suite never meets a full run's files.
pub fn state_root() -> PathBuf {
    Path::new("/home")
        .join(USER)
        .join("ply-bench")
        .join(std::process::id().to_string())
}

/// Ansible's ControlPersist sockets, per benchmark process; short, because a unix socket path is
/// limited to 108 bytes.
fn control_dir() -> PathBuf {
    PathBuf::from(format!("/tmp/plyb-{}", std::process::id()))
}

/// Removes this process's target files and control sockets when dropped, also when a check panics
/// (W5 leaves 200 MiB behind otherwise).
pub struct CleanUp;

impl Drop for CleanUp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(state_root());
        let _ = fs::remove_dir_all(control_dir());
    }
}

/// One managed thing on a host; paths are relative to the host's directory.
#[derive(Debug, Clone)]
pub enum Step {
    /// The host's directory itself (the first step of every workload).
    HostDir,
    /// `templates/bench.j2` rendered with the host's name, mode 0644.
    Template(String),
    /// Ensure the line `key=value` replaces a line starting `key=` or is appended (file created if missing).
    Line {
        file: String,
        key: String,
        value: String,
    },
    /// A controller file from `files/` copied with mode 0644.
    Copy { source: String, dest: String },
    /// An empty file, mode 0644, left alone when it exists (Ansible `touch` with preserved times).
    Touch(String),
    /// A command with no effect on the state (`/bin/echo WORD`): always runs, in every tool.
    Echo(String),
}

/// Whether a run starts from a reset host or from the state the previous run left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Changing,
    Converged,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Changing => "changing",
            Phase::Converged => "converged",
        }
    }
}

/// A workload: hosts × steps, and what a reset host holds before the changing run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `w1`: names its state directory and its case directory.
    pub id: &'static str,
    pub title: String,
    pub hosts: usize,
    pub steps: Vec<Step>,
    /// Files written into each host's directory on reset (relative path, content).
    pub seed: Vec<(String, String)>,
    /// Controller files under `files/` (name, size in bytes): generated before the first run.
    pub payloads: Vec<(String, usize)>,
}

const PAYLOAD: &str = "payload.txt";
const PAYLOAD_BYTES: usize = 1024;
const BIG_FILE: &str = "big.bin";

/// W1: `tasks` lineinfile edits on one host, over ten files of which every line starts stale.
pub fn lineinfile(tasks: usize) -> Workload {
    let files = tasks.div_ceil(10).max(1);
    let file_of = |k: usize| format!("cfg{}.conf", k % files);
    let mut seed: Vec<(String, String)> = (0..files)
        .map(|f| {
            (
                format!("cfg{f}.conf"),
                "# managed by ply-bench\n".to_string(),
            )
        })
        .collect();
    for k in 0..tasks {
        let _ = writeln!(seed[k % files].1, "key{k}=stale");
    }
    // The reset creates the host's directory, so all `tasks` are edits.
    let steps = (0..tasks)
        .map(|k| Step::Line {
            file: file_of(k),
            key: format!("key{k}"),
            value: format!("value{k}"),
        })
        .collect();
    Workload {
        id: "w1",
        title: format!("1 host x {tasks} lineinfile"),
        hosts: 1,
        steps,
        seed,
        payloads: Vec::new(),
    }
}

/// W2 and W3: `hosts` × `tasks` of template, lineinfile, copy, file and command, in rotation.
pub fn mixed(id: &'static str, hosts: usize, tasks: usize) -> Workload {
    let mut steps = vec![Step::HostDir];
    for k in 1..tasks {
        steps.push(match k % 5 {
            1 => Step::Template(format!("tmpl{k}.conf")),
            2 => Step::Line {
                file: format!("line{k}.conf"),
                key: "key".into(),
                value: format!("value{k}"),
            },
            3 => Step::Copy {
                source: PAYLOAD.into(),
                dest: format!("copy{k}.txt"),
            },
            4 => Step::Touch(format!("empty{k}")),
            _ => Step::Echo(k.to_string()),
        });
    }
    Workload {
        id,
        title: format!("{hosts} hosts x {tasks} mixed"),
        hosts,
        steps,
        seed: Vec::new(),
        payloads: vec![(PAYLOAD.into(), PAYLOAD_BYTES)],
    }
}

/// W5: one file of `bytes` copied to one host (2 tasks: its directory and the copy).
pub fn big_copy(bytes: usize) -> Workload {
    Workload {
        id: "w5",
        title: format!("1 host, copy {} MiB", bytes / (1024 * 1024)),
        hosts: 1,
        steps: vec![
            Step::HostDir,
            Step::Copy {
                source: BIG_FILE.into(),
                dest: BIG_FILE.into(),
            },
        ],
        seed: Vec::new(),
        payloads: vec![(BIG_FILE.into(), bytes)],
    }
}

impl Workload {
    pub fn tasks(&self) -> usize {
        self.steps.len()
    }

    /// The target-side directory holding every host's directory.
    pub fn state_dir(&self) -> PathBuf {
        state_root().join(self.id)
    }

    pub fn host_names(&self) -> Vec<String> {
        (1..=self.hosts).map(|k| format!("host{k}")).collect()
    }

    /// Writes the case directory: inventories, ansible.cfg, the playbook, the deploy, the template and
    /// the payloads.
    pub fn generate(&self, case: &Path, sshd: &Sshd) {
        fs::create_dir_all(case.join("templates")).expect("case templates dir");
        fs::create_dir_all(case.join("files")).expect("case files dir");
        fs::create_dir_all(control_dir()).expect("ControlPath dir");
        write(&case.join("templates/bench.j2"), TEMPLATE);
        for (name, bytes) in &self.payloads {
            write_payload(&case.join("files").join(name), *bytes);
        }
        let key = sshd.key(KeyKind::Ed25519);
        write(
            &case.join("inventory.ini"),
            &self.ini_inventory(sshd.port(), &key),
        );
        write(
            &case.join("inventory.py"),
            &self.pyinfra_inventory(sshd.port(), &key),
        );
        write(&case.join("ansible.cfg"), &ansible_cfg(self.hosts));
        write(&case.join("site.yml"), &self.playbook());
        write(&case.join("deploy.py"), &self.deploy());
    }

    /// Every alias reaches the same sshd at 127.0.0.1, so Ansible's default ControlPath (a hash of
    /// address, port and user) would give all of them one shared master connection, which refuses sessions
    /// beyond sshd's MaxSessions. A ControlPath per host gives each its own master, as separate machines
    /// would have.
    fn ini_inventory(&self, port: u16, key: &Path) -> String {
        let mut text = String::from("[bench]\n");
        for host in self.host_names() {
            let _ = writeln!(
                text,
                "{host} ansible_host=127.0.0.1 ansible_port={port} ansible_user={USER} \
                 ansible_ssh_private_key_file={} \
                 ansible_ssh_common_args='-o ControlPath={}/{}-{host}'",
                key.display(),
                control_dir().display(),
                self.id
            );
        }
        // Debian's python3, not the machine's pyenv shims, which break Ansible's interpreter discovery.
        text.push_str("\n[bench:vars]\nansible_python_interpreter=/usr/bin/python3\n");
        text
    }

    fn pyinfra_inventory(&self, port: u16, key: &Path) -> String {
        let mut text = String::from("bench = [\n");
        for host in self.host_names() {
            let _ = writeln!(
                text,
                "    (\"{host}\", {{\"ssh_hostname\": \"127.0.0.1\", \"ssh_port\": {port}, \
                 \"ssh_user\": \"{USER}\", \"ssh_key\": \"{}\", \
                 \"ssh_strict_host_key_checking\": \"off\", \"ssh_known_hosts_file\": \"/dev/null\"}}),",
                key.display()
            );
        }
        text.push_str("]\n");
        text
    }

    fn playbook(&self) -> String {
        let mut text = format!(
            "- hosts: bench\n  gather_facts: false\n  vars:\n    \
             d: \"{}/{{{{ inventory_hostname }}}}\"\n    \
             host_name: \"{{{{ inventory_hostname }}}}\"\n{TEMPLATE_VARS_YAML}  tasks:\n",
            self.state_dir().display()
        );
        for (n, step) in self.steps.iter().enumerate() {
            let task = match step {
                Step::HostDir => {
                    "file: {path: \"{{ d }}\", state: directory, mode: \"0755\"}".to_string()
                }
                Step::Template(dest) => format!(
                    "template: {{src: templates/bench.j2, dest: \"{{{{ d }}}}/{dest}\", mode: \"0644\"}}"
                ),
                Step::Line { file, key, value } => format!(
                    "lineinfile: {{path: \"{{{{ d }}}}/{file}\", regexp: \"^{key}=\", \
                     line: \"{key}={value}\", create: true}}"
                ),
                Step::Copy { source, dest } => format!(
                    "copy: {{src: files/{source}, dest: \"{{{{ d }}}}/{dest}\", mode: \"0644\"}}"
                ),
                Step::Touch(path) => format!(
                    "file: {{path: \"{{{{ d }}}}/{path}\", state: touch, mode: \"0644\", \
                     modification_time: preserve, access_time: preserve}}"
                ),
                Step::Echo(word) => format!("command: /bin/echo {word}"),
            };
            let _ = writeln!(text, "    - name: step {n}\n      {task}");
        }
        text
    }

    fn deploy(&self) -> String {
        let mut text = format!(
            "from pyinfra import host\nfrom pyinfra.operations import files, server\n\n\
             d = \"{}/\" + host.name\n{TEMPLATE_VARS_PY}\n",
            self.state_dir().display()
        );
        for (n, step) in self.steps.iter().enumerate() {
            let name = format!("name=\"step {n}\"");
            let op = match step {
                Step::HostDir => format!("files.directory({name}, path=d, mode=\"755\")"),
                Step::Template(dest) => format!(
                    "files.template({name}, src=\"templates/bench.j2\", dest=d + \"/{dest}\", \
                     mode=\"644\", host_name=host.name, **template_vars)"
                ),
                // pyinfra's line is a regex over the whole line; replace is the line to put there.
                Step::Line { file, key, value } => format!(
                    "files.line({name}, path=d + \"/{file}\", line=\"^{key}=.*\", \
                     replace=\"{key}={value}\")"
                ),
                Step::Copy { source, dest } => format!(
                    "files.put({name}, src=\"files/{source}\", dest=d + \"/{dest}\", mode=\"644\")"
                ),
                Step::Touch(path) => {
                    format!("files.file({name}, path=d + \"/{path}\", mode=\"644\")")
                }
                Step::Echo(word) => {
                    format!("server.shell({name}, commands=[\"/bin/echo {word}\"])")
                }
            };
            let _ = writeln!(text, "{op}");
        }
        text
    }

    /// Paths (relative to the state dir) the workload manages, for the sanity check of the end state.
    pub fn managed_paths(&self) -> usize {
        let mut per_host: Vec<String> = std::iter::once(String::new())
            .chain(self.steps.iter().filter_map(|step| match step {
                Step::HostDir => None,
                Step::Template(p) | Step::Touch(p) => Some(p.clone()),
                Step::Line { file, .. } => Some(file.clone()),
                Step::Copy { dest, .. } => Some(dest.clone()),
                Step::Echo(_) => None,
            }))
            .collect();
        per_host.sort();
        per_host.dedup();
        per_host.len() * self.hosts
    }
}

/// Avoids block tags at line ends: Ansible's template module sets trim_blocks, pyinfra does not, and
/// this way both render the same bytes.
const TEMPLATE: &str = "# {{ title }} on {{ host_name }}\n\
listen_port = {{ port }}\n\
entries = {% for entry in entries %}{{ entry }},{% endfor %} end\n\
upper = {{ title | upper }}\n\
count = {{ entries | length }}\n";
const TEMPLATE_VARS_YAML: &str =
    "    title: ply bench\n    port: 5432\n    entries: [alpha, beta, gamma, delta]\n";
const TEMPLATE_VARS_PY: &str = "template_vars = {\"title\": \"ply bench\", \"port\": 5432, \
\"entries\": [\"alpha\", \"beta\", \"gamma\", \"delta\"]}\n";

fn ansible_cfg(hosts: usize) -> String {
    format!(
        "# Ansible's best settings for this benchmark (see tests/bench/RESULTS.md).\n\
         [defaults]\n\
         forks = {hosts}\n\
         host_key_checking = False\n\
         gathering = explicit\n\
         retry_files_enabled = False\n\
         interpreter_python = /usr/bin/python3\n\
         [ssh_connection]\n\
         pipelining = True\n\
         ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o KexAlgorithms=curve25519-sha256 \
         -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no\n"
    )
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Deterministic incompressible-looking bytes (xorshift), so no tool gains from compression.
fn write_payload(path: &Path, bytes: usize) {
    use std::io::Write as _;
    if fs::metadata(path).is_ok_and(|m| m.len() == bytes as u64) {
        return;
    }
    let mut out = std::io::BufWriter::new(
        fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display())),
    );
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = Vec::with_capacity(1 << 16);
    let mut left = bytes;
    while left > 0 {
        chunk.clear();
        while chunk.len() < (1 << 16).min(left) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.extend_from_slice(&state.to_le_bytes());
        }
        chunk.truncate((1 << 16).min(left));
        out.write_all(&chunk).expect("write payload");
        left -= chunk.len();
    }
    out.flush().expect("flush payload");
}
