//! Templating on minijinja with Ansible's semantics.

/// Does the string hold Jinja markup that must be rendered?
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}
