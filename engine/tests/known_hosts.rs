//! known_hosts matching with OpenSSH semantics: a table of files × queries → verdicts, hashed names
//! cross-checked with `ssh-keygen -H`/`-F`, fingerprints with `ssh-keygen -l`, learning, and policies.

use engine::connection::ssh::known_hosts::{
    decide, fingerprint_sha256, hashed_host_field_with_salt, learn, learn_hashed, HostKeyError,
    HostKeyPolicy, KnownHosts, Learn, Offered, Verdict,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

// Throwaway public keys made with ssh-keygen for these tests.
const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKlrddkzjsOF6Gu5BdYi00R4pG9J3CXYvH8NQCARajTM";
const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIK2pZz0rblGOGSaoC0YD2DGAv7U5suRsOci0NXg80Yf7";
const ED_C: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAUIcrSqVd+hzRFbs5trvkV+Im8QK83TfmwYw/mnRb8r";
const EC_A: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLDNEtNNf13ARU+EPhX0j2BoVhtwzvxkapOZ4+K61rhD4E0reoqsfD5hNV4svKIoq2pVsvtauNinWFDGoVFA2Iw=";
const RSA_A: &str = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDCjRnWv0GrR7nYv3y+7etjsy2q1InOqZIHMvX6Jw7ZH9kbEZLyLbVp+qsdhQI1Tfoxv2y7GkNanXNj9IjBL9RAtddec8CBa9hhqjyXITWTcu0B05VRvGVTUkiUSbtry3SJGtsbFLfQLPAhgd/VeM2FbvkF2RY/fn3WJBS3if1Bw==";
/// `ssh-keygen -l` of ED_A.
const ED_A_FINGERPRINT: &str = "SHA256:A8+6C/d06Jj5DiKUw2bO5OwrnHurCWIYh3kvJH84UBo";

/// `$A`, `$B`, `$C` (ed25519), `$E` (ecdsa), `$R` (rsa) → `type base64`; `{hash:NAME}` → a hashed field.
fn expand(text: &str) -> String {
    let mut out = text
        .replace("$A", &format!("ssh-ed25519 {ED_A}"))
        .replace("$B", &format!("ssh-ed25519 {ED_B}"))
        .replace("$C", &format!("ssh-ed25519 {ED_C}"))
        .replace("$E", &format!("ecdsa-sha2-nistp256 {EC_A}"))
        .replace("$R", &format!("ssh-rsa {RSA_A}"));
    while let Some(start) = out.find("{hash:") {
        let end = start + out[start..].find('}').expect("closing brace");
        let name = out[start + 6..end].to_string();
        out.replace_range(
            start..=end,
            &hashed_host_field_with_salt(&name, b"a fixed salt, twenty"),
        );
    }
    out
}

/// A query key: `A`, `B`, `C`, `E`, `R`, or `R512` (the RSA key named by its rsa-sha2-512 algorithm).
fn key(name: &str) -> (&'static str, &'static str) {
    match name {
        "A" => ("ssh-ed25519", ED_A),
        "B" => ("ssh-ed25519", ED_B),
        "C" => ("ssh-ed25519", ED_C),
        "E" => ("ecdsa-sha2-nistp256", EC_A),
        "E384" => ("ecdsa-sha2-nistp384", ED_B),
        "R" => ("ssh-rsa", RSA_A),
        "R512" => ("rsa-sha2-512", RSA_A),
        other => panic!("no test key {other}"),
    }
}

/// A verdict as the table writes it: `match`, `unknown`, `changed:1,4`, `revoked:2`.
fn short(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Match => "match".into(),
        Verdict::Unknown => "unknown".into(),
        Verdict::Changed { known } => format!(
            "changed:{}",
            known
                .iter()
                .map(|k| k.line.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Verdict::Revoked { line, .. } => format!("revoked:{line}"),
    }
}

/// (case, known_hosts text, [(host, port, key, expected)])
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, u16, &'static str, &'static str)],
);

