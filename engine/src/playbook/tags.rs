//! Tag selection with `--tags`/`--skip-tags`, as Ansible's `Taggable.evaluate_tags` decides it.

use std::collections::BTreeSet;

/// Does an object with these (inherited) tags run under the selected and skipped tags?
pub fn should_run(tags: &BTreeSet<String>, only: &[String], skip: &[String]) -> bool {
    let untagged: BTreeSet<String> = ["untagged".to_string()].into();
    let tags = if tags.is_empty() { &untagged } else { tags };
    let has = |list: &[String], tag: &str| list.iter().any(|t| t == tag);
    let intersects = |list: &[String]| list.iter().any(|t| tags.contains(t));
    let mut run = true;
    if !only.is_empty() {
        run = tags.contains("always")
            || (has(only, "all") && !tags.contains("never"))
            || intersects(only)
            || (has(only, "tagged") && *tags != untagged && !tags.contains("never"));
    }
    if run && !skip.is_empty() {
        if has(skip, "all") {
            if !tags.contains("always") || has(skip, "always") {
                run = false;
            }
        } else if intersects(skip) || (has(skip, "tagged") && *tags != untagged) {
            run = false;
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tags: &[&str]) -> BTreeSet<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    fn list(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn follows_ansible_tag_rules() {
        // (task tags, --tags, --skip-tags, runs)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], bool);
        let cases: &[Case] = &[
            (&[], &["all"], &[], true),
            (&["a"], &["all"], &[], true),
            (&["never"], &["all"], &[], false),
            (&["never", "debug"], &["debug"], &[], true),
            (&["a"], &["b"], &[], false),
            (&["a", "b"], &["b"], &[], true),
            (&["always"], &["b"], &[], true),
            (&["always"], &["all"], &["always"], false),
            (&["always"], &["all"], &["all"], true),
            (&["a"], &["all"], &["all"], false),
            (&[], &["tagged"], &[], false),
            (&["x"], &["tagged"], &[], true),
            (&[], &["untagged"], &[], true),
            (&["x"], &["untagged"], &[], false),
            (&["x"], &["all"], &["tagged"], false),
            (&[], &["all"], &["tagged"], true),
            (&["a", "b"], &["all"], &["b"], false),
        ];
        for (tags, only, skip, expected) in cases {
            assert_eq!(
                should_run(&set(tags), &list(only), &list(skip)),
                *expected,
                "tags {tags:?} --tags {only:?} --skip-tags {skip:?}"
            );
        }
    }
}
