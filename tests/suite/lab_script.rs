//! The lab script itself (tests/lab/lab), run for real on bookworm: what `up` and `add` print on stdout
//! (the host lines, nothing else), what `down` says, and that a failed `up` leaves nothing behind.
//! Each test uses a lab name of its own, so they run side by side with each other and the other labs.
//! They need root, Docker and deb.debian.org, so this target is built only with `--features lab-tests`
//! (tests/run turns it on); the parsing of the host lines is unit-tested in src/lab.rs.

use ply_tests::lab::{host_lines, Lab};
use ply_tests::{tests_dir, workspace_root};
use std::path::PathBuf;
use std::process::{Command, Output};

fn lab(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("bash")
        .arg(tests_dir().join("lab/lab"))
        .args(args)
        .env("PLY_LAB_NAME", name)
        .env_remove("PLY_LAB_FAIL_AFTER")
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .output()
        .expect("bash runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn inventory(name: &str) -> PathBuf {
    workspace_root().join(format!("inventories/{name}/hosts.ini"))
}

/// The lab's containers, from Docker itself.
fn containers(name: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=ply-lab={name}")])
        .args(["--format", "{{.Names}}"])
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker ps: {}",
        text(&output.stderr)
    );
    let mut names: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    names.sort();
    names
}

fn network_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["network", "inspect", &format!("ply-{name}")])
        .output()
        .expect("docker runs")
        .status
        .success()
}

/// The host names of one `[group]` of an INI inventory.
fn group(inventory: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    inventory
        .lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The address in stdout, which must be exactly the host line of ply-NAME-K.
#[track_caller]
fn one_host_line(output: &Output, name: &str, k: u32) -> String {
    let stdout = text(&output.stdout);
    let host = format!("ply-{name}-{k}");
    let lines = host_lines(name, &stdout);
    assert_eq!(lines.len(), 1, "stdout: {stdout:?}");
    assert_eq!(lines[0].0, host);
    // exactly the host line: no progress, no docker or debootstrap output
    assert_eq!(stdout, format!("{host} {}\n", lines[0].1));
    lines[0].1.clone()
}

/// up prints exactly its host line; add starts ply-NAME-2 as a standby (keeping the recorded topology)
/// and prints its line; down says what it removed, a second down that there was nothing.
#[test]
fn up_add_status_down_say_what_they_did() {
    let name = "labscript";
    // A lab left by an interrupted earlier run of this test.
    lab(name, &["down"], &[]);

    let up = lab(name, &["up", "1", "bookworm"], &[]);
    succeeded(&up, "lab up 1 bookworm");
    let address = one_host_line(&up, name, 1);
    // From here on a panic removes the lab (Lab's drop runs `lab down`).
    let mut handle = Lab {
        name: name.to_string(),
        suite: "bookworm".to_string(),
        hosts: vec![(format!("ply-{name}-1"), address)],
        inventory: inventory(name),
    };
    assert!(text(&up.stderr).contains(&format!(
        "lab: up: 1 host(s), bookworm; inventory inventories/{name}/hosts.ini"
    )));
    let written = std::fs::read_to_string(inventory(name)).expect("up writes the inventory");
    assert_eq!(group(&written, "primary"), [format!("ply-{name}-1")]);
    assert_eq!(group(&written, "standbys"), Vec::<String>::new());

    // add keeps what failover.yml recorded beside the inventory
    let topology =
        workspace_root().join(format!("inventories/{name}/group_vars/all/pg_topology.yml"));
    std::fs::create_dir_all(topology.parent().expect("parent")).expect("group_vars/all");
    std::fs::write(&topology, "pg_primary_host: ply-labscript-1\n").expect("write topology");

    let add = lab(name, &["add", "1"], &[]);
    succeeded(&add, "lab add 1");
    let added = one_host_line(&add, name, 2);
    let written = std::fs::read_to_string(inventory(name)).expect("the inventory");
    assert_eq!(
        group(&written, "primary"),
        [format!("ply-{name}-1")],
        "{written}"
    );
    assert_eq!(
        group(&written, "standbys"),
        [format!("ply-{name}-2")],
        "{written}"
    );
    assert!(
        written.contains(&format!("ply-{name}-2 ansible_host={added}\n")),
        "{written}"
    );
    assert!(topology.is_file(), "add removed pg_topology.yml");
    handle.hosts.push((format!("ply-{name}-2"), added));

    // Lab::add: the next number, reachable over ssh with the lab's key and known_hosts
    let more = handle.add(1);
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].0, format!("ply-{name}-3"));
    assert_eq!(handle.hosts.len(), 3);
    assert_eq!(handle.sh_ok(&more[0].0, "hostname"), more[0].0);
    let written = std::fs::read_to_string(inventory(name)).expect("the inventory");
    assert_eq!(
        group(&written, "standbys"),
        [format!("ply-{name}-2"), format!("ply-{name}-3")]
    );
    let hosts = std::fs::read_to_string(tests_dir().join(format!("lab/.state/{name}/hosts")))
        .expect("hosts");
    assert_eq!(hosts.lines().count(), 3, "{hosts}");

    let status = lab(name, &["status"], &[]);
    succeeded(&status, "lab status");
    for (host, address) in &handle.hosts {
        assert!(
            text(&status.stdout).contains(&format!("{host} {address} ssh ok")),
            "{}",
            text(&status.stdout)
        );
    }

    let down = lab(name, &["down"], &[]);
    succeeded(&down, "lab down");
    assert_eq!(text(&down.stdout), "");
    assert_eq!(
        text(&down.stderr).trim(),
        format!(
            "lab: removed 3 container(s) (ply-{name}-1 ply-{name}-2 ply-{name}-3), network ply-{name} \
             and inventory inventories/{name}/hosts.ini"
        )
    );
    assert_eq!(containers(name), Vec::<String>::new());
    assert!(!network_exists(name));
    assert!(!inventory(name).exists() && !topology.exists());

    let again = lab(name, &["down"], &[]);
    succeeded(&again, "second lab down");
    assert_eq!(
        text(&again.stderr).trim(),
        format!("lab: nothing to remove for lab '{name}'")
    );
    drop(handle);
}