const CASES: &[Case] = &[
    (
        "plain",
        "example.com $A\n",
        &[
            ("example.com", 22, "A", "match"),
            ("other.com", 22, "A", "unknown"),
            ("example.com", 22, "B", "changed:1"),
            ("example.co", 22, "A", "unknown"),
        ],
    ),
    (
        "case-insensitive",
        "Example.COM $A\n",
        &[
            ("example.com", 22, "A", "match"),
            ("EXAMPLE.com", 22, "A", "match"),
        ],
    ),
    (
        "comma list",
        "web1,web2,10.0.0.5 $A\n",
        &[
            ("web2", 22, "A", "match"),
            ("10.0.0.5", 22, "A", "match"),
            ("web3", 22, "A", "unknown"),
        ],
    ),
    (
        "non-22 port",
        "[example.com]:2222 $A\n",
        &[
            ("example.com", 2222, "A", "match"),
            ("example.com", 22, "A", "unknown"),
            ("example.com", 2223, "A", "unknown"),
            ("example.com", 2222, "B", "changed:1"),
        ],
    ),
    (
        "a plain name does not cover other ports",
        "example.com $A\n",
        &[("example.com", 2222, "A", "unknown")],
    ),
    (
        "[host]:22 is not looked up",
        "[example.com]:22 $A\n",
        &[("example.com", 22, "A", "unknown")],
    ),
    (
        "ipv6",
        "[::1]:2222 $A\n::1 $B\n",
        &[
            ("::1", 2222, "A", "match"),
            ("::1", 22, "B", "match"),
            ("::1", 22, "A", "changed:2"),
        ],
    ),
    (
        "star",
        "*.example.com $A\n",
        &[
            ("db.example.com", 22, "A", "match"),
            ("a.b.example.com", 22, "A", "match"),
            ("example.com", 22, "A", "unknown"),
            ("db.example.com", 22, "B", "changed:1"),
        ],
    ),
    (
        "question mark",
        "web? $A\n",
        &[
            ("web1", 22, "A", "match"),
            ("web10", 22, "A", "unknown"),
            ("web", 22, "A", "unknown"),
        ],
    ),
    (
        "wildcard port",
        "[127.0.0.1]:* $A\n",
        &[
            ("127.0.0.1", 2222, "A", "match"),
            ("127.0.0.1", 22, "A", "unknown"),
        ],
    ),
    (
        "star matches everything",
        "* $A\n",
        &[
            ("anything", 22, "A", "match"),
            ("anything", 2022, "B", "changed:1"),
        ],
    ),
    (
        "negation excludes",
        "*.example.com,!secret.example.com $A\n",
        &[
            ("db.example.com", 22, "A", "match"),
            ("secret.example.com", 22, "A", "unknown"),
            ("secret.example.com", 22, "B", "unknown"),
        ],
    ),
    (
        "negation order does not matter",
        "!secret.example.com,*.example.com $A\n",
        &[
            ("secret.example.com", 22, "A", "unknown"),
            ("db.example.com", 22, "A", "match"),
        ],
    ),
    (
        "negation alone matches nothing",
        "!foo $A\n",
        &[("foo", 22, "A", "unknown"), ("bar", 22, "A", "unknown")],
    ),
    (
        "several keys per host",
        "h $A\nh $E\nh $R\n",
        &[
            ("h", 22, "A", "match"),
            ("h", 22, "E", "match"),
            ("h", 22, "R", "match"),
            ("h", 22, "R512", "match"),
            ("h", 22, "B", "changed:1"),
            ("h", 22, "E384", "changed:2"),
        ],
    ),
    (
        "a matching line wins over a differing one",
        "h $B\nh $A\n",
        &[("h", 22, "A", "match"), ("h", 22, "C", "changed:1,2")],
    ),
    (
        "another type only is unknown",
        "h $E\n",
        &[("h", 22, "A", "unknown")],
    ),
    (
        "comments, blank lines and indentation",
        "# a comment\n\n   \n  h $B\n# h $A\nother,h $C  trailing comment\n",
        &[("h", 22, "A", "changed:4,6"), ("h", 22, "C", "match")],
    ),
    (
        "revoked beats a good line",
        "h $A\n@revoked h $A\n",
        &[("h", 22, "A", "revoked:2"), ("other", 22, "A", "unknown")],
    ),
    (
        "revoked for every host",
        "@revoked * $A\nh $B\n",
        &[
            ("h", 22, "A", "revoked:1"),
            ("elsewhere", 2222, "A", "revoked:1"),
            ("h", 22, "B", "match"),
        ],
    ),
    (
        "a revoked other key does not matter",
        "@revoked h $B\nh $A\n",
        &[("h", 22, "A", "match"), ("h", 22, "C", "changed:2")],
    ),
    (
        "cert-authority lines are ignored",
        "@cert-authority *.example.com $A\n",
        &[("db.example.com", 22, "A", "unknown")],
    ),
    (
        "malformed lines are skipped",
        "garbage\nh\nh ssh-ed25519 !!notbase64!!\n@bogus h $A\nh $A\n",
        &[("h", 22, "A", "match")],
    ),
    (
        "hashed",
        "{hash:example.com} $A\n{hash:[example.com]:2222} $B\n",
        &[
            ("example.com", 22, "A", "match"),
            ("EXAMPLE.COM", 22, "A", "match"),
            ("example.com", 22, "B", "changed:1"),
            ("example.com", 2222, "B", "match"),
            ("example.com", 2222, "A", "changed:2"),
            ("example.org", 22, "A", "unknown"),
        ],
    ),
    (
        "hashed and revoked",
        "{hash:h} $A\n@revoked {hash:h} $A\n",
        &[("h", 22, "A", "revoked:2")],
    ),
];

