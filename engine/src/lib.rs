//! ply's engine: the playbook and inventory model, variables, templating and the CLI glue.
//!
//! The `ply` binary (`main.rs`) is a thin shell over [`cli::main`]; everything it does lives here so that
//! the integration tests and later crates can drive it as a library.

pub mod cli;
pub mod connection;
pub mod diagnostic;
pub mod error;
pub mod executor;
pub mod inventory;
pub mod limits;
pub mod location;
pub mod output;
pub mod playbook;
pub mod pyjson;
pub mod pyliteral;
pub mod suggest;
pub mod template;
pub mod vars;
pub mod yaml;

pub use error::{Error, Result};
pub use location::Location;
