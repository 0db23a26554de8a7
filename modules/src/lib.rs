//! ply's built-in modules.
//!
//! Each module gets a file of its own. The registry is what the playbook loader validates task actions
//! against, so a misspelt module is caught at load time with a suggestion.

mod connection;
mod contract;
mod registry;

pub use connection::{
    Become, BecomeMethod, CommandOutput, CommandRequest, Connection, ConnectionError,
    FileAttributes, FileKind, FileStat, Program, Secret,
};
pub use contract::{
    Evaluator, FactLevel, FileDiff, MetaAction, ModuleContext, ModuleResult, VarMap,
};
pub use registry::{find, names, ModuleSpec, REGISTRY};
