//! `ansible_ssh_common_args` and `ansible_ssh_extra_args`: the OpenSSH command-line options Ansible
//! hands to `ssh`. ply's client is not `ssh`, so it reads the options it implements and refuses every
//! other one by name: an option the user wrote must never be dropped without a word.

use std::time::Duration;

/// The options ply implements, as OpenSSH spells them.
pub const SUPPORTED_OPTIONS: &[&str] = &[
    "ProxyCommand",
    "ProxyJump",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "StrictHostKeyChecking",
    "UserKnownHostsFile",
    "ConnectTimeout",
    "IdentityFile",
    "User",
    "Port",
];

/// Options that only tune OpenSSH's own connection sharing, which ply does by itself (one connection
/// per host for the whole run), or its own log output: accepted, with nothing left to do.
const BUILT_IN: &[&str] = &["ControlMaster", "ControlPersist", "ControlPath", "LogLevel"];

/// What the arguments ask for.
#[derive(Debug, Default, PartialEq)]
pub struct SshArgs {
    pub proxy_command: Option<String>,
    pub proxy_jump: Option<String>,
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<u32>,
    pub strict_host_key_checking: Option<String>,
    pub user_known_hosts_file: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub identity_files: Vec<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
}

/// Reads the arguments; the error names the option ply does not support and what it does support.
pub fn parse(args: &str) -> Result<SshArgs, String> {
    let words: Vec<String> = crate::inventory::shlex::split(args)?
        .into_iter()
        .map(|t| t.text)
        .collect();
    let mut parsed = SshArgs::default();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        // `-o Key=Value`, `-oKey=Value`, `-o "Key Value"`; `-J jump`, `-i key`, `-l user`, `-p port`.
        let (flag, inline) = match word.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (rest.chars().next().unwrap_or(' '), &rest[1..]),
            _ => {
                return Err(format!(
                    "unexpected ssh argument {word:?} (ply reads options, not a command)"
                ))
            }
        };
        let takes_value = matches!(flag, 'o' | 'J' | 'i' | 'l' | 'p');
        let value = if !takes_value {
            None
        } else if !inline.is_empty() {
            Some(inline.to_string())
        } else {
            i += 1;
            Some(
                words
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("ssh option -{flag} needs a value"))?,
            )
        };
        match (flag, value) {
            ('o', Some(option)) => option_value(&mut parsed, &option)?,
            ('J', Some(jump)) => parsed.proxy_jump = parsed.proxy_jump.take().or(Some(jump)),
            ('i', Some(key)) => parsed.identity_files.push(key),
            ('l', Some(user)) => parsed.user = parsed.user.take().or(Some(user)),
            ('p', Some(port)) => parsed.port = parsed.port.or(Some(port_number(&port)?)),
            // Quiet output and the address family are about ssh's own behaviour ply matches already
            // (it prints nothing of its own; it connects to what the address resolves to).
            ('q', None) => {}
            _ => {
                return Err(format!(
                    "the ssh option {word} is not supported by ply; it reads -o with {}, and -J, -i, -l, -p, -q",
                    SUPPORTED_OPTIONS.join(", ")
                ))
            }
        }
        i += 1;
    }
    Ok(parsed)
}

fn option_value(parsed: &mut SshArgs, option: &str) -> Result<(), String> {
    let (key, value) = match option.split_once('=') {
        Some((key, value)) => (key.trim(), value.trim()),
        None => option
            .trim()
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((option.trim(), "")),
    };
    let value = value.trim_matches(['"', '\'']).to_string();
    let canonical = SUPPORTED_OPTIONS
        .iter()
        .chain(BUILT_IN)
        .find(|name| name.eq_ignore_ascii_case(key));
    let Some(canonical) = canonical else {
        return Err(format!(
            "the ssh option -o {key} is not supported by ply; it reads {} (and accepts {}, whose work it does itself)",
            SUPPORTED_OPTIONS.join(", "),
            BUILT_IN.join(", ")
        ));
    };
    // OpenSSH keeps the first value given for an option.
    match *canonical {
        "ProxyCommand" if parsed.proxy_command.is_none() && !value.eq_ignore_ascii_case("none") => {
            parsed.proxy_command = Some(value)
        }
        "ProxyJump" if parsed.proxy_jump.is_none() && !value.eq_ignore_ascii_case("none") => {
            parsed.proxy_jump = Some(value)
        }
        "ServerAliveInterval" => {
            parsed.server_alive_interval = parsed
                .server_alive_interval
                .or(Some(Duration::from_secs(seconds(key, &value)?)))
        }
        "ServerAliveCountMax" => {
            parsed.server_alive_count_max = parsed
                .server_alive_count_max
                .or(Some(seconds(key, &value)? as u32))
        }
        "ConnectTimeout" => {
            parsed.connect_timeout = parsed
                .connect_timeout
                .or(Some(Duration::from_secs(seconds(key, &value)?)))
        }
        "StrictHostKeyChecking" => {
            parsed.strict_host_key_checking = parsed.strict_host_key_checking.take().or(Some(value))
        }
        "UserKnownHostsFile" => {
            parsed.user_known_hosts_file = parsed.user_known_hosts_file.take().or(Some(value))
        }
        "IdentityFile" => parsed.identity_files.push(value),
        "User" => parsed.user = parsed.user.take().or(Some(value)),
        "Port" => parsed.port = parsed.port.or(Some(port_number(&value)?)),
        _ => {}
    }
    Ok(())
}

fn seconds(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("ssh option {key}={value}: expected a whole number"))
}

fn port_number(value: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("ssh port {value:?} is not a port number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_ply_implements_and_refuses_the_rest_by_name() {
        let parsed = parse(
            "-o ServerAliveInterval=5 -oServerAliveCountMax=2 -o 'ProxyCommand=ssh -W %h:%p jump' -J other -o ControlMaster=auto -q",
        )
        .expect("parses");
        assert_eq!(parsed.server_alive_interval, Some(Duration::from_secs(5)));
        assert_eq!(parsed.server_alive_count_max, Some(2));
        assert_eq!(parsed.proxy_command.as_deref(), Some("ssh -W %h:%p jump"));
        assert_eq!(parsed.proxy_jump.as_deref(), Some("other"));
        let refused = parse("-o ForwardAgent=yes").expect_err("refused");
        assert!(
            refused.contains("-o ForwardAgent is not supported"),
            "{refused}"
        );
        let refused = parse("-C").expect_err("refused");
        assert!(refused.contains("-C is not supported"), "{refused}");
        assert_eq!(
            parse("-o Port=notaport").unwrap_err(),
            "ssh port \"notaport\" is not a port number"
        );
    }

    #[test]
    fn the_first_value_of_an_option_wins_as_in_openssh() {
        let parsed = parse("-o User=first -o User=second -o Port=2200 -p 2300").expect("parses");
        assert_eq!(parsed.user.as_deref(), Some("first"));
        assert_eq!(parsed.port, Some(2200));
    }
}
