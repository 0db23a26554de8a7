//! The bundled replication playbooks refuse bad input before any host is touched: inventories without the
//! cluster's groups, mistyped variables, values PostgreSQL would reject. Hermetic: every host of these
//! inventories is 127.0.0.1 on port 1, so the first task that would reach a host finds it refused
//! (exit 4) instead of touching anything; a case that must stop earlier exits 2 with its message.

use ply_tests::{workspace_root, Ply};
use std::fs;

/// A cluster of three nodes that no task can reach.
const CLUSTER: &str = "\
[primary]
db1 ansible_host=127.0.0.1 ansible_port=1

[standbys]
db2 ansible_host=127.0.0.1 ansible_port=1
db3 ansible_host=127.0.0.1 ansible_port=1
";

struct Case {
    name: &'static str,
    /// The inventory file's text.
    inventory: &'static str,
    args: &'static [&'static str],
    /// 2: stopped by the checks; 4: the checks passed and the first host task found the host refused.
    code: i32,
    /// Every one of these is in stdout.
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "no standby",
        inventory: "[primary]\npg1 ansible_host=127.0.0.1 ansible_port=1\n[standbys]\n",
        args: &[],
        code: 2,
        says: &["group 'standbys' must hold one or more hosts"],
    },
    Case {
        name: "two primaries",
        inventory: "[primary]\npg1 ansible_host=127.0.0.1 ansible_port=1\npg2 ansible_host=127.0.0.1 ansible_port=1\n[standbys]\npg3 ansible_host=127.0.0.1 ansible_port=1\n",
        args: &[],
        code: 2,
        says: &["group 'primary' must hold exactly one host (it holds 2: pg1, pg2)"],
    },
    Case {
        name: "an unknown base backup method",
        inventory: CLUSTER,
        args: &["-e", "base_backup_method=tar"],
        code: 2,
        says: &[r#"base_backup_method is \"tar\" (str): expected pg_basebackup or rsync"#],
    },
    Case {
        name: "master/slave are read as primary/standbys, with a note",
        inventory: "[master]\npg1 ansible_host=127.0.0.1 ansible_port=1\n[slave]\npg2 ansible_host=127.0.0.1 ansible_port=1\n",
        args: &[],
        code: 4,
        says: &["groups 'master'/'slave' are read as 'primary'/'standbys'"],
    },
    Case {
        name: "the example inventory's hint, quoted, is a string: refused with the INI form to write",
        inventory: "[primary]\ndb1 ansible_host=127.0.0.1 ansible_port=1\n[standbys]\ndb2 ansible_host=127.0.0.1 ansible_port=1\ndb3 ansible_host=127.0.0.1 ansible_port=1\n[all:vars]\nsynchronous_standbys='[\"db3\"]'\n",
        args: &[],
        code: 2,
        says: &[
            r#"synchronous_standbys is \"[\\\"db3\\\"]\" (str): expected a list of host names"#,
            r#"in an INI file synchronous_standbys=[\"db3\"] (no quotes around the brackets)"#,
            "nothing was changed",
        ],
    },
    Case {
        name: "a synchronous standby that is not in the inventory",
        inventory: CLUSTER,
        args: &["-e", r#"{"synchronous_standbys": ["db4"]}"#],
        code: 2,
        says: &["expected a list of the cluster's hosts (db1, db2, db3); db4 is not one of them"],
    },
    Case {
        name: "ports are ports, booleans are booleans, sizes are sizes; every wrong one is named",
        inventory: CLUSTER,
        args: &[
            "-e",
            "pg_port=70000",
            "-e",
            "pg_ssl=maybe",
            "-e",
            "pg_shared_buffers=lots",
            "-e",
            "pg_ssh_port=ssh",
        ],
        code: 2,
        says: &[
            r#"pg_port is \"70000\" (str): expected a TCP port, 1 to 65535"#,
            r#"pg_ssl is \"maybe\" (str): expected true or false"#,
            r#"pg_shared_buffers is \"lots\" (str): expected a size such as 128MB or 4GB"#,
            r#"pg_ssh_port is \"ssh\" (str): expected a TCP port, 1 to 65535"#,
        ],
    },
    Case {
        name: "a value PostgreSQL would refuse at start is caught before any restart",
        inventory: CLUSTER,
        args: &["-e", "pg_max_connections=99999999"],
        code: 2,
        says: &["pg_max_connections is \\\"99999999\\\" (str): expected a whole number from 1 to 262143"],
    },
    Case {
        name: "more synchronous standbys required than listed",
        inventory: CLUSTER,
        args: &[
            "-e",
            r#"{"synchronous_standbys": ["db2"], "synchronous_standby_count": 2}"#,
        ],
        code: 2,
        says: &["synchronous_standby_count is 2 (int): expected a whole number from 1 to the number of synchronous_standbys"],
    },
    Case {
        name: "paths must be absolute",
        inventory: CLUSTER,
        args: &["-e", "pg_data_dir=data/main"],
        code: 2,
        says: &[r#"pg_data_dir is \"data/main\" (str): expected an absolute path without quotes"#],
    },
    Case {
        name: "an inventory without the cluster's groups is refused, naming them",
        inventory: "[web]\nw1 ansible_host=127.0.0.1 ansible_port=1\n",
        args: &[],
        code: 2,
        says: &["has no group 'primary' and 'standbys': the replication playbooks need [primary]"],
    },
    Case {
        name: "a missing standbys group is named alone",
        inventory: "[primary]\ndb1 ansible_host=127.0.0.1 ansible_port=1\n",
        args: &[],
        code: 2,
        says: &["has no group 'standbys':"],
    },
    Case {
        name: "the example inventory's hint as written passes the checks",
        inventory: "[primary]\ndb1 ansible_host=127.0.0.1 ansible_port=1\n[standbys]\ndb2 ansible_host=127.0.0.1 ansible_port=1\ndb3 ansible_host=127.0.0.1 ansible_port=1\n[all:vars]\nsynchronous_standbys=[\"db3\"]\n",
        args: &[],
        code: 4,
        says: &["TASK [postgresql_replication : Check the variables]", "ok: [db3]"],
    },
];

fn run(playbook: &str, inventory: &str, args: &[&str]) -> ply_tests::Outcome {
    run_with_password(playbook, inventory, args, true)
}

fn run_with_password(
    playbook: &str,
    inventory: &str,
    args: &[&str],
    with_password: bool,
) -> ply_tests::Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hosts.ini");
    fs::write(&path, inventory).expect("write inventory");
    Ply::new()
        .args(["run", &format!("playbooks/{playbook}"), "-i"])
        .arg(path.to_string_lossy())
        .args(if with_password {
            &["-e", "replication_password=not-a-real-password"][..]
        } else {
            &[]
        })
        .args(args)
        .current_dir(workspace_root())
        .run()
}

#[test]
fn replication_yml_checks_its_input_before_touching_a_host() {
    for case in CASES {
        let outcome = run("replication.yml", case.inventory, case.args);
        let stdout = outcome.stdout.clone();
        let outcome = outcome.code(case.code);
        for needle in case.says {
            assert!(
                stdout.contains(needle),
                "{}: stdout lacks {needle:?}:\n{stdout}",
                case.name
            );
        }
        if case.code == 2 {
            // Stopped by the checks: not one task ran on a host.
            assert!(
                !stdout.contains("UNREACHABLE"),
                "{}: a host was contacted:\n{stdout}",
                case.name
            );
        }
        assert!(
            !outcome
                .stdout
                .contains("replication_password=not-a-real-password")
                && !outcome.stdout.contains("not-a-real-password")
                && !outcome.stderr.contains("not-a-real-password"),
            "{}: the password was printed",
            case.name
        );
    }
}

#[test]
fn the_password_is_required() {
    run_with_password("replication.yml", CLUSTER, &[], false)
        .code(2)
        .stdout_has("replication_password is required");
    run(
        "replication.yml",
        CLUSTER,
        &["-e", r#"{"replication_password": ""}"#],
    )
    .code(2)
    .stdout_has("replication_password is required");
}

#[test]
fn every_bundled_playbook_refuses_an_inventory_without_the_groups() {
    for playbook in [
        "replication.yml",
        "failover.yml",
        "rejoin.yml",
        "status.yml",
    ] {
        run(
            playbook,
            "[web]\nw1 ansible_host=127.0.0.1 ansible_port=1\n",
            &[],
        )
        .code(2)
        .stdout_has("has no group 'primary' and 'standbys'");
    }
}

#[test]
fn legacy_group_names_warn_only_when_used() {
    let modern = run("replication.yml", CLUSTER, &[]).code(4);
    assert!(
        !modern
            .stderr
            .contains("Could not match supplied host pattern"),
        "{}",
        modern.stderr
    );
    assert!(!modern.stdout.contains("groups 'master'/'slave'"));

    let legacy = CLUSTER
        .replace("[primary]", "[master]")
        .replace("[standbys]", "[slave]");
    let legacy = run("replication.yml", &legacy, &[]).code(4);
    assert!(
        !legacy
            .stderr
            .contains("Could not match supplied host pattern"),
        "{}",
        legacy.stderr
    );
    assert!(
        legacy
            .stdout
            .contains("groups 'master'/'slave' are read as 'primary'/'standbys'"),
        "{}",
        legacy.stdout
    );
}

#[test]
fn a_mistyped_inventory_path_warns_as_ansible_does() {
    for extra in [None, Some("--syntax-check")] {
        let outcome = Ply::new()
            .args(["run", "playbooks/hello.yml", "-i", "no-such-inventory.ini"])
            .args(extra)
            .current_dir(workspace_root())
            .run()
            .success();
        // Warnings wrap at the terminal width (80 without one), as Ansible's do.
        let stderr = outcome.stderr.replace('\n', " ");
        for warning in [
            "[WARNING]: Unable to parse",
            "no-such-inventory.ini as an inventory source",
            "[WARNING]: No inventory was parsed, only implicit localhost is available",
            "[WARNING]: provided hosts list is empty, only localhost is available.",
        ] {
            assert!(
                stderr.contains(warning),
                "{extra:?}: no {warning:?} in {stderr}"
            );
        }
    }
}

#[test]
fn the_example_inventory_passes_the_checks_with_its_hint_uncommented() {
    // inventories/example.ini as shipped, its synchronous_standbys hint uncommented and its addresses
    // replaced by ones nothing answers on (tests never send traffic beyond loopback).
    let example = fs::read_to_string(workspace_root().join("inventories/example.ini")).unwrap();
    let hint = example
        .lines()
        .find(|l| l.trim_start().starts_with("# synchronous_standbys="))
        .expect("example.ini has the synchronous_standbys hint");
    let inventory = example
        .replace(hint, hint.trim_start().trim_start_matches("# "))
        .replace(
            "ansible_host=10.20.0.11",
            "ansible_host=127.0.0.1 ansible_port=1",
        )
        .replace(
            "ansible_host=10.20.0.12",
            "ansible_host=127.0.0.1 ansible_port=1",
        )
        .replace(
            "ansible_host=10.20.0.13",
            "ansible_host=127.0.0.1 ansible_port=1",
        );
    assert!(!inventory.contains("10.20."), "every address replaced");
    let outcome = run("replication.yml", &inventory, &[]).code(4);
    assert!(
        outcome
            .stdout
            .contains("TASK [postgresql_replication : Check the variables]")
            && !outcome.stdout.contains("FAILED"),
        "{}",
        outcome.stdout
    );
}
