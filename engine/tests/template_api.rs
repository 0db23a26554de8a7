//! Unit-level checks of the public templating API: native types from `template_value`,
//! conditionals, syntax checking and the small helpers.

use engine::template::{is_templated, omit_token, Templar, TemplarOptions, VarMap};
use serde_json::json;

fn vars(value: serde_json::Value) -> VarMap {
    match value {
        serde_json::Value::Object(map) => map,
        _ => panic!("vars must be an object"),
    }
}

fn templar() -> Templar {
    Templar::new(TemplarOptions::default())
}

#[test]
fn template_value_keeps_native_types() {
    let t = templar();
    let v = vars(
        json!({"ports": [80, 443], "port": 8080, "ratio": 0.5, "on": true, "cfg": {"a": "{{ port }}"}}),
    );
    let cases = [
        (json!("{{ ports }}"), json!([80, 443])),
        (json!("{{ 3 }}"), json!(3)),
        (json!("  {{ port + 1 }} "), json!(8081)),
        // A newline is text (a YAML block scalar's last line break survives), so this is a string.
        (json!("{{ port }}\n"), json!("8080\n")),
        (json!("{{ ratio }}"), json!(0.5)),
        (json!("{{ on }}"), json!(true)),
        (json!("{{ none }}"), json!(null)),
        (json!("{{ cfg }}"), json!({"a": 8080})),
        (json!("{{ '3' }}"), json!("3")),
        (json!("port {{ port }}"), json!("port 8080")),
        (json!("{{ port }}{{ port }}"), json!("80808080")),
        (json!("plain"), json!("plain")),
        (json!(42), json!(42)),
        (
            json!({"list": ["{{ port }}", "x"], "{{ 'k' ~ port }}": {"deep": "{{ ports | length }}"}}),
            json!({"list": [8080, "x"], "k8080": {"deep": 2}}),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            t.template_value(&input, &v).unwrap(),
            expected,
            "input {input}"
        );
    }
}

#[test]
fn template_value_leaves_untemplated_values_alone() {
    let t = templar();
    let input = json!({"a": [1, "two", {"three": null}]});
    assert_eq!(t.template_value(&input, &VarMap::new()).unwrap(), input);
}

#[test]
fn omit_survives_native_evaluation() {
    let t = templar();
    let out = t
        .template_value(
            &json!({"mode": "{{ mode | default(omit) }}"}),
            &VarMap::new(),
        )
        .unwrap();
    assert_eq!(out, json!({"mode": omit_token()}));
}

#[test]
fn eval_condition_follows_ansible() {
    let t = templar();
    let v = vars(json!({
        "a": 1, "b": "", "flag": "yes", "result": {"rc": 0, "changed": true},
        "ver": "{{ '1.2.10' }}", "items": [1, 2]
    }));
    let cases = [
        ("a == 1", true),
        ("{{ a == 1 }}", true),
        ("a == 1 and b", false),
        ("flag | bool", true),
        ("result is changed", true),
        ("result.rc != 0", false),
        ("missing is defined", false),
        ("missing is undefined", true),
        ("missing.x is defined", false),
        ("missing | default(true)", true),
        ("ver is version('1.2.9', '>')", true),
        ("2 in items", true),
        ("items | length > 1", true),
        ("", true),
    ];
    for (expr, expected) in cases {
        assert_eq!(
            t.eval_condition(expr, &v).unwrap(),
            expected,
            "condition {expr:?}"
        );
    }
}

#[test]
fn eval_condition_errors_name_the_variable() {
    let t = templar();
    let v = vars(json!({"a": 1}));
    for expr in [
        "missing",
        "not missing",
        "a == 1 and missing",
        "missing == 1",
    ] {
        let err = t.eval_condition(expr, &v).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'missing' is undefined",
            "condition {expr:?}"
        );
    }
}

#[test]
fn eval_expr_returns_native_values() {
    let t = templar();
    let v = vars(json!({"users": [{"name": "a"}, {"name": "b"}]}));
    assert_eq!(
        t.eval_expr("users | map(attribute='name') | list", &v)
            .unwrap(),
        json!(["a", "b"])
    );
    assert_eq!(t.eval_expr("{{ users | length }}", &v).unwrap(), json!(2));
    assert_eq!(
        t.eval_expr("nope", &v).unwrap_err().to_string(),
        "'nope' is undefined"
    );
}

#[test]
fn check_syntax_reports_problems() {
    let t = templar();
    assert!(t.check_syntax("{{ a }} {% if b %}x{% endif %}").is_ok());
    assert!(t.check_syntax("{{ missing_var_is_fine_here }}").is_ok());
    let err = t.check_syntax("{% if x %}").unwrap_err().to_string();
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn render_str_keeps_trailing_newlines_and_trims_blocks() {
    let t = templar();
    let v = vars(json!({"xs": [1, 2]}));
    assert_eq!(t.render_str("a\n", &v).unwrap(), "a\n");
    assert_eq!(t.render_str("a\n\n", &v).unwrap(), "a\n\n");
    assert_eq!(
        t.render_str("{% for x in xs %}\n{{ x }}\n{% endfor %}\n", &v)
            .unwrap(),
        "1\n2\n"
    );
}

#[test]
fn is_templated_detects_all_delimiters() {
    assert!(is_templated("{{ x }}"));
    assert!(is_templated("a {% if %}"));
    assert!(is_templated("{# c #}"));
    assert!(!is_templated("plain { text } with braces"));
    assert!(!is_templated(""));
}

#[test]
fn lazy_variables_are_resolved_per_call() {
    let t = templar();
    let mut v = vars(json!({"a": 1, "b": "{{ a + 1 }}"}));
    assert_eq!(t.eval_expr("b", &v).unwrap(), json!(2));
    v.insert("a".into(), json!(10));
    assert_eq!(t.eval_expr("b", &v).unwrap(), json!(11));
}
