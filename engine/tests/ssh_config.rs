//! ssh_config parsing and resolution: a table of config files × host names → the settings ply uses.

use engine::connection::ssh::ssh_config::{HostConfig, JumpHost, SshConfig};
use std::fs;
use std::path::Path;

/// Every setting of `config` that is set, as `field=value`; `~` stands for the home directory.
fn render(config: &HostConfig, home: &Path) -> Vec<String> {
    let home = home.display().to_string();
    let path = |p: &Path| p.display().to_string().replace(&home, "~");
    let mut out = Vec::new();
    if let Some(v) = &config.host_name {
        out.push(format!("host_name={v}"));
    }
    if let Some(v) = &config.user {
        out.push(format!("user={v}"));
    }
    if let Some(v) = config.port {
        out.push(format!("port={v}"));
    }
    if !config.identity_files.is_empty() {
        let files: Vec<String> = config.identity_files.iter().map(|p| path(p)).collect();
        out.push(format!("identity_files={}", files.join(",")));
    }
    if let Some(v) = config.identities_only {
        out.push(format!("identities_only={v}"));
    }
    if !config.proxy_jump.is_empty() {
        let hops: Vec<String> = config
            .proxy_jump
            .iter()
            .map(|hop| {
                let user = hop
                    .user
                    .as_deref()
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default();
                let port = hop.port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{user}{}{port}", hop.host)
            })
            .collect();
        out.push(format!("proxy_jump={}", hops.join(",")));
    }
    if let Some(v) = &config.proxy_command {
        out.push(format!("proxy_command={v}"));
    }
    if let Some(files) = &config.user_known_hosts_files {
        let files: Vec<String> = files.iter().map(|p| path(p)).collect();
        out.push(format!("user_known_hosts_files={}", files.join(" ")));
    }
    if let Some(files) = &config.global_known_hosts_files {
        let files: Vec<String> = files.iter().map(|p| path(p)).collect();
        out.push(format!("global_known_hosts_files={}", files.join(" ")));
    }
    if let Some(v) = config.strict_host_key_checking {
        out.push(format!("strict={v:?}"));
    }
    if let Some(v) = config.hash_known_hosts {
        out.push(format!("hash_known_hosts={v}"));
    }
    if let Some(v) = config.connect_timeout {
        out.push(format!("connect_timeout={}s", v.as_secs()));
    }
    if let Some(v) = config.server_alive_interval {
        out.push(format!("server_alive_interval={}s", v.as_secs()));
    }
    if let Some(v) = config.server_alive_count_max {
        out.push(format!("server_alive_count_max={v}"));
    }
    for note in &config.notes {
        // "~/.ssh/config:3: bad value ..." → "note 3: bad value ..."
        let at = note
            .find(".ssh/config:")
            .map_or(0, |i| i + ".ssh/config:".len());
        out.push(format!("note {}", &note[at..]));
    }
    out
}

struct Case {
    name: &'static str,
    /// Files under the home directory; the first is the config that is loaded.
    files: &'static [(&'static str, &'static str)],
    /// host → every setting expected (nothing else may be set)
    queries: &'static [(&'static str, &'static [&'static str])],
}

