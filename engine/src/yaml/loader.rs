//! Builds [`Node`] trees from yaml-rust2's event stream, resolving anchors, aliases and merge keys.

use super::node::{Node, NodeValue};
use super::scalar::{resolve_plain, resolve_tagged};
use crate::diagnostic::shorten;
use crate::error::{Error, Result};
use crate::location::Location;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// Reads and parses a YAML file into one node per document.
pub fn load_file(path: &Path) -> Result<Vec<Node>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
    load_str(&text, path)
}

/// Parses YAML text; `path` is only used for locations.
pub fn load_str(text: &str, path: &Path) -> Result<Vec<Node>> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        file: Arc::new(path.to_path_buf()),
        anchors: HashMap::new(),
        text,
    };
    builder.documents()
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    file: Arc<PathBuf>,
    anchors: HashMap<usize, Node>,
    text: &'a str,
}

impl Builder<'_> {
    fn loc(&self, mark: Marker) -> Location {
        Location {
            file: self.file.clone(),
            line: mark.line(),
            column: mark.col() + 1,
        }
    }

    fn next(&mut self) -> Result<(Event, Marker)> {
        self.parser.next_token().map_err(|e| self.syntax_error(&e))
    }

    fn syntax_error(&self, error: &ScanError) -> Error {
        let info = error.info();
        let mut error_loc = self.loc(*error.marker());
        if info.contains("tab") {
            // The scanner notices a tab late (after the previous value); point at the indenting tab itself.
            let indented_with_tab = self
                .text
                .lines()
                .enumerate()
                .skip(error_loc.line.saturating_sub(1))
                .find(|(_, l)| {
                    l.chars()
                        .take_while(|c| c.is_whitespace())
                        .any(|c| c == '\t')
                });
            if let Some((index, line)) = indented_with_tab {
                error_loc.line = index + 1;
                error_loc.column = line.chars().position(|c| c == '\t').unwrap_or(0) + 1;
            }
        }
        let hint = if self
            .text
            .lines()
            .nth(error_loc.line.saturating_sub(1))
            .is_some_and(|l| l.starts_with('\t'))
            || info.contains("tab")
        {
            "YAML does not allow tabs for indentation: indent with spaces"
        } else if info.contains("mapping values are not allowed") {
            "a value that contains ': ' must be quoted, or the line is indented more than its siblings"
        } else if info.contains("did not find expected key") || info.contains("block end") {
            "check the indentation of this line against the lines above it"
        } else if info.contains("quoted scalar") {
            "unclosed quote: a quote opened here is never closed"
        } else {
            "check the YAML syntax around this line"
        };
        Error::parse(error_loc, format!("YAML syntax error: {info}")).with_hint(hint)
    }

    fn documents(&mut self) -> Result<Vec<Node>> {
        let mut docs = Vec::new();
        loop {
            let (event, mark) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart => {
                    self.anchors.clear();
                    let (event, mark) = self.next()?;
                    if event == Event::DocumentEnd {
                        docs.push(Node::new(NodeValue::Null, self.loc(mark)));
                    } else {
                        docs.push(self.node(event, mark)?);
                    }
                }
                Event::StreamEnd => return Ok(docs),
                other => {
                    let node = self.node(other, mark)?;
                    docs.push(node);
                }
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn node(&mut self, event: Event, mark: Marker) -> Result<Node> {
        let loc = self.loc(mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node::new(self.scalar(&text, style, tag.as_ref(), &loc)?, loc);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(anchor) => {
                let mut node = self.anchors.get(&anchor).cloned().ok_or_else(|| {
                    Error::parse(loc.clone(), "YAML alias refers to an unknown anchor")
                })?;
                // Errors about an aliased value are reported where it is used.
                node.loc = loc;
                Ok(node)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, mark) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, mark)?);
                }
                let node = Node::new(NodeValue::Seq(items), loc);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let node = self.mapping(loc)?;
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(Error::parse(
                loc,
                format!("YAML syntax error: unexpected {other:?}"),
            )),
        }
    }

    fn mapping(&mut self, loc: Location) -> Result<Node> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let (event, mark) = self.next()?;
            if event == Event::MappingEnd {
                break;
            }
            let is_merge_key =
                matches!(&event, Event::Scalar(text, TScalarStyle::Plain, _, None) if text == "<<");
            let key = self.node(event, mark)?;
            let (event, mark) = self.next()?;
            let value = self.node(event, mark)?;
            if is_merge_key {
                self.collect_merge(value, &mut merged)?;
                continue;
            }
            match entries.iter_mut().find(|(k, _)| k.value == key.value) {
                // Like PyYAML, a repeated key keeps its last value.
                Some(existing) => *existing = (key, value),
                None => entries.push((key, value)),
            }
        }
        // Explicit keys win over merged ones, wherever the `<<` stands.
        for (key, value) in merged {
            if !entries.iter().any(|(k, _)| k.value == key.value) {
                entries.push((key, value));
            }
        }
        // A block mapping's start event sits after its first key; its first key is where users look.
        let loc = entries.first().map_or(loc, |(key, _)| key.loc.clone());
        Ok(Node::new(NodeValue::Map(entries), loc))
    }

    /// `<<: *a` or `<<: [*a, *b]`; in a list, earlier mappings win.
    fn collect_merge(&self, value: Node, merged: &mut Vec<(Node, Node)>) -> Result<()> {
        let sources = match value.value {
            NodeValue::Map(_) => vec![value],
            NodeValue::Seq(items) => items,
            _ => {
                return Err(Error::parse(
                    value.loc,
                    "a YAML merge key (<<) needs a mapping or a list of mappings",
                )
                .with_hint("write `<<: *anchor` where the anchor names a mapping"))
            }
        };
        for source in sources {
            let NodeValue::Map(entries) = source.value else {
                return Err(Error::parse(
                    source.loc,
                    "a YAML merge key (<<) needs a mapping or a list of mappings",
                ));
            };
            for (key, value) in entries {
                if !merged.iter().any(|(k, _)| k.value == key.value) {
                    merged.push((key, value));
                }
            }
        }
        Ok(())
    }

    fn scalar(
        &self,
        text: &str,
        style: TScalarStyle,
        tag: Option<&Tag>,
        loc: &Location,
    ) -> Result<NodeValue> {
        if let Some(tag) = tag {
            // `!!str` arrives with handle "tag:yaml.org,2002:"; Ansible's `!unsafe` is a plain string to us.
            if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
                return resolve_tagged(text, &tag.suffix).ok_or_else(|| {
                    Error::parse(
                        loc.clone(),
                        format!("'{}' is not a valid !!{}", shorten(text), tag.suffix),
                    )
                });
            }
            if tag.suffix == "unsafe" {
                return Ok(NodeValue::String(text.to_owned()));
            }
            if tag.suffix == "vault" {
                return Err(Error::parse(loc.clone(), "ansible-vault encrypted values are not supported")
                    .with_hint("keep the secret in an unencrypted vars file outside version control, or pass it with -e @file"));
            }
        }
        Ok(match style {
            TScalarStyle::Plain => resolve_plain(text),
            _ => NodeValue::String(text.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Node {
        load_str(text, Path::new("t.yml")).unwrap().remove(0)
    }

    #[test]
    fn positions_are_one_based() {
        let doc = load("---\n- name: x\n  debug:\n    msg: hi\n");
        let task = &doc.as_seq().unwrap()[0];
        let (key, value) = &task.as_map().unwrap()[1];
        assert_eq!((key.loc.line, key.loc.column), (3, 3));
        assert_eq!(
            (
                value.get("msg").unwrap().loc.line,
                value.get("msg").unwrap().loc.column
            ),
            (4, 10)
        );
    }

    #[test]
    fn yaml_1_1_scalars_and_quotes() {
        let doc = load("a: yes\nb: 'yes'\nc: 0644\nd: \"0644\"\ne: off\nf: 1.5\ng: ~\n");
        assert_eq!(
            doc.to_json(),
            json!({"a": true, "b": "yes", "c": 420, "d": "0644", "e": false, "f": 1.5, "g": null})
        );
    }

    #[test]
    fn anchors_and_merge_keys() {
        let doc = load(
            "defaults: &d\n  port: 5432\n  user: pg\nother: &o\n  port: 1\n  host: h\nprimary:\n  <<: [*d, *o]\n  user: admin\nlist: &l [1, 2]\ncopy: *l\n",
        );
        assert_eq!(
            doc.get("primary").unwrap().to_json(),
            json!({"user": "admin", "port": 5432, "host": "h"})
        );
        assert_eq!(doc.get("copy").unwrap().to_json(), json!([1, 2]));
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(load("a: 1\na: 2\n").to_json(), json!({"a": 2}));
    }

    #[test]
    fn multiple_documents_and_empty_input() {
        let docs = load_str("a: 1\n---\nb: 2\n", Path::new("t.yml")).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(load_str("", Path::new("t.yml")).unwrap().is_empty());
    }

    #[test]
    fn syntax_errors_point_at_the_line_with_a_hint() {
        let cases = [
            ("a: 1\n b: 2\n", 2, "indented"),
            ("a:\n\t- b\n", 2, "tabs"),
            ("a: 'open\nb: 2\n", 1, "quote"),
        ];
        for (text, line, hint) in cases {
            let error = load_str(text, Path::new("t.yml")).unwrap_err();
            let location = error.location().unwrap();
            assert_eq!(location.line, line, "{text:?}: {error}");
            assert!(
                error.hint().unwrap().contains(hint),
                "{text:?}: hint {:?}",
                error.hint()
            );
        }
    }

    #[test]
    fn tags() {
        assert_eq!(
            load("a: !!str 0644\nb: !unsafe '{{ x }}'\nc: !!int '12'\n").to_json(),
            json!({"a": "0644", "b": "{{ x }}", "c": 12})
        );
    }
}
