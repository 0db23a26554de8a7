//! Connections to hosts. The trait is `modules::Connection` (modules reach hosts only through it).

pub use modules::{
    Become, BecomeMethod, CommandOutput, CommandRequest, Connection, ConnectionError,
    FileAttributes, FileKind, FileStat, Program, Secret,
};
