//! User and group names of the machine ply runs on, read from `/etc/passwd` and `/etc/group`.
//!
//! Reading the files keeps ply free of `unsafe` libc calls (the workspace forbids them). Accounts that live
//! only in NSS sources such as LDAP are not seen; numeric ids are accepted wherever a name is, so such
//! accounts can still be given as numbers.

use std::fs;

/// One `/etc/passwd` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub dir: String,
    pub shell: String,
}

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

pub(crate) fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                dir: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// `(name, gid)` pairs of `/etc/group`.
pub(crate) fn parse_group(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some((f[0].to_string(), f[2].parse().ok()?))
        })
        .collect()
}

pub fn passwd_by_uid(uid: u32) -> Option<PasswdEntry> {
    parse_passwd(&read("/etc/passwd"))
        .into_iter()
        .find(|e| e.uid == uid)
}

pub fn user_name(uid: u32) -> Option<String> {
    passwd_by_uid(uid).map(|e| e.name)
}

pub fn group_name(gid: u32) -> Option<String> {
    parse_group(&read("/etc/group"))
        .into_iter()
        .find(|(_, g)| *g == gid)
        .map(|(n, _)| n)
}

/// The uid of a user name, or of a numeric string.
pub fn uid_of(user: &str) -> Option<u32> {
    parse_passwd(&read("/etc/passwd"))
        .into_iter()
        .find(|e| e.name == user)
        .map(|e| e.uid)
        .or_else(|| user.parse().ok())
}

/// The gid of a group name, or of a numeric string.
pub fn gid_of(group: &str) -> Option<u32> {
    parse_group(&read("/etc/group"))
        .into_iter()
        .find(|(n, _)| n == group)
        .map(|(_, g)| g)
        .or_else(|| group.parse().ok())
}

/// The effective uid and user name ply runs as.
pub fn current_user() -> (u32, String) {
    let uid = rustix::process::geteuid().as_raw();
    let name = user_name(uid)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string());
    (uid, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group_lines() {
        let p = parse_passwd("root:x:0:0:root:/root:/bin/bash\n# junk\nbad:line\npg:x:105:110:PostgreSQL,,,:/var/lib/postgresql:/bin/bash\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "pg");
        assert_eq!(p[1].uid, 105);
        assert_eq!(p[1].gid, 110);
        assert_eq!(p[1].dir, "/var/lib/postgresql");
        let g = parse_group("root:x:0:\nssl-cert:x:108:postgres\n");
        assert_eq!(g, vec![("root".into(), 0), ("ssl-cert".into(), 108)]);
    }

    #[test]
    fn numeric_names_resolve_to_themselves() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("4242"), Some(4242));
        assert_eq!(gid_of("4243"), Some(4243));
        assert_eq!(uid_of("no-such-user-ply"), None);
    }
}
