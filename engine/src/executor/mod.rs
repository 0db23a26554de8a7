//! Running playbooks: the linear strategy over hosts, blocks, loops, handlers, check and diff mode.
//!
//! One [`Run`] executes the plays of a playbook. Per task, every active host of the batch runs
//! concurrently (bounded by `--forks`); results are reported in inventory order once the task has finished
//! everywhere, which is the lockstep Ansible's linear strategy gives.

mod connections;
mod evaluator;
mod host_state;
mod interrupt;
mod loops;
mod play;
mod task;
mod task_vars;

pub use connections::ConnectionDefaults;
pub use interrupt::Interrupt;
pub(crate) use play::search_path;
pub use play::Run;

use crate::vars::VarMap;
use modules::Secret;

/// Options from the command line that shape a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub limit: Option<String>,
    pub only_tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub extra_vars: VarMap,
    pub start_at_task: Option<String>,
    pub verbosity: u8,
    pub become_: bool,
    pub become_user: Option<String>,
    pub become_password: Option<Secret>,
    /// How hosts are reached when their inventory variables do not say.
    pub connection: ConnectionDefaults,
}
