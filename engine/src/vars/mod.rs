//! Variables: Ansible's precedence order and the magic variables.

/// Variables as the engine stores them: raw values, which may still hold `{{ }}` templates.
pub type VarMap = serde_json::Map<String, serde_json::Value>;

mod extra_vars;

pub use extra_vars::parse_extra_vars;