#[test]
fn verdict_table() {
    let file = Path::new("/test/known_hosts");
    let mut failures = Vec::new();
    for (case, text, queries) in CASES {
        let known = KnownHosts::parse(&expand(text), file);
        for (host, port, key_name, expected) in *queries {
            let (key_type, blob) = key(key_name);
            let got = short(&known.check(host, *port, key_type, blob));
            if got != *expected {
                failures.push(format!(
                    "{case}: {host}:{port} key {key_name}: expected {expected}, got {got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn changed_verdict_names_file_line_type_and_fingerprint() {
    let known = KnownHosts::parse(&expand("h $A\n"), Path::new("/k/known_hosts"));
    let Verdict::Changed { known } = known.check("h", 22, "ssh-ed25519", ED_B) else {
        panic!("expected a change");
    };
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].file, PathBuf::from("/k/known_hosts"));
    assert_eq!(known[0].line, 1);
    assert_eq!(known[0].key_type, "ssh-ed25519");
    assert_eq!(known[0].fingerprint, ED_A_FINGERPRINT);
}

#[test]
fn notes_explain_skipped_lines() {
    let known = KnownHosts::parse(
        &expand("@cert-authority * $A\ngarbage\nh $A\n"),
        Path::new("/k/kh"),
    );
    let notes = known.notes();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("/k/kh:1: @cert-authority"),
        "{notes:?}"
    );
    assert!(notes[1].starts_with("/k/kh:2:"), "{notes:?}");
}

#[test]
fn load_reads_several_files_and_skips_missing_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let user = dir.path().join("known_hosts");
    let system = dir.path().join("ssh_known_hosts");
    fs::write(&user, expand("h $A\n")).expect("write");
    fs::write(&system, expand("# system\nh $B\n")).expect("write");
    let files = [user.clone(), dir.path().join("missing"), system.clone()];
    let known = KnownHosts::load(&files).expect("load");
    assert_eq!(known.check("h", 22, "ssh-ed25519", ED_B), Verdict::Match);
    let Verdict::Changed { known } = known.check("h", 22, "ssh-ed25519", ED_C) else {
        panic!("expected a change");
    };
    let places: Vec<(PathBuf, usize)> = known.into_iter().map(|k| (k.file, k.line)).collect();
    assert_eq!(places, [(user, 1), (system, 2)]);

    // A file that exists but cannot be read is an error, not silently empty.
    let error = KnownHosts::load(&[dir.path().to_path_buf()]).expect_err("a dir is no file");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );
}

