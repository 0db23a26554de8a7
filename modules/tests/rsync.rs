//! The rsync module's pure parts, table-driven: the command line built from the arguments, and the parsing
//! of rsync's itemized output. The transfers themselves are tested through the `ply` binary in
//! tests/suite/rsync.rs.

use modules::modules::rsync::{
    exit_meaning, outcome, parse_itemized, Direction, HostKeys, Invocation, Remote,
};

fn base() -> Invocation {
    Invocation {
        rsync: "rsync".into(),
        synchronize: false,
        src: "/src/".into(),
        dest: "/dest".into(),
        remote: None,
        direction: Direction::ToRemote,
        dry_run: false,
        archive: true,
        checksum: false,
        compress: false,
        delete: false,
        existing_only: false,
        dirs: false,
        copy_links: false,
        recursive: None,
        links: None,
        perms: None,
        times: None,
        owner: None,
        group: None,
        partial: false,
        inplace: false,
        delay_updates: false,
        timeout: 0,
        include: Vec::new(),
        exclude: Vec::new(),
        rsync_opts: Vec::new(),
    }
}

fn remote() -> Remote {
    Remote {
        user: Some("deploy".into()),
        address: "10.0.0.5".into(),
        port: Some(2222),
        private_key: Some("/keys/id ed25519".into()),
        host_keys: HostKeys::Ignore,
        multiplexing: false,
        ssh_args: Vec::new(),
        rsync_path: None,
    }
}

const TAIL: &str = "--itemize-changes|--out-format=<<CHANGED>>%i %n%L|--";

