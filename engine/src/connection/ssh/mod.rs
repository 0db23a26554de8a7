pub mod known_hosts;
pub mod ssh_config;
