//! Runs the shared corpus (`tests/corpus/inventories/`, produced by a real ansible-core) through the
//! inventory: `--list` and `--graph` output byte for byte, and `patterns.txt` host patterns.
//! `PLY_CORPUS_DIR` points elsewhere (e.g. another worktree); the test is skipped when the corpus is absent.

use engine::inventory::{to_python_json, Inventory};
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PLY_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/inventories")
        });
    dir.is_dir().then_some(dir)
}

/// (inventory source, expected file stem) for every case.
fn cases(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            inner.sort();
            for file in inner {
                if matches!(
                    file.extension().and_then(|e| e.to_str()),
                    Some("ini" | "yml" | "yaml")
                ) {
                    out.push((file.clone(), file.with_extension("")));
                }
            }
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("ini" | "yml" | "yaml")
        ) {
            out.push((path.clone(), path.with_extension("")));
        }
    }
    out
}

fn compare(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    let Ok(expected) = std::fs::read_to_string(expected_path) else {
        return;
    };
    if expected.trim_end() != actual.trim_end() {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}\n",
            expected_path.display()
        ));
    }
}

#[test]
fn corpus_inventories() {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus not present; skipped");
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for (source, stem) in cases(&dir) {
        checked += 1;
        let inventory = match Inventory::load(&[source.display().to_string()]) {
            Ok(inventory) => inventory,
            Err(e) => {
                failures.push(format!("{}: {e} at {:?}", source.display(), e.location()));
                continue;
            }
        };
        let list = to_python_json(&inventory.list_json());
        compare(&stem.with_extension("list.json"), &list, &mut failures);
        compare(
            &stem.with_extension("graph.txt"),
            &inventory.graph(None).unwrap(),
            &mut failures,
        );
    }

    let patterns = dir.join("patterns.txt");
    if let Ok(text) = std::fs::read_to_string(&patterns) {
        let inventory = Inventory::load(&[dir.join("patterns.ini").display().to_string()]).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let Some((pattern, hosts)) = line.rsplit_once("=>") else {
                continue;
            };
            checked += 1;
            let expected: Vec<String> = hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect();
            match inventory.hosts_matching(pattern.trim()) {
                Ok(got) if got.hosts == expected => {}
                Ok(got) => failures.push(format!(
                    "pattern {pattern:?}: expected {expected:?}, got {:?}",
                    got.hosts
                )),
                Err(e) => failures.push(format!(
                    "pattern {pattern:?}: expected {expected:?}, got error {e}"
                )),
            }
        }
    }
    eprintln!("checked {checked} corpus inventories and patterns");
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
