//! ssh_config parsing.
