//! ply's built-in modules.
//!
//! Each module gets a file of its own as it is implemented. The registry below is what the playbook loader
//! validates task actions against, so a misspelt module is caught at load time with a suggestion.

mod registry;

pub use registry::{find, names, ModuleSpec, REGISTRY};
