//! `ply doc` output, generated from the argument specs.

#[test]
fn command_doc() {
    insta::assert_snapshot!(modules::render_doc(modules::doc("command").unwrap()));
}

#[test]
fn module_list() {
    insta::assert_snapshot!(modules::render_list());
}

#[test]
fn every_implemented_module_renders_and_is_registered() {
    for spec in modules::REGISTRY {
        if let Some(doc) = modules::doc(spec.name) {
            let page = modules::render_doc(doc);
            assert!(page.contains("EXAMPLES:"), "{}", spec.name);
            assert_eq!(doc.name, spec.name);
        }
    }
}