const CASES: &[Case] = &[
    Case {
        name: "a host block",
        files: &[(".ssh/config", "Host db\n  HostName db.internal\n  User admin\n  Port 2200\n  IdentityFile ~/.ssh/id_db\n")],
        queries: &[
            ("db", &["host_name=db.internal", "user=admin", "port=2200", "identity_files=~/.ssh/id_db"]),
            ("web", &[]),
            ("db2", &[]),
        ],
    },
    Case {
        name: "keywords in any case, with = and quotes",
        files: &[(".ssh/config", "HOST db\nhostname=db.internal\nUSER = admin\n\tPort=2200\n  identityfile   \"~/my keys/id\"\n")],
        queries: &[("db", &["host_name=db.internal", "user=admin", "port=2200", "identity_files=~/my keys/id"])],
    },
    Case {
        name: "host patterns are case-insensitive",
        files: &[(".ssh/config", "Host DB.example.COM\n User x\n")],
        queries: &[("db.example.com", &["user=x"]), ("DB.EXAMPLE.COM", &["user=x"])],
    },
    Case {
        name: "the first value wins",
        files: &[(".ssh/config", "Host db\n User first\n User ignored\nHost *\n User second\n Port 22\n Port 23\n")],
        queries: &[("db", &["user=first", "port=22"]), ("web", &["user=second", "port=22"])],
    },
    Case {
        name: "lines before any Host apply to all and come first",
        files: &[(".ssh/config", "User global\nHost db\n User dbuser\n Port 2200\n")],
        queries: &[("db", &["user=global", "port=2200"]), ("web", &["user=global"])],
    },
    Case {
        name: "several patterns, wildcards and negation",
        files: &[(".ssh/config", "Host *.prod !bastion.prod web?\n User ops\n")],
        queries: &[
            ("a.prod", &["user=ops"]),
            ("bastion.prod", &[]),
            ("web1", &["user=ops"]),
            ("web12", &[]),
            ("prod", &[]),
        ],
    },
    Case {
        name: "Match blocks are skipped up to the next Host",
        files: &[(".ssh/config", "Match exec \"test -f /x\"\n User matched\n Port 1\nHost db\n User dbuser\n")],
        queries: &[("db", &["user=dbuser"]), ("web", &[])],
    },
    Case {
        name: "Match all applies to every host",
        files: &[(".ssh/config", "Host db\n User dbuser\nMatch all\n Port 2222\n")],
        queries: &[("db", &["user=dbuser", "port=2222"]), ("web", &["port=2222"])],
    },
    Case {
        name: "IdentityFile accumulates, with tokens",
        files: &[(".ssh/config", "Host db\n IdentityFile ~/.ssh/id_%h_%r\n IdentityFile %d/.ssh/id_%u\n HostName db.internal\n User admin\n Port 2200\nHost *\n IdentityFile ~/.ssh/id_ed25519\n IdentityFile /keys/%n-%p-%%\n")],
        queries: &[
            ("db", &["host_name=db.internal", "user=admin", "port=2200", "identity_files=~/.ssh/id_db.internal_admin,~/.ssh/id_alice,~/.ssh/id_ed25519,/keys/db-2200-%"]),
            ("web", &["identity_files=~/.ssh/id_ed25519,/keys/web-22-%"]),
        ],
    },
    Case {
        name: "%r defaults to the local user",
        files: &[(".ssh/config", "IdentityFile ~/.ssh/%r\n")],
        queries: &[("web", &["identity_files=~/.ssh/alice"])],
    },
    Case {
        name: "HostName with %h",
        files: &[(".ssh/config", "Host *.short\n HostName %h.example.com\nHost *\n HostName 100%%-%h\n")],
        queries: &[("db.short", &["host_name=db.short.example.com"]), ("web", &["host_name=100%-web"])],
    },
    Case {
        name: "ProxyJump",
        files: &[(".ssh/config", "Host db\n ProxyJump admin@bastion:2222,jump2\nHost v6\n ProxyJump ssh://ops@[::1]:2200\nHost web\n ProxyJump none\nHost *\n ProxyJump fallback\n")],
        queries: &[
            ("db", &["proxy_jump=admin@bastion:2222,jump2"]),
            ("v6", &["proxy_jump=ops@::1:2200"]),
            ("web", &[]),
            ("other", &["proxy_jump=fallback"]),
        ],
    },
    Case {
        name: "ProxyCommand and ProxyJump: the first wins",
        files: &[(".ssh/config", "Host db\n ProxyCommand ssh -W %h:%p bastion\n ProxyJump other\nHost *\n ProxyJump j\n ProxyCommand c\n")],
        queries: &[("db", &["proxy_command=ssh -W %h:%p bastion"]), ("web", &["proxy_jump=j"])],
    },
    Case {
        name: "known hosts files and host key checking",
        files: &[(".ssh/config", "Host db\n UserKnownHostsFile ~/.ssh/kh_%h /tmp/kh2\n GlobalKnownHostsFile none\n StrictHostKeyChecking accept-new\n HashKnownHosts yes\nHost *\n StrictHostKeyChecking yes\n UserKnownHostsFile /dev/null\n")],
        queries: &[
            ("db", &["user_known_hosts_files=~/.ssh/kh_db /tmp/kh2", "global_known_hosts_files=", "strict=AcceptNew", "hash_known_hosts=true"]),
            ("web", &["user_known_hosts_files=/dev/null", "strict=Strict"]),
        ],
    },
    Case {
        name: "StrictHostKeyChecking no/off/ask",
        files: &[(".ssh/config", "Host a\n StrictHostKeyChecking no\nHost b\n StrictHostKeyChecking off\nHost c\n StrictHostKeyChecking ask\n")],
        queries: &[("a", &["strict=Off"]), ("b", &["strict=Off"]), ("c", &["strict=Strict"])],
    },
    Case {
        name: "timeouts and keepalive",
        files: &[(".ssh/config", "ConnectTimeout 10\nServerAliveInterval 1m30s\nServerAliveCountMax 5\nIdentitiesOnly yes\n")],
        queries: &[("x", &["identities_only=true", "connect_timeout=10s", "server_alive_interval=90s", "server_alive_count_max=5"])],
    },
    Case {
        name: "a bad value does not hide a later good one",
        files: &[(".ssh/config", "Port abc\nPort 2200\nStrictHostKeyChecking maybe\nStrictHostKeyChecking no\nConnectTimeout soon\nConnectTimeout 5s\nProxyJump j:port\nProxyJump j:22\n")],
        queries: &[("x", &[
            "port=2200",
            "proxy_jump=j:22",
            "strict=Off",
            "connect_timeout=5s",
            "note 1: bad value \"abc\" for port (ignored)",
            "note 3: bad value \"maybe\" for stricthostkeychecking (ignored)",
            "note 5: bad value \"soon\" for connecttimeout (ignored)",
            "note 7: bad value \"j:port\" for proxyjump (ignored)",
        ])],
    },
    Case {
        name: "comments and unknown keywords",
        files: &[(".ssh/config", "# a comment\n\n   # indented comment\nHost db # trailing comment\n  User admin # another\n  ForwardAgent yes\n  SomeFutureOption 1\n")],
        queries: &[("db", &["user=admin"]), ("#", &[])],
    },
    Case {
        name: "Include with a glob, relative to ~/.ssh, sorted",
        files: &[
            (".ssh/config", "Include conf.d/*.conf\nHost *\n User fallback\n"),
            (".ssh/conf.d/20-web.conf", "Host web\n User webuser\nHost db\n Port 2\n"),
            (".ssh/conf.d/10-db.conf", "Host db\n User dbuser\n"),
            (".ssh/conf.d/notes.txt", "User wrong\n"),
            (".ssh/conf.d/.hidden.conf", "User hidden\n"),
        ],
        queries: &[
            ("db", &["user=dbuser", "port=2"]),
            ("web", &["user=webuser"]),
            ("x", &["user=fallback"]),
        ],
    },
    Case {
        name: "an Include inside a Host block applies only there",
        files: &[
            (".ssh/config", "Host db\n Include extra\nHost *\n Port 2\n"),
            (".ssh/extra", "User included\n"),
        ],
        queries: &[("db", &["user=included", "port=2"]), ("web", &["port=2"])],
    },
    Case {
        name: "Host blocks inside an Include of another Host need both to match",
        files: &[
            (".ssh/config", "Host db*\n Include hosts\nHost *\n Port 2\n"),
            (".ssh/hosts", "Host web\n User w\nHost db1\n User d\n"),
        ],
        queries: &[("web", &["port=2"]), ("db1", &["user=d", "port=2"]), ("db2", &["port=2"])],
    },
    Case {
        name: "Include with ~ and an absolute path; missing includes are fine",
        files: &[
            (".ssh/config", "Include ~/other/abs missing-file nothing/*\nUser after\n"),
            ("other/abs", "User abs\n"),
        ],
        queries: &[("x", &["user=abs"])],
    },
    Case {
        name: "an include loop stops",
        files: &[(".ssh/config", "Include config\nUser loop\n")],
        queries: &[("x", &["user=loop"])],
    },
];