fn ssh_keygen(args: &[&str]) -> std::process::Output {
    Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen runs (openssh-client)")
}

/// Lines hashed by OpenSSH match here, and lines hashed here are found by OpenSSH.
#[test]
fn hashing_agrees_with_ssh_keygen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("known_hosts");
    fs::write(
        &file,
        expand("example.com $A\n[example.com]:2222 $B\n10.1.2.3 $E\n"),
    )
    .expect("write");
    let output = ssh_keygen(&["-H", "-f", file.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{output:?}");
    let hashed = fs::read_to_string(&file).expect("read");
    assert!(
        hashed.lines().all(|l| l.starts_with("|1|")),
        "ssh-keygen -H did not hash:\n{hashed}"
    );
    let known = KnownHosts::load(std::slice::from_ref(&file)).expect("load");
    assert_eq!(
        known.check("example.com", 22, "ssh-ed25519", ED_A),
        Verdict::Match
    );
    assert_eq!(
        known.check("example.com", 2222, "ssh-ed25519", ED_B),
        Verdict::Match
    );
    assert_eq!(
        known.check("10.1.2.3", 22, "ecdsa-sha2-nistp256", EC_A),
        Verdict::Match
    );
    assert_eq!(
        short(&known.check("example.com", 22, "ssh-ed25519", ED_B)),
        "changed:1"
    );
    assert_eq!(
        known.check("example.org", 22, "ssh-ed25519", ED_A),
        Verdict::Unknown
    );

    let ours = dir.path().join("ours");
    learn_hashed(&ours, "db.example.com", 2200, "ssh-ed25519", ED_C).expect("learn");
    let text = fs::read_to_string(&ours).expect("read");
    assert!(text.starts_with("|1|"), "{text}");
    let output = ssh_keygen(&[
        "-F",
        "[db.example.com]:2200",
        "-f",
        ours.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains(ED_C),
        "ssh-keygen -F did not find our hashed line: {output:?}"
    );
}

#[test]
fn fingerprints_match_ssh_keygen() {
    assert_eq!(fingerprint_sha256(ED_A), ED_A_FINGERPRINT);
    let dir = tempfile::tempdir().expect("tempdir");
    for (key_type, blob) in [
        ("ssh-ed25519", ED_B),
        ("ecdsa-sha2-nistp256", EC_A),
        ("ssh-rsa", RSA_A),
    ] {
        let file = dir.path().join("key.pub");
        fs::write(&file, format!("{key_type} {blob}\n")).expect("write");
        let output = ssh_keygen(&["-l", "-E", "sha256", "-f", file.to_str().expect("utf-8")]);
        let printed = String::from_utf8_lossy(&output.stdout);
        let theirs = printed
            .split_whitespace()
            .nth(1)
            .expect("fingerprint field");
        assert_eq!(fingerprint_sha256(blob), theirs, "{key_type}");
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn learn_creates_ssh_dir_and_file_privately_and_rechecks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ssh = dir.path().join("home/.ssh");
    let file = ssh.join("known_hosts");
    learn(&file, "127.0.0.1", 2222, "ssh-ed25519", ED_A).expect("learn");
    assert_eq!(mode(&ssh), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        format!("[127.0.0.1]:2222 ssh-ed25519 {ED_A}\n")
    );

    // Learning a known key again writes nothing; a port-22 host is written plain; an RSA signature
    // algorithm name is recorded as the key type ssh-rsa.
    learn(&file, "127.0.0.1", 2222, "ssh-ed25519", ED_A).expect("learn");
    learn(&file, "web1", 22, "rsa-sha2-512", RSA_A).expect("learn");
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        format!("[127.0.0.1]:2222 ssh-ed25519 {ED_A}\nweb1 ssh-rsa {RSA_A}\n")
    );

    let known = KnownHosts::load(std::slice::from_ref(&file)).expect("load");
    assert_eq!(
        known.check("127.0.0.1", 2222, "ssh-ed25519", ED_A),
        Verdict::Match
    );
    assert_eq!(known.check("web1", 22, "ssh-rsa", RSA_A), Verdict::Match);
    assert_eq!(
        known.check("127.0.0.1", 22, "ssh-ed25519", ED_A),
        Verdict::Unknown
    );

    // The system ssh agrees with what we wrote.
    let output = ssh_keygen(&[
        "-F",
        "[127.0.0.1]:2222",
        "-f",
        file.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn learn_appends_after_a_last_line_without_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("known_hosts");
    fs::write(&file, format!("old ssh-ed25519 {ED_B}")).expect("write");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
    learn(&file, "new", 22, "ssh-ed25519", ED_A).expect("learn");
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        format!("old ssh-ed25519 {ED_B}\nnew ssh-ed25519 {ED_A}\n")
    );
    // An existing file keeps the mode its owner gave it.
    assert_eq!(mode(&file), 0o644);
}

#[test]
fn parallel_learning_records_each_key_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("known_hosts");
    std::thread::scope(|scope| {
        for i in 0..16 {
            let file = &file;
            scope.spawn(move || {
                let blob = [ED_A, ED_B, ED_C][i % 3];
                learn(file, &format!("host{}", i % 3), 22, "ssh-ed25519", blob).expect("learn");
            });
        }
    });
    let text = fs::read_to_string(&file).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 3, "{text}");
}

#[test]
fn policies_parse_like_strict_host_key_checking() {
    for (text, policy) in [
        ("yes", HostKeyPolicy::Strict),
        ("strict", HostKeyPolicy::Strict),
        ("True", HostKeyPolicy::Strict),
        ("ask", HostKeyPolicy::Strict),
        ("accept-new", HostKeyPolicy::AcceptNew),
        ("no", HostKeyPolicy::Off),
        ("off", HostKeyPolicy::Off),
        ("False", HostKeyPolicy::Off),
    ] {
        assert_eq!(text.parse::<HostKeyPolicy>(), Ok(policy), "{text}");
    }
    assert!("maybe".parse::<HostKeyPolicy>().is_err());
    assert_eq!(HostKeyPolicy::default(), HostKeyPolicy::Strict);
}

const OFFERED: Offered<'static> = Offered {
    host: "127.0.0.1",
    port: 2222,
    key_type: "ssh-ed25519",
    key_base64: ED_A,
};

