//! Templating on minijinja with Ansible's semantics.
