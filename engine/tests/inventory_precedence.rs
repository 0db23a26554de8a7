//! Inventory variable precedence, table-driven: each layer sets `v` to its own name; with the first N layers
//! present, layer N must win. The order is Ansible's (playbooks_variables.rst, VariableManager.get_vars).

use engine::inventory::Inventory;
use serde_json::json;
use std::path::Path;

/// Where a layer writes `v: <layer name>`.
#[derive(Clone, Copy)]
enum Layer {
    /// A line in the INI inventory, in the given section.
    Ini(&'static str),
    /// A YAML file relative to the inventory directory.
    InventoryFile(&'static str),
    /// A YAML file relative to the playbook directory.
    PlaybookFile(&'static str),
}

const LAYERS: &[(&str, Layer)] = &[
    ("all_inventory", Layer::Ini("all:vars")),
    ("parent_inventory", Layer::Ini("parent:vars")),
    ("child_inventory", Layer::Ini("child:vars")),
    (
        "inventory_group_vars_all",
        Layer::InventoryFile("group_vars/all.yml"),
    ),
    (
        "playbook_group_vars_all",
        Layer::PlaybookFile("group_vars/all.yml"),
    ),
    (
        "inventory_group_vars_parent",
        Layer::InventoryFile("group_vars/parent.yml"),
    ),
    (
        "inventory_group_vars_child",
        Layer::InventoryFile("group_vars/child"),
    ),
    (
        "playbook_group_vars_parent",
        Layer::PlaybookFile("group_vars/parent/vars.yml"),
    ),
    (
        "playbook_group_vars_child",
        Layer::PlaybookFile("group_vars/child.yaml"),
    ),
    ("inventory_host_inline", Layer::Ini("host")),
    (
        "inventory_host_vars",
        Layer::InventoryFile("host_vars/h1.yml"),
    ),
    (
        "playbook_host_vars",
        Layer::PlaybookFile("host_vars/h1.json"),
    ),
];

fn write(path: &Path, name: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = if path.extension().is_some_and(|e| e == "json") {
        format!("{{\"v\": \"{name}\"}}")
    } else {
        format!("v: {name}\n")
    };
    std::fs::write(path, text).unwrap();
}

fn build(tmp: &Path, layers: &[(&str, Layer)]) -> Inventory {
    let inv = tmp.join("inv");
    let pb = tmp.join("pb");
    std::fs::create_dir_all(&inv).unwrap();
    std::fs::create_dir_all(&pb).unwrap();
    let inline = layers
        .iter()
        .find(|(_, l)| matches!(l, Layer::Ini("host")))
        .map(|(n, _)| *n);
    let mut ini = match inline {
        Some(name) => format!("[child]\nh1 v={name}\n[parent:children]\nchild\n"),
        None => "[child]\nh1\n[parent:children]\nchild\n".to_string(),
    };
    for (name, layer) in layers {
        match layer {
            Layer::Ini("host") => {}
            Layer::Ini(section) => ini.push_str(&format!("[{section}]\nv={name}\n")),
            Layer::InventoryFile(rel) => write(&inv.join(rel), name),
            Layer::PlaybookFile(rel) => write(&pb.join(rel), name),
        }
    }
    std::fs::write(inv.join("hosts.ini"), ini).unwrap();
    let mut inventory = Inventory::load(&[inv.join("hosts.ini").display().to_string()]).unwrap();
    inventory.add_playbook_vars_dirs(&pb).unwrap();
    inventory
}

#[test]
fn each_layer_beats_the_ones_before_it() {
    for n in 1..=LAYERS.len() {
        let tmp = tempfile::tempdir().unwrap();
        let inventory = build(tmp.path(), &LAYERS[..n]);
        let expected = LAYERS[n - 1].0;
        assert_eq!(
            inventory.host_vars("h1")["v"],
            json!(expected),
            "with {n} layers"
        );
    }
}

#[test]
fn each_layer_alone_is_seen() {
    for layer in LAYERS {
        let tmp = tempfile::tempdir().unwrap();
        let inventory = build(tmp.path(), std::slice::from_ref(layer));
        assert_eq!(inventory.host_vars("h1")["v"], json!(layer.0));
    }
}

#[test]
fn dicts_are_replaced_not_merged() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("group_vars")).unwrap();
    std::fs::create_dir_all(tmp.path().join("host_vars")).unwrap();
    std::fs::write(tmp.path().join("hosts"), "h1\n").unwrap();
    std::fs::write(tmp.path().join("group_vars/all.yml"), "d: {a: 1, b: 1}\n").unwrap();
    std::fs::write(tmp.path().join("host_vars/h1.yml"), "d: {b: 2}\n").unwrap();
    let inventory = Inventory::load(&[tmp.path().join("hosts").display().to_string()]).unwrap();
    assert_eq!(inventory.host_vars("h1")["d"], json!({"b": 2}));
}

#[test]
fn same_depth_groups_apply_by_priority_then_name() {
    let cases = [
        ("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\n[b:vars]\nv=b\n", "b"),
        ("[b]\nh1\n[a]\nh1\n[a:vars]\nv=a\n[b:vars]\nv=b\n", "b"),
        ("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\nansible_group_priority=5\n[b:vars]\nv=b\n", "a"),
        // Depth decides before priority: the deeper child wins even with a lower priority.
        ("[p:children]\nc\n[c]\nh1\n[z]\nh1\n[c:vars]\nv=c\n[z:vars]\nv=z\nansible_group_priority=99\n", "c"),
    ];
    for (ini, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("hosts"), ini).unwrap();
        let inventory = Inventory::load(&[tmp.path().join("hosts").display().to_string()]).unwrap();
        assert_eq!(inventory.host_vars("h1")["v"], json!(expected), "{ini}");
    }
}
