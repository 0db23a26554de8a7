//! The playbook model as the executor will see it: argument forms, YAML 1.1 values, blocks, imports and roles.

use engine::playbook::{BlockOrigin, Playbook, TaskItem};
use serde_json::json;
use std::fs;
use std::path::Path;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

fn tasks(items: &[TaskItem]) -> Vec<&engine::playbook::Task> {
    let mut out = Vec::new();
    engine::playbook::each_task(items, &mut |t| out.push(t));
    out
}

#[test]
fn argument_forms_and_module_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "site.yml",
            r#"
- hosts: all
  become: yes
  gather_facts: off
  tasks:
    - ansible.builtin.lineinfile: path=/etc/x line='a = 1' create=yes
    - name: mapping form with an octal mode
      copy:
        content: hi
        dest: /tmp/x
        mode: 0644
    - command: pg_ctlcluster 15 main status chdir=/ creates=/x
    - action: file path=/tmp/d state=directory
    - community.postgresql.postgresql_query:
        query: SELECT 1
      args:
        db: postgres
"#,
        )],
    );
    let playbook = Playbook::load(&dir.path().join("site.yml")).unwrap();
    let play = &playbook.plays[0];
    assert_eq!(play.keywords.become_, Some(json!(true)));
    assert_eq!(play.gather_facts, Some(json!(false)));
    let all = tasks(&play.tasks);
    let summary: Vec<(&str, serde_json::Value)> = all
        .iter()
        .map(|t| {
            (
                t.action.module,
                serde_json::Value::Object(t.action.args.clone()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "lineinfile",
                json!({"path": "/etc/x", "line": "a = 1", "create": "yes"})
            ),
            (
                "copy",
                json!({"content": "hi", "dest": "/tmp/x", "mode": 420})
            ),
            (
                "command",
                json!({"chdir": "/", "creates": "/x", "_raw_params": "pg_ctlcluster 15 main status"})
            ),
            ("file", json!({"path": "/tmp/d", "state": "directory"})),
            (
                "postgresql_query",
                json!({"query": "SELECT 1", "db": "postgres"})
            ),
        ]
    );
    assert_eq!(all[0].display_name(), "ansible.builtin.lineinfile");
    assert_eq!(all[1].display_name(), "mapping form with an octal mode");
}

#[test]
fn blocks_loops_handlers_and_merge_keys() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "site.yml",
            r#"
- hosts: db
  vars:
    common: &common
      become: true
      tags: [pg]
  tasks:
    - name: guarded
      <<: *common
      block:
        - name: try
          command: /bin/false
          register: out
          notify: restart postgres
          loop: "{{ clusters }}"
          loop_control: {loop_var: cluster, label: "{{ cluster.name }}"}
          until: out.rc == 0
          retries: 3
          delay: 1
      rescue:
        - debug: msg=rescued
      always:
        - debug: msg=always
  handlers:
    - name: restart postgres
      service: name=postgresql state=restarted
      listen: pg changed
"#,
        )],
    );
    let playbook = Playbook::load(&dir.path().join("site.yml")).unwrap();
    let play = &playbook.plays[0];
    let TaskItem::Block(block) = &play.tasks[0] else {
        panic!("a block")
    };
    assert_eq!(block.keywords.tags, vec!["pg".to_string()]);
    assert_eq!(block.keywords.become_, Some(json!(true)));
    assert_eq!(
        (block.block.len(), block.rescue.len(), block.always.len()),
        (1, 1, 1)
    );
    let task = tasks(&block.block)[0];
    assert_eq!(task.register.as_deref(), Some("out"));
    assert_eq!(task.loop_.as_ref().unwrap().value, json!("{{ clusters }}"));
    assert_eq!(task.loop_control.as_ref().unwrap().loop_var, "cluster");
    assert_eq!(task.until[0].expr, "out.rc == 0");
    assert_eq!(task.retries, Some(json!(3)));
    assert_eq!(
        tasks(&play.handlers)[0].listen,
        vec!["pg changed".to_string()]
    );
}

#[test]
fn imports_and_roles_expand_with_their_keywords() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[
        ("site.yml", "- import_playbook: db.yml\n  tags: imported\n"),
        ("db.yml", "- hosts: db\n  roles:\n    - role: postgres\n      tags: [pg]\n      pg_port: 5433\n  tasks:\n    - import_tasks: extra.yml\n      when: run_extra\n"),
        ("extra.yml", "- debug: msg=extra\n"),
        ("roles/common/tasks/main.yml", "- name: common task\n  ping:\n"),
        ("roles/postgres/meta/main.yml", "dependencies:\n  - common\n"),
        ("roles/postgres/defaults/main.yml", "pg_port: 5432\npg_version: 15\n"),
        ("roles/postgres/vars/main.yml", "pg_service: postgresql\n"),
        ("roles/postgres/tasks/main.yml", "- name: configure\n  template: src=pg.conf.j2 dest=/etc/pg.conf\n  notify: reload\n"),
        ("roles/postgres/handlers/main.yml", "- name: reload\n  service: name=postgresql state=reloaded\n"),
    ]);
    let playbook = Playbook::load(&dir.path().join("site.yml")).unwrap();
    let play = &playbook.plays[0];
    assert_eq!(play.keywords.tags, vec!["imported".to_string()]);
    let TaskItem::Block(role_block) = &play.roles[0] else {
        panic!("roles expand to a block")
    };
    assert_eq!(role_block.origin, BlockOrigin::Role);
    assert_eq!(role_block.keywords.tags, vec!["pg".to_string()]);
    let role = role_block.role.as_ref().unwrap();
    assert_eq!(
        (
            role.name.as_str(),
            &role.defaults["pg_version"],
            &role.vars["pg_service"],
            &role.params["pg_port"]
        ),
        ("postgres", &json!(15), &json!("postgresql"), &json!(5433))
    );
    let names: Vec<String> = tasks(&play.roles)
        .iter()
        .map(|t| t.display_name())
        .collect();
    assert_eq!(names, vec!["common : common task", "postgres : configure"]);
    let TaskItem::Block(import) = &play.tasks[0] else {
        panic!("imports expand to a block")
    };
    assert!(matches!(import.origin, BlockOrigin::ImportTasks(_)));
    assert_eq!(import.when[0].expr, "run_extra");
    assert_eq!(tasks(&play.handlers)[0].display_name(), "postgres : reload");
}
