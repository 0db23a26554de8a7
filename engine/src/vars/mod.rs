//! Variables: Ansible's precedence order, the magic variables, and `-e` extra vars.

mod extra_vars;
mod magic;
mod precedence;

pub use extra_vars::parse_extra_vars;
pub use magic::{hostvars, magic_vars, play_pattern_vars, MagicContext, MAGIC_NAMES};
pub use precedence::{Level, VarLayers};

/// Variables as the engine stores them: raw values, which may still hold `{{ }}` templates.
pub type VarMap = serde_json::Map<String, serde_json::Value>;
