//! Connections to hosts. The trait is `modules::Connection` (modules reach hosts only through it).
//!
//! - [`LocalConnection`]: the machine ply runs on (`ansible_connection=local`).
//! - [`CheckOverlay`]: check mode over any connection; writes are recorded, never made.
//! - [`shell_ops`]: quoting, sudo/su and file operations built from shell commands, for any connection.
//! - [`ssh::SshConnection`]: hosts over SSH (russh), one connection per host.
//! - [`gather_facts`]: Ansible's facts from one shell command.

mod facts;
mod local;
mod overlay;
pub mod shell_ops;
pub mod ssh;
pub mod users;

pub use facts::{gather_facts, parse_facts, FACTS_SCRIPT};
pub use local::LocalConnection;
pub use modules::{
    Become, BecomeMethod, CommandOutput, CommandRequest, Connection, ConnectionError,
    FileAttributes, FileKind, FileStat, Program, Secret,
};
pub use overlay::{CheckOverlay, Recorded};
pub use shell_ops::shell_quote;
pub use ssh::{wait_for_cleanups, SshConnection, SshTarget};