/// Each case: a name, a change to the base invocation, and the expected argv joined with `|`.
#[test]
fn command_lines() {
    type Edit = fn(&mut Invocation);
    let cases: &[(&str, Edit, String)] = &[
        (
            "local defaults",
            |_| {},
            format!("rsync|--archive|{TAIL}|/src/|/dest"),
        ),
        (
            "check mode adds --dry-run",
            |i| i.dry_run = true,
            format!("rsync|--dry-run|--archive|{TAIL}|/src/|/dest"),
        ),
        (
            "flags in synchronize's order",
            |i| {
                i.delay_updates = true;
                i.compress = true;
                i.timeout = 30;
                i.delete = true;
                i.existing_only = true;
                i.checksum = true;
                i.copy_links = true;
                i.dirs = true;
                i.partial = true;
                i.inplace = true;
            },
            format!(
                "rsync|--delay-updates|--compress|--timeout=30|--delete-after|--existing|--checksum|\
                 --copy-links|--archive|--dirs|--partial|--inplace|{TAIL}|/src/|/dest"
            ),
        ),
        (
            "synchronize adds -F after --delay-updates",
            |i| {
                i.synchronize = true;
                i.delay_updates = true;
            },
            format!("rsync|--delay-updates|-F|--archive|{TAIL}|/src/|/dest"),
        ),
        (
            "archive with parts turned off",
            |i| {
                i.owner = Some(false);
                i.group = Some(false);
                i.perms = Some(true);
            },
            format!("rsync|--archive|--no-owner|--no-group|{TAIL}|/src/|/dest"),
        ),
        (
            "no archive: only the parts asked for",
            |i| {
                i.archive = false;
                i.recursive = Some(true);
                i.times = Some(true);
                i.links = Some(false);
            },
            format!("rsync|--recursive|--times|{TAIL}|/src/|/dest"),
        ),
        (
            "includes before excludes, then rsync_opts verbatim",
            |i| {
                i.include = vec!["*.conf".into()];
                i.exclude = vec!["*".into(), "with space".into()];
                i.rsync_opts = vec!["--numeric-ids".into()];
            },
            format!(
                "rsync|--archive|--include=*.conf|--exclude=*|--exclude=with space|--numeric-ids|\
                 {TAIL}|/src/|/dest"
            ),
        ),
        (
            "push over ssh without host key checking (synchronize)",
            |i| i.remote = Some(remote()),
            format!(
                "rsync|--archive|--rsh=ssh -S none -o BatchMode=yes -i '/keys/id ed25519' -o \
                 IdentitiesOnly=yes -o Port=2222 -o StrictHostKeyChecking=no -o \
                 UserKnownHostsFile=/dev/null|{TAIL}|/src/|deploy@10.0.0.5:/dest"
            ),
        ),
        (
            "pull puts the remote on the source",
            |i| {
                let mut r = remote();
                r.user = None;
                r.port = None;
                r.private_key = None;
                r.multiplexing = true;
                i.remote = Some(r);
                i.direction = Direction::FromRemote;
            },
            format!(
                "rsync|--archive|--rsh=ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o \
                 UserKnownHostsFile=/dev/null|{TAIL}|10.0.0.5:/src/|/dest"
            ),
        ),
        (
            "strict host keys with a known_hosts file",
            |i| {
                let mut r = remote();
                r.private_key = None;
                r.port = None;
                r.host_keys = HostKeys::Verify {
                    known_hosts: Some("/etc/kh".into()),
                    accept_new: false,
                };
                i.remote = Some(r);
            },
            format!(
                "rsync|--archive|--rsh=ssh -S none -o BatchMode=yes -o StrictHostKeyChecking=yes -o \
                 UserKnownHostsFile=/etc/kh|{TAIL}|/src/|deploy@10.0.0.5:/dest"
            ),
        ),
        (
            "accept-new, IPv6, rsync_path and ssh args",
            |i| {
                let mut r = remote();
                r.private_key = None;
                r.port = None;
                r.address = "fe80::1".into();
                r.host_keys = HostKeys::Verify {
                    known_hosts: None,
                    accept_new: true,
                };
                r.ssh_args = vec!["-o".into(), "Compression=no".into()];
                r.rsync_path = Some("sudo -u postgres rsync".into());
                i.remote = Some(r);
            },
            format!(
                "rsync|--archive|--rsh=ssh -S none -o BatchMode=yes -o StrictHostKeyChecking=accept-new \
                 -o Compression=no|--rsync-path=sudo -u postgres rsync|{TAIL}|/src/|deploy@[fe80::1]:/dest"
            ),
        ),
        (
            "check mode: accept-new records nothing, ssh learns no keys",
            |i| {
                let mut r = remote();
                r.private_key = None;
                r.port = None;
                r.host_keys = HostKeys::Verify {
                    known_hosts: None,
                    accept_new: true,
                };
                i.remote = Some(r);
                i.dry_run = true;
            },
            format!(
                "rsync|--dry-run|--archive|--rsh=ssh -S none -o BatchMode=yes -o StrictHostKeyChecking=accept-new \
                 -o 'UserKnownHostsFile=/dev/null ~/.ssh/known_hosts ~/.ssh/known_hosts2' -o UpdateHostKeys=no\
                 |{TAIL}|/src/|deploy@10.0.0.5:/dest"
            ),
        ),
        (
            "check mode: accept-new with a known_hosts file",
            |i| {
                let mut r = remote();
                r.private_key = None;
                r.port = None;
                r.host_keys = HostKeys::Verify {
                    known_hosts: Some("/etc/kh".into()),
                    accept_new: true,
                };
                i.remote = Some(r);
                i.dry_run = true;
            },
            format!(
                "rsync|--dry-run|--archive|--rsh=ssh -S none -o BatchMode=yes -o StrictHostKeyChecking=accept-new \
                 -o 'UserKnownHostsFile=/dev/null /etc/kh' -o UpdateHostKeys=no|{TAIL}|/src/|deploy@10.0.0.5:/dest"
            ),
        ),
        (
            "an --rsh in rsync_opts replaces the generated one",
            |i| {
                i.remote = Some(remote());
                i.rsync_opts = vec!["--rsh=ssh -p 22".into()];
            },
            format!("rsync|--archive|--rsh=ssh -p 22|{TAIL}|/src/|deploy@10.0.0.5:/dest"),
        ),
        (
            "a path starting with a dash stays a path",
            |i| i.src = "-rf".into(),
            format!("rsync|--archive|{TAIL}|-rf|/dest"),
        ),
    ];
    for (name, edit, expected) in cases {
        let mut invocation = base();
        edit(&mut invocation);
        let argv = invocation.argv().unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: Vec<String> = expected.split('|').map(str::to_string).collect();
        assert_eq!(argv, expected, "case: {name}");
    }
}

