//! YAML with positions.
