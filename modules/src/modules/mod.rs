//! One file per module.

pub mod assert;
pub mod command;
pub mod copy;
pub mod debug;
pub mod fail;
pub mod file;
pub mod include_vars;
pub mod lineinfile;
pub mod meta;
pub mod pause;
pub mod ping;
pub mod rsync;
pub mod service;
pub mod set_fact;
pub mod shell;
pub mod sql;
pub mod stat;
pub mod systemd;
pub mod template;
pub mod wait_for;