#[test]
fn resolution_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let home = tempfile::tempdir().expect("tempdir");
        for (name, text) in case.files {
            let path = home.path().join(name);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, text).expect("write");
        }
        let config_path = home.path().join(case.files[0].0);
        let config = SshConfig::load_in(&config_path, home.path(), "alice").expect("load");
        for (host, expected) in case.queries {
            let got = render(&config.resolve(host), home.path());
            if got != *expected {
                failures.push(format!(
                    "{}: {host}:\n  expected {expected:?}\n  got      {got:?}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn notes_name_skipped_match_blocks_and_include_loops() {
    let home = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(home.path().join(".ssh")).expect("mkdir");
    let path = home.path().join(".ssh/config");
    fs::write(&path, "Match host foo\n User x\nInclude config\n").expect("write");
    let config = SshConfig::load_in(&path, home.path(), "alice").expect("load");
    let notes = config.notes();
    assert!(
        notes.iter().any(|n| n.contains("config:1: Match host foo")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("Include nested deeper")),
        "{notes:?}"
    );
}

#[test]
fn a_missing_config_is_empty_and_an_unreadable_one_is_an_error() {
    let home = tempfile::tempdir().expect("tempdir");
    let config = SshConfig::load_in(&home.path().join("nope"), home.path(), "alice")
        .expect("missing is fine");
    assert_eq!(config.resolve("x"), HostConfig::default());
    let error = SshConfig::load_in(home.path(), home.path(), "alice").expect_err("a dir");
    assert!(
        error.to_string().contains("cannot read ssh config"),
        "{error}"
    );
}

#[test]
fn host_name_or_falls_back_to_the_name_given() {
    let config = HostConfig::default();
    assert_eq!(config.host_name_or("web"), "web");
}

#[test]
fn jump_hosts_parse() {
    let cases = [
        ("bastion", Some((None, "bastion", None))),
        ("ops@bastion", Some((Some("ops"), "bastion", None))),
        (
            "ops@bastion:2222",
            Some((Some("ops"), "bastion", Some(2222))),
        ),
        ("ssh://bastion:22", Some((None, "bastion", Some(22)))),
        ("[::1]:2200", Some((None, "::1", Some(2200)))),
        ("[fe80::1]", Some((None, "fe80::1", None))),
        ("a@b@host", Some((Some("a@b"), "host", None))),
        ("host:notaport", None),
        ("@host", None),
        ("", None),
    ];
    for (text, expected) in cases {
        let got = JumpHost::parse(text);
        let expected = expected.map(|(user, host, port)| JumpHost {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        });
        assert_eq!(got, expected, "{text:?}");
    }
}