fn changed() -> Verdict {
    KnownHosts::parse(
        &expand("# x\n[127.0.0.1]:2222 $B\n"),
        Path::new("/root/.ssh/known_hosts"),
    )
    .check("127.0.0.1", 2222, "ssh-ed25519", ED_A)
}

/// (policy, verdict) → Ok(learn) or the error kind.
#[test]
fn decide_table() {
    use HostKeyPolicy::{AcceptNew, Off, Strict};
    let revoked = Verdict::Revoked {
        file: "/etc/ssh/ssh_known_hosts".into(),
        line: 3,
    };
    let outcome = |policy, verdict: &Verdict| match decide(policy, verdict, &OFFERED) {
        Ok(Learn::Nothing) => "nothing",
        Ok(Learn::Append) => "append",
        Ok(Learn::Warn(_)) => "warn",
        Err(HostKeyError::Unknown { .. }) => "error unknown",
        Err(HostKeyError::Changed { .. }) => "error changed",
        Err(HostKeyError::Revoked { .. }) => "error revoked",
    };
    let table = [
        (Strict, Verdict::Match, "nothing"),
        (AcceptNew, Verdict::Match, "nothing"),
        (Off, Verdict::Match, "nothing"),
        (Strict, Verdict::Unknown, "error unknown"),
        (AcceptNew, Verdict::Unknown, "append"),
        (Off, Verdict::Unknown, "nothing"),
        (Strict, changed(), "error changed"),
        (AcceptNew, changed(), "error changed"),
        (Off, changed(), "warn"),
        (Strict, revoked.clone(), "error revoked"),
        (AcceptNew, revoked.clone(), "error revoked"),
        (Off, revoked, "error revoked"),
    ];
    for (policy, verdict, expected) in table {
        assert_eq!(
            outcome(policy, &verdict),
            expected,
            "{policy:?} {verdict:?}"
        );
    }
}

