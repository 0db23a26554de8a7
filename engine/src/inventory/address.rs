//! Splitting `host:port` the way Ansible's `parse_address` does: a port is only taken off when what remains
//! is a valid hostname, IPv4 or IPv6 address (ranges allowed), so `fe80::1` keeps its colons.

use std::net::Ipv6Addr;

/// `(host, port)` when `address` is a recognisable host identifier, `None` where Ansible raises
/// "Not a valid network hostname".
pub fn parse_address(address: &str, allow_ranges: bool) -> Option<(String, Option<u64>)> {
    let mut rest = address.to_string();
    let mut port = None;
    // Both forms are tried in turn, the second on what the first left.
    if let Some((inner, p)) = bracketed_hostport(&rest) {
        rest = inner;
        port = Some(p);
    }
    if let Some((host, p)) = hostport(&rest) {
        rest = host;
        port = Some(p);
    }
    if !(is_ipv4(&rest) || is_ipv6(&rest) || is_hostname(&rest)) {
        return None;
    }
    if !allow_ranges && rest.contains('[') {
        return None;
    }
    Some((rest, port))
}

/// `[anything]:digits`
fn bracketed_hostport(text: &str) -> Option<(String, u64)> {
    let body = text.strip_prefix('[')?;
    let colon = body.rfind("]:")?;
    let (inner, port) = (&body[..colon], &body[colon + 2..]);
    if inner.is_empty() {
        return None;
    }
    Some((inner.to_string(), parse_port(port)?))
}

/// `host:digits` where the host part has no bare `:`, `[` or `]` outside complete `[...]` groups.
fn hostport(text: &str) -> Option<(String, u64)> {
    let colon = text.rfind(':')?;
    let (host, port) = (&text[..colon], &text[colon + 1..]);
    let port = parse_port(port)?;
    let mut in_bracket = false;
    for c in host.chars() {
        match c {
            '[' if !in_bracket => in_bracket = true,
            ']' if in_bracket => in_bracket = false,
            ':' | '[' | ']' if !in_bracket => return None,
            _ => {}
        }
    }
    if in_bracket {
        return None;
    }
    Some((host.to_string(), port))
}

fn parse_port(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A `[x:y]` or `[x:y:z]` range at the start of `text`; returns its length. Letters are allowed only where
/// hostnames allow them.
fn range_len(text: &str, letters: bool) -> Option<usize> {
    let body = text.strip_prefix('[')?;
    let close = body.find(']')?;
    let parts: Vec<&str> = body[..close].split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let letter = |s: &str| s.len() == 1 && s.bytes().all(|b| b.is_ascii_alphabetic());
    let bounds_ok = parts.len() >= 2
        && ((digits(parts[0]) && digits(parts[1]))
            || (letters && letter(parts[0]) && letter(parts[1])));
    let step_ok = match parts.len() {
        2 => true,
        3 => digits(parts[2]),
        _ => false,
    };
    (bounds_ok && step_ok).then_some(close + 2)
}

fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|part| {
            range_len(part, false) == Some(part.len())
                || (!part.is_empty()
                    && part.len() <= 3
                    && part.bytes().all(|b| b.is_ascii_digit())
                    && part.parse::<u16>().is_ok_and(|n| n <= 255))
        })
}

fn is_ipv6(text: &str) -> bool {
    if !text.contains(':') {
        return false;
    }
    // Ranges stand in for one component each; check the shape with a placeholder.
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(len) = range_len(rest, false) {
            plain.push('0');
            rest = &rest[len..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            plain.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    plain.parse::<Ipv6Addr>().is_ok()
}

fn is_hostname(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(is_label)
}

/// A DNS-ish label: word characters, `-` and ranges, not ending in `-` or `_`, not starting with `-`.
fn is_label(label: &str) -> bool {
    let mut rest = label;
    let mut first = true;
    let mut last = None;
    while !rest.is_empty() {
        if let Some(len) = range_len(rest, true) {
            rest = &rest[len..];
            last = Some(']');
        } else {
            let c = rest.chars().next().unwrap_or_default();
            let word = c.is_alphanumeric() || c == '_';
            if !(word || (c == '-' && !first)) {
                return false;
            }
            rest = &rest[c.len_utf8()..];
            last = Some(c);
        }
        first = false;
    }
    !matches!(last, None | Some('-') | Some('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = Option<(&'a str, Option<u64>)>;

    #[test]
    fn ports_hosts_and_addresses() {
        let cases: &[(&str, Expected)] = &[
            ("web1", Some(("web1", None))),
            (
                "web1.example.com:2222",
                Some(("web1.example.com", Some(2222))),
            ),
            ("192.168.1.10:22", Some(("192.168.1.10", Some(22)))),
            ("fe80::1", Some(("fe80::1", None))),
            ("[fe80::1]:22", Some(("fe80::1", Some(22)))),
            ("db[01:10]:5432", Some(("db[01:10]", Some(5432)))),
            ("web[a:c].x", Some(("web[a:c].x", None))),
            ("10.0.[1:3].1", Some(("10.0.[1:3].1", None))),
            ("host:", None),
            ("bad_", None),
            ("-bad", None),
            ("a b", None),
            ("host:abc", None),
        ];
        for (input, expected) in cases {
            let got = parse_address(input, true);
            let expected = expected.map(|(h, p)| (h.to_string(), p));
            assert_eq!(got, expected, "{input}");
        }
        assert_eq!(parse_address("web[1:2]", false), None);
    }
}
