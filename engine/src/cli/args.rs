//! The command line, with ansible-playbook's spelling wherever it has one.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ply",
    version,
    about = "A fast, Ansible-compatible playbook engine",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run playbooks against an inventory (like ansible-playbook).
    Run(RunArgs),
    /// Show an inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// List the modules, or show one module's arguments, return values and an example.
    #[command(alias = "modules")]
    Doc {
        /// The module to document.
        module: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Playbook files to run, in order.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    /// Inventory file, directory, or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,
    /// Further limit the selected hosts with a pattern.
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Only run plays and tasks tagged with these values (comma-separated, repeatable).
    #[arg(short = 't', long = "tags", value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Skip plays and tasks tagged with these values (comma-separated, repeatable).
    #[arg(long = "skip-tags", value_name = "TAGS")]
    pub skip_tags: Vec<String>,
    /// Extra variables: key=value, YAML/JSON, or @file (repeatable; they always win).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show the differences in changed files and templates.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// Number of hosts worked on in parallel.
    #[arg(short = 'f', long = "forks", default_value_t = 5, value_name = "FORKS")]
    pub forks: usize,
    /// Connect as this user.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Connection timeout in seconds (SSH connect, key exchange and authentication).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Host key checking: strict (only known hosts), accept-new (learn unknown hosts, refuse changed
    /// keys; the default) or off. ANSIBLE_HOST_KEY_CHECKING=False means off.
    #[arg(long = "host-key-checking", value_name = "POLICY", value_parser = ["strict", "accept-new", "off"])]
    pub host_key_checking: Option<String>,
    /// Use this file to authenticate the connection.
    #[arg(long = "private-key", alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Run operations with become (sudo).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Run operations as this user with become.
    #[arg(long = "become-user", value_name = "USER")]
    pub become_user: Option<String>,
    /// Ask for the privilege escalation password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Ask for the connection password.
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
    /// Start the playbook at the task with this name.
    #[arg(long = "start-at-task", value_name = "NAME")]
    pub start_at_task: Option<String>,
    /// List the hosts each play would run on, then stop.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tasks that would run, then stop.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the tags of every play, then stop.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Check the playbook's syntax and references, then stop.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// More output (repeatable: -vvv).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Output format.
    #[arg(long = "output", value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"]))]
pub struct InventoryArgs {
    /// Inventory file, directory, or comma-separated host list (repeatable).
    #[arg(
        short = 'i',
        long = "inventory",
        value_name = "INVENTORY",
        required = true
    )]
    pub inventory: Vec<String>,
    /// Every group and host, with variables, as ansible-inventory --list prints it.
    #[arg(long)]
    pub list: bool,
    /// The group tree, optionally from GROUP down.
    #[arg(long)]
    pub graph: bool,
    /// The variables of one host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// The group to start --graph at.
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,
    /// Further limit the selected hosts with a pattern.
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    pub limit: Option<String>,
}

impl RunArgs {
    /// `-t a,b -t c` → `[a, b, c]`; Ansible's default is `all`.
    pub fn selected_tags(&self) -> Vec<String> {
        let tags = split_tags(&self.tags);
        if tags.is_empty() {
            vec!["all".into()]
        } else {
            tags
        }
    }

    pub fn skipped_tags(&self) -> Vec<String> {
        split_tags(&self.skip_tags)
    }
}

fn split_tags(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}
