//! Golden tests for the postgresql_replication role's templates: every template rendered for every
//! supported PostgreSQL major with the role defaults plus `tests/pg-templates/vars.yml`, compared
//! with `tests/pg-templates/expected/<version>/<file>`. `PLY_BLESS=1` writes missing or changed
//! golden files; review them against the version table in the replication reference.

use std::fs;
use std::path::{Path, PathBuf};

use engine::template::{Templar, TemplarOptions};
use engine::vars::VarMap;
use ply_tests::{tests_dir, workspace_root};

const VERSIONS: [&str; 9] = ["9.6", "10", "11", "12", "13", "14", "15", "16", "17"];

fn role_dir() -> PathBuf {
    workspace_root().join("playbooks/roles/postgresql_replication")
}

fn yaml_map(path: &Path) -> VarMap {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: serde_json::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("{}: not a mapping: {other}", path.display()),
    }
}

/// The files a host of `version` gets: recovery.conf up to 11, standby.conf (conf.d) from 12.
fn templates_for(version: &str) -> Vec<&'static str> {
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    let mut files = vec![
        "postgresql.conf",
        "pg_hba.conf",
        "pgpass",
        "archive_wal.sh",
        "ssh_config",
    ];
    files.push(if major >= 12 {
        "standby.conf"
    } else {
        "recovery.conf"
    });
    files
}

fn render_all(version: &str) -> Vec<(&'static str, String)> {
    let role = role_dir();
    let mut vars = yaml_map(&role.join("defaults/main.yml"));
    vars.extend(yaml_map(&tests_dir().join("pg-templates/vars.yml")));
    vars.insert("pg_version".into(), version.into());
    let templar = Templar::new(TemplarOptions {
        search_path: vec![role.clone()],
    });
    templates_for(version)
        .into_iter()
        .map(|file| {
            let path = role.join("templates").join(format!("{file}.j2"));
            let source = fs::read_to_string(&path).expect("template");
            let out = templar
                .render_str(&source, &vars)
                .unwrap_or_else(|e| panic!("{} for {version}: {e}", path.display()));
            (file, out)
        })
        .collect()
}

#[test]
fn templates_match_golden_files_for_every_version() {
    let bless = std::env::var_os("PLY_BLESS").is_some();
    let mut mismatches = Vec::new();
    for version in VERSIONS {
        let dir = tests_dir().join("pg-templates/expected").join(version);
        for (file, output) in render_all(version) {
            let golden = dir.join(file);
            let expected = fs::read_to_string(&golden).ok();
            if expected.as_deref() == Some(output.as_str()) {
                continue;
            }
            if bless {
                fs::create_dir_all(&dir).expect("golden dir");
                fs::write(&golden, &output).expect("write golden");
            } else {
                mismatches.push(format!(
                    "{}: differs\n--- got:\n{output}\n--- expected:\n{}",
                    golden.display(),
                    expected.unwrap_or_default()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn setting<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    conf.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// The reference's version gates (§15), checked independently of the golden files.
#[test]
fn version_gates_hold() {
    for version in VERSIONS {
        let major: u32 = version.split('.').next().unwrap().parse().unwrap();
        let files = render_all(version);
        let get = |name: &str| {
            files
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, s)| s.as_str())
        };
        let conf = get("postgresql.conf").unwrap();
        assert_eq!(setting(conf, "wal_level"), Some("replica"), "{version}");
        assert_eq!(setting(conf, "wal_log_hints"), Some("on"), "{version}");
        assert_eq!(setting(conf, "hot_standby"), Some("on"), "{version}");
        assert_eq!(setting(conf, "include_dir"), Some("'conf.d'"), "{version}");
        assert_eq!(
            setting(conf, "wal_keep_segments").is_some(),
            major < 13,
            "{version}"
        );
        assert_eq!(
            setting(conf, "wal_keep_size").is_some(),
            major >= 13,
            "{version}"
        );
        assert!(setting(conf, "archive_library").is_none(), "{version}");
        let hba = get("pg_hba.conf").unwrap();
        let method = if major >= 14 { "scram-sha-256" } else { "md5" };
        assert!(
            hba.lines()
                .any(|l| l.starts_with("host    replication     rep") && l.ends_with(method)),
            "{version}: {hba}"
        );
        assert!(
            !hba.contains(if major >= 14 { "md5" } else { "scram" }),
            "{version}"
        );
        let all: String = files.iter().map(|(_, s)| s.as_str()).collect();
        assert!(
            !all.contains("reppass") && !all.contains("password="),
            "{version}"
        );
        if major >= 10 {
            assert!(!all.contains("xlog"), "{version}");
        }
        if major >= 12 {
            assert!(get("recovery.conf").is_none());
            let standby = get("standby.conf").unwrap();
            assert!(!standby.contains("standby_mode") && !standby.contains("trigger_file =="));
            assert_eq!(
                setting(standby, "recovery_target_timeline"),
                Some("'latest'")
            );
            assert_eq!(
                setting(standby, "promote_trigger_file").is_some(),
                major < 16,
                "{version}"
            );
            assert!(setting(standby, "trigger_file").is_none());
        } else {
            let recovery = get("recovery.conf").unwrap();
            assert_eq!(setting(recovery, "standby_mode"), Some("'on'"));
            assert!(setting(recovery, "trigger_file").is_some());
            assert!(setting(recovery, "promote_trigger_file").is_none());
        }
    }
}

#[test]
fn pgpass_escapes_the_password() {
    let files = render_all("17");
    let pgpass = &files.iter().find(|(f, _)| *f == "pgpass").unwrap().1;
    assert!(
        pgpass.contains("10.0.0.10:5432:*:rep:s3cr\\:t\\\\pw\n"),
        "{pgpass}"
    );
}

#[test]
fn archive_script_is_valid_shell() {
    let files = render_all("15");
    let script = &files
        .iter()
        .find(|(f, _)| *f == "archive_wal.sh")
        .unwrap()
        .1;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive_wal.sh");
    fs::write(&path, script).expect("write");
    let status = std::process::Command::new("sh")
        .arg("-n")
        .arg(&path)
        .status()
        .expect("sh");
    assert!(status.success(), "sh -n failed:\n{script}");
    // Argument checks run before any ssh: wrong usage and unsafe names exit 2.
    for args in [
        vec![],
        vec!["/nonexistent", "../x"],
        vec!["/nonexistent", "0001"],
    ] {
        let out = std::process::Command::new("sh")
            .arg(&path)
            .args(&args)
            .output()
            .expect("sh");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn role_defaults_declare_every_documented_variable() {
    // Every variable the issue lists has a default, except the required password.
    let defaults = yaml_map(&role_dir().join("defaults/main.yml"));
    for key in [
        "pg_version",
        "pg_cluster",
        "pg_port",
        "replication_user",
        "base_backup_method",
        "wal_archive",
        "wal_archive_dir",
        "replication_slots",
        "synchronous_standbys",
        "config_mode",
        "pg_data_dir",
        "pg_conf_dir",
    ] {
        assert!(defaults.contains_key(key), "{key}");
    }
    assert!(!defaults.contains_key("replication_password"));
}