#[test]
fn quotes_in_the_ssh_command_are_refused() {
    let mut invocation = base();
    let mut r = remote();
    r.private_key = Some("/keys/it's".into());
    invocation.remote = Some(r);
    let error = invocation
        .argv()
        .expect_err("a quote cannot reach rsync's -e parser");
    assert!(error.contains("it's"), "{error}");
}

#[test]
fn itemized_lines() {
    // (output line, code, name, link)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("<<CHANGED>>>f+++++++++ a.txt", ">f+++++++++", "a.txt", ""),
        ("<<CHANGED>>cd+++++++++ sub/", "cd+++++++++", "sub/", ""),
        (
            "<<CHANGED>>>f.st...... dir/with space.txt",
            ">f.st......",
            "dir/with space.txt",
            "",
        ),
        (
            "<<CHANGED>>cL+++++++++ link -> a.txt",
            "cL+++++++++",
            "link",
            " -> a.txt",
        ),
        ("<<CHANGED>>.d..t...... ./", ".d..t......", "./", ""),
        ("<<CHANGED>>*deleting   old.txt", "*deleting", "old.txt", ""),
        (
            "<<CHANGED>>>f+++++++++ not -> a link",
            ">f+++++++++",
            "not -> a link",
            "",
        ),
        ("<<CHANGED>><f+++++++++ pushed", "<f+++++++++", "pushed", ""),
    ];
    for (line, code, name, link) in cases {
        let parsed = parse_itemized(line);
        assert_eq!(parsed.len(), 1, "{line}");
        assert_eq!(parsed[0].code, *code, "{line}");
        assert_eq!(parsed[0].name, *name, "{line}");
        assert_eq!(parsed[0].link, *link, "{line}");
    }
    let mixed = "sending incremental file list\n<<CHANGED>>>f+++++++++ a\nsent 100 bytes\n";
    let parsed = parse_itemized(mixed);
    assert_eq!(parsed.len(), 1);
    assert!(parsed[0].is_new());
    assert!(parse_itemized("<<CHANGED>>*deleting   x")[0].is_deletion());
    assert!(parse_itemized("no marker here\n").is_empty());
}

#[test]
fn outcomes() {
    let ok = outcome("rsync x", 0, "", "", "/d");
    assert!(!ok.changed && !ok.failed);
    assert_eq!(ok.values["rc"], 0);

    let changed = outcome("rsync x", 0, "<<CHANGED>>>f+++++++++ a\n", "", "/d");
    assert!(changed.changed);
    assert_eq!(changed.msg.as_deref(), Some(">f+++++++++ a\n"));
    assert_eq!(changed.values["stdout_lines"][0], ">f+++++++++ a");
    assert_eq!(changed.diff[0].after, ">f+++++++++ a\n");

    // Output without the marker (rsync's own chatter) is not a change.
    let chatter = outcome("rsync x", 0, "skipping non-regular file\n", "", "/d");
    assert!(!chatter.changed);

    let failed = outcome(
        "rsync x",
        23,
        "",
        "rsync: [sender] link_stat failed\n",
        "/d",
    );
    assert!(failed.failed);
    let msg = failed.msg.unwrap_or_default();
    assert!(
        msg.contains("exit code 23 (Partial transfer due to error)") && msg.contains("link_stat"),
        "{msg}"
    );
    for (rc, meaning) in [
        (12, "Error in rsync protocol data stream"),
        (255, "The ssh connection failed"),
        (24, "Partial transfer due to vanished source files"),
        (30, "Timeout in data send/receive"),
    ] {
        assert_eq!(exit_meaning(rc), meaning);
    }
}
