//! The playbook model: plays, tasks, blocks, roles, handlers, and their loading from YAML.
