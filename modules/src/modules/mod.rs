//! One file per module.

pub mod assert;
pub mod command;
pub mod debug;
pub mod fail;
pub mod include_vars;
pub mod lineinfile;
pub mod meta;
pub mod pause;
pub mod ping;
pub mod set_fact;
pub mod shell;
