//! ply's built-in modules.
//!
//! Each module gets a file of its own under `modules/`. The registry is what the playbook loader validates
//! task actions against, so a misspelt module is caught at load time with a suggestion. The engine runs a
//! module with [`execute`]; `ply doc` prints [`render_list`] and [`render_doc`].

mod args;
mod connection;
mod contract;
mod doc;
mod driver;
pub mod file_support;
pub mod modules;
mod registry;
mod shell_quote;
mod util;

pub use args::{
    check_choices, convert_arg, find_arg, known_names, unknown_keys, validate, ArgDefault, ArgSpec,
    ArgType, Rules, UnknownArgs, Validated,
};
pub use connection::{
    Become, BecomeMethod, CommandOutput, CommandRequest, Connection, ConnectionError,
    FileAttributes, FileKind, FileStat, NoHost, Program, Secret,
};
pub use contract::{
    Evaluator, FactLevel, FileDiff, MetaAction, ModuleContext, ModuleResult, VarMap,
};
pub use doc::{render_doc, render_list, ModuleDoc, ReturnDoc, Support};
pub use driver::{doc, drive, execute, is_implemented, runs_on_controller, Module, Plan};
pub use registry::{engine_keyword, find, names, unavailable_reason, ModuleSpec, REGISTRY};
pub use shell_quote::{command_line, shell_quote};