/// A failed `up`, wherever it fails, leaves no container, no network and no inventory; so does an
/// unknown suite, and Lab::up panics only after `lab down`.
#[test]
fn failed_up_leaves_nothing_behind() {
    let name = "labfail";
    // Docker itself answers the "nothing left" checks: start it (and build the image the failing `up`s
    // use) the way every lab command does, so this test does not depend on another having done it.
    succeeded(
        &lab(name, &["image", "bookworm"], &[]),
        "lab image bookworm",
    );
    lab(name, &["down"], &[]);
    let nothing_left = |what: &str| {
        assert_eq!(containers(name), Vec::<String>::new(), "{what}");
        assert!(!network_exists(name), "{what} left the network");
        assert!(!inventory(name).exists(), "{what} left the inventory");
    };

    let unknown = lab(name, &["up", "2", "sid"], &[]);
    assert!(!unknown.status.success());
    assert_eq!(text(&unknown.stdout), "");
    assert!(
        text(&unknown.stderr).contains("unknown suite 'sid'"),
        "{}",
        text(&unknown.stderr)
    );
    nothing_left("an unknown suite");

    for step in ["network", "containers", "inventory"] {
        let failed = lab(
            name,
            &["up", "2", "bookworm"],
            &[("PLY_LAB_FAIL_AFTER", step)],
        );
        let stderr = text(&failed.stderr);
        assert_eq!(failed.status.code(), Some(1), "{stderr}");
        assert_eq!(text(&failed.stdout), "", "a failed up printed host lines");
        assert!(
            stderr.contains(&format!("failing on purpose after '{step}'")),
            "{stderr}"
        );
        assert!(
            stderr.contains("up failed (exit 1); removing what it created"),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("network ply-{name}")), "{stderr}");
        nothing_left(&format!("PLY_LAB_FAIL_AFTER={step}"));
    }

    let add = lab(name, &["add"], &[]);
    assert!(!add.status.success());
    assert!(
        text(&add.stderr).contains(&format!("there is no lab '{name}' to add to")),
        "{}",
        text(&add.stderr)
    );

    let panicked = std::panic::catch_unwind(|| Lab::up(name, "sid", 1));
    let message = panicked.err().expect("Lab::up of an unknown suite panics");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("unknown suite 'sid'"), "{message}");
    assert!(
        message.contains(&format!("nothing to remove for lab '{name}'")),
        "{message}"
    );
    nothing_left("Lab::up");
}