#[test]
fn changed_error_says_what_changed_and_how_to_fix_it() {
    let error = decide(HostKeyPolicy::Strict, &changed(), &OFFERED).expect_err("changed");
    let text = error.to_string();
    for needle in [
        "REMOTE HOST IDENTIFICATION HAS CHANGED for [127.0.0.1]:2222",
        &format!("offered ssh-ed25519 key {ED_A_FINGERPRINT}"),
        &format!(
            "ssh-ed25519 {} at /root/.ssh/known_hosts:2",
            fingerprint_sha256(ED_B)
        ),
        "man-in-the-middle",
        "ssh-keygen -R '[127.0.0.1]:2222' -f /root/.ssh/known_hosts",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }

    let warning = match decide(HostKeyPolicy::Off, &changed(), &OFFERED) {
        Ok(Learn::Warn(warning)) => warning,
        other => panic!("expected a warning, got {other:?}"),
    };
    assert!(
        warning.contains("[127.0.0.1]:2222") && warning.contains(ED_A_FINGERPRINT),
        "{warning}"
    );
}

#[test]
fn unknown_and_revoked_errors_explain_themselves() {
    let text = decide(HostKeyPolicy::Strict, &Verdict::Unknown, &OFFERED)
        .expect_err("unknown")
        .to_string();
    for needle in [
        "host key verification failed for [127.0.0.1]:2222: no ssh-ed25519 host key is known",
        ED_A_FINGERPRINT,
        "ssh-keyscan -p 2222 -t ssh-ed25519 127.0.0.1 >> ~/.ssh/known_hosts",
        "accept-new",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let revoked = Verdict::Revoked {
        file: "/etc/ssh/ssh_known_hosts".into(),
        line: 3,
    };
    let text = decide(HostKeyPolicy::Off, &revoked, &OFFERED)
        .expect_err("revoked")
        .to_string();
    assert!(
        text.contains("REVOKED")
            && text.contains("/etc/ssh/ssh_known_hosts:3")
            && text.contains(ED_A_FINGERPRINT),
        "{text}"
    );
}

#[test]
fn verify_learns_new_hosts_under_accept_new_then_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(".ssh/known_hosts");
    let known = KnownHosts::load(std::slice::from_ref(&file)).expect("load");
    let strict = known.verify(HostKeyPolicy::Strict, &OFFERED, &file);
    assert!(strict.is_err(), "strict accepted an unknown host");
    assert!(!file.exists(), "strict must not write");

    let note = known
        .verify(HostKeyPolicy::AcceptNew, &OFFERED, &file)
        .expect("accept-new");
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("Permanently added '[127.0.0.1]:2222'")),
        "{note:?}"
    );
    let known = KnownHosts::load(std::slice::from_ref(&file)).expect("reload");
    assert_eq!(
        known
            .verify(HostKeyPolicy::Strict, &OFFERED, &file)
            .expect("match"),
        None
    );

    // A different key for the same host now fails even under accept-new.
    let other = Offered {
        key_base64: ED_B,
        ..OFFERED
    };
    let error = known
        .verify(HostKeyPolicy::AcceptNew, &other, &file)
        .expect_err("changed");
    assert!(error.to_string().contains("HAS CHANGED"), "{error}");
}
