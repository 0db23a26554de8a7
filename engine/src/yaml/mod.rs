//! YAML with positions, read the way Ansible reads it.
//!
//! serde_yaml gives no positions for values and follows YAML 1.2, while Ansible (PyYAML) reads YAML 1.1:
//! `yes`/`off` are booleans and `0644` is octal. Playbook errors must point at the offending key, so the
//! engine parses into its own [`Node`] tree, where every value knows its file, line and column.

mod loader;
mod node;
mod scalar;

pub use loader::{load_file, load_str};
pub use node::{scalar_text, Node, NodeValue};
