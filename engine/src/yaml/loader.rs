//! Builds [`Node`] trees from yaml-rust2's event stream, resolving anchors, aliases and merge keys.
//!
//! Hostile input is refused here, so that everything downstream may recurse and copy freely: collections
//! nest at most [`YAML_MAX_DEPTH`] levels, and anchors and aliases copy at most [`YAML_ALIAS_MAX_NODES`]
//! nodes and [`YAML_ALIAS_MAX_BYTES`] bytes of text per file.

use super::node::{Node, NodeValue};
use super::scalar::{resolve_plain, resolve_tagged};
use crate::diagnostic::shorten;
use crate::error::{Error, Result};
use crate::limits::{YAML_ALIAS_MAX_BYTES, YAML_ALIAS_MAX_NODES, YAML_MAX_DEPTH};
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
        copied: Size::default(),
        text,
    };
    builder.documents()
}

/// What building a value produced: its nodes (itself included), the bytes of its scalars, and how many
/// collections deep it nests. An anchor keeps its value's size, so an alias is charged without a walk.
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    height: usize,
}

impl Size {
    fn scalar(text: &str) -> Size {
        Size {
            nodes: 1,
            bytes: text.len(),
            height: 0,
        }
    }

    /// An empty collection: one node, one level.
    fn collection() -> Size {
        Size {
            nodes: 1,
            bytes: 0,
            height: 1,
        }
    }

    fn hold(&mut self, child: Size) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.height = self.height.max(child.height.saturating_add(1));
    }
}

/// A mapping's entries as they are read, each key found in constant time: a mapping of 100,000 keys took
/// minutes when every key was compared with every other. Keys are equal as `NodeValue`s are (`1` and `'1'`
/// differ, as they do to PyYAML); lists and mappings as keys, which are rare, are compared one by one.
#[derive(Default)]
struct Entries {
    entries: Vec<(Node, Node)>,
    scalars: HashMap<ScalarKey, usize>,
    collections: Vec<usize>,
}

#[derive(Hash, PartialEq, Eq)]
enum ScalarKey {
    Null,
    Bool(bool),
    Int(i64),
    /// The bits, with -0.0 read as 0.0, which it equals.
    Float(u64),
    String(String),
}

/// How a key is found among others.
enum KeyKind {
    Scalar(ScalarKey),
    Collection,
    /// NaN equals no key, itself included.
    Unique,
}

impl KeyKind {
    fn of(value: &NodeValue) -> KeyKind {
        KeyKind::Scalar(match value {
            NodeValue::Null => ScalarKey::Null,
            NodeValue::Bool(b) => ScalarKey::Bool(*b),
            NodeValue::Int(i) => ScalarKey::Int(*i),
            NodeValue::Float(f) if f.is_nan() => return KeyKind::Unique,
            NodeValue::Float(f) => ScalarKey::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            NodeValue::String(s) => ScalarKey::String(s.clone()),
            NodeValue::Seq(_) | NodeValue::Map(_) => return KeyKind::Collection,
        })
    }
}

impl Entries {
    fn position(&self, key: &Node, kind: &KeyKind) -> Option<usize> {
        match kind {
            KeyKind::Scalar(scalar) => self.scalars.get(scalar).copied(),
            KeyKind::Collection => self
                .collections
                .iter()
                .copied()
                .find(|&i| self.entries[i].0.value == key.value),
            KeyKind::Unique => None,
        }
    }

    fn push(&mut self, key: Node, value: Node, kind: KeyKind) {
        let index = self.entries.len();
        match kind {
            KeyKind::Scalar(scalar) => {
                self.scalars.insert(scalar, index);
            }
            KeyKind::Collection => self.collections.push(index),
            KeyKind::Unique => {}
        }
        self.entries.push((key, value));
    }

    /// A repeated key keeps its place and takes the new key and value.
    fn set(&mut self, key: Node, value: Node) {
        let kind = KeyKind::of(&key.value);
        match self.position(&key, &kind) {
            Some(index) => self.entries[index] = (key, value),
            None => self.push(key, value, kind),
        }
    }

    /// Adds the entry unless its key is there already.
    fn add(&mut self, key: Node, value: Node) {
        let kind = KeyKind::of(&key.value);
        if self.position(&key, &kind).is_none() {
            self.push(key, value, kind);
        }
    }
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    file: Arc<PathBuf>,
    anchors: HashMap<usize, (Node, Size)>,
    /// What anchors (kept as copies) and aliases (copied where used) have copied so far. It is counted
    /// per file, not per document: every document of a file is kept.
    copied: Size,
    text: &'a str,
}

fn depth_limit(loc: Location) -> Error {
    Error::parse(
        loc,
        format!(
            "YAML nesting depth limit: lists and mappings nest more than {YAML_MAX_DEPTH} levels deep here"
        ),
    )
    .with_hint("real playbooks and inventories nest far less; this file is damaged or generated")
}

/// The depth inside a collection that starts at `loc` within `depth` others, if that is allowed.
fn enter(depth: usize, loc: &Location) -> Result<usize> {
    let inner = depth + 1;
    if inner > YAML_MAX_DEPTH {
        return Err(depth_limit(loc.clone()));
    }
    Ok(inner)
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
        if info == "recursion limit exceeded" {
            // The scanner's own bound on flow nesting (`[[[...`), above ours; it may scan ahead of us.
            return depth_limit(error_loc);
        }
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
                        docs.push(self.node(event, mark, 0)?.0);
                    }
                }
                Event::StreamEnd => return Ok(docs),
                other => {
                    docs.push(self.node(other, mark, 0)?.0);
                }
            }
        }
    }

    /// Keeps an anchored value for its aliases; the copy is charged like an alias's.
    fn remember(&mut self, anchor: usize, node: &Node, size: Size) -> Result<()> {
        if anchor != 0 {
            self.charge(size, &node.loc)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(())
    }

    /// Counts a copy against the file's alias expansion budget; `loc` is where the copy is made.
    fn charge(&mut self, size: Size, loc: &Location) -> Result<()> {
        self.copied.nodes = self.copied.nodes.saturating_add(size.nodes);
        self.copied.bytes = self.copied.bytes.saturating_add(size.bytes);
        let exceeded = if self.copied.nodes > YAML_ALIAS_MAX_NODES {
            format!("{YAML_ALIAS_MAX_NODES} nodes")
        } else if self.copied.bytes > YAML_ALIAS_MAX_BYTES {
            format!("{} MiB of text", YAML_ALIAS_MAX_BYTES >> 20)
        } else {
            return Ok(());
        };
        Err(Error::parse(
            loc.clone(),
            format!("YAML alias expansion limit: the anchors and aliases of this file copy more than {exceeded}"),
        )
        .with_hint(
            "an alias copies its anchor's value, and aliases inside an anchored value multiply (a \"billion laughs\" \
             file); write such values out, or alias them less",
        ))
    }

    /// One value, whose first event is given; `depth` is how many collections enclose it. Collections
    /// recurse through here, so each kind of value is built in a function of its own: this frame, which
    /// every level of nesting pays for, stays small in a debug build.
    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<(Node, Size)> {
        match event {
            Event::SequenceStart(anchor, _) => self.sequence(anchor, mark, depth),
            Event::MappingStart(anchor, _) => self.mapping(anchor, mark, depth),
            other => self.leaf(other, mark, depth),
        }
    }

    /// A scalar or an alias.
    fn leaf(&mut self, event: Event, mark: Marker, depth: usize) -> Result<(Node, Size)> {
        let loc = self.loc(mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let size = Size::scalar(&text);
                let node = Node::new(self.scalar(&text, style, tag.as_ref(), &loc)?, loc);
                self.remember(anchor, &node, size)?;
                Ok((node, size))
            }
            Event::Alias(anchor) => {
                let (mut node, size) = self.anchors.get(&anchor).cloned().ok_or_else(|| {
                    Error::parse(loc.clone(), "YAML alias refers to an unknown anchor")
                })?;
                if depth.saturating_add(size.height) > YAML_MAX_DEPTH {
                    return Err(depth_limit(loc));
                }
                self.charge(size, &loc)?;
                // Errors about an aliased value are reported where it is used.
                node.loc = loc;
                Ok((node, size))
            }
            other => Err(Error::parse(
                loc,
                format!("YAML syntax error: unexpected {other:?}"),
            )),
        }
    }

    fn sequence(&mut self, anchor: usize, mark: Marker, depth: usize) -> Result<(Node, Size)> {
        let loc = self.loc(mark);
        let depth = enter(depth, &loc)?;
        let mut items = Vec::new();
        let mut size = Size::collection();
        loop {
            let (event, mark) = self.next()?;
            if matches!(event, Event::SequenceEnd) {
                break;
            }
            let (item, item_size) = self.node(event, mark, depth)?;
            size.hold(item_size);
            items.push(item);
        }
        let node = Node::new(NodeValue::Seq(items), loc);
        self.remember(anchor, &node, size)?;
        Ok((node, size))
    }

    fn mapping(&mut self, anchor: usize, mark: Marker, depth: usize) -> Result<(Node, Size)> {
        let loc = self.loc(mark);
        let depth = enter(depth, &loc)?;
        let mut entries = Entries::default();
        let mut merged = Entries::default();
        let mut size = Size::collection();
        loop {
            let (event, mark) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge_key =
                matches!(&event, Event::Scalar(text, TScalarStyle::Plain, _, None) if text == "<<");
            let (key, key_size) = self.node(event, mark, depth)?;
            let (event, mark) = self.next()?;
            let (value, value_size) = self.node(event, mark, depth)?;
            size.hold(key_size);
            size.hold(value_size);
            if is_merge_key {
                self.collect_merge(value, &mut merged)?;
                continue;
            }
            // Like PyYAML, a repeated key keeps its last value.
            entries.set(key, value);
        }
        // Explicit keys win over merged ones, wherever the `<<` stands.
        for (key, value) in merged.entries {
            entries.add(key, value);
        }
        let entries = entries.entries;
        // A block mapping's start event sits after its first key; its first key is where users look.
        let loc = entries.first().map_or(loc, |(key, _)| key.loc.clone());
        let node = Node::new(NodeValue::Map(entries), loc);
        self.remember(anchor, &node, size)?;
        Ok((node, size))
    }

    /// `<<: *a` or `<<: [*a, *b]`; in a list, earlier mappings win.
    fn collect_merge(&self, value: Node, merged: &mut Entries) -> Result<()> {
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
                merged.add(key, value);
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
    fn keys_are_the_same_key_when_their_values_are_equal() {
        // (document, how many entries its mapping keeps)
        let cases = [
            ("1: a\n'1': b\n1: c\n", 2),
            ("0.0: a\n-0.0: b\n", 1),
            (".nan: a\n.nan: b\n", 2),
            ("yes: a\ntrue: b\n~: c\nnull: d\n", 2),
            (
                "m: &m {a: 1, b: 2}\nn:\n  <<: [*m, {a: 3, c: 4}]\n  b: 5\n",
                2,
            ),
        ];
        for (text, count) in cases {
            let doc = load(text);
            assert_eq!(doc.as_map().map(<[_]>::len), Some(count), "{text:?}");
        }
        let merged = load("m: &m {a: 1, b: 2}\nn:\n  <<: [*m, {a: 3, c: 4}]\n  b: 5\n");
        assert_eq!(
            merged.get("n").unwrap().to_json(),
            json!({"b": 5, "a": 1, "c": 4})
        );
        let wide: String = (0..20_000)
            .map(|i| format!("k{i}: {i}\nk{i}: {}\n", i + 1))
            .collect();
        let doc = load(&wide);
        assert_eq!(doc.as_map().map(<[_]>::len), Some(20_000));
        assert_eq!(doc.get("k19999").unwrap().to_json(), json!(20_000));
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

    /// Nine levels of nine aliases: 387 million nodes if copied.
    fn billion_laughs() -> String {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip("abcdefgh".chars())
        {
            let aliases = vec![format!("*{previous}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        text
    }

    #[test]
    fn hostile_documents_are_refused_at_the_line_that_crosses_a_limit() {
        let deep = YAML_MAX_DEPTH + 1;
        let cases: Vec<(&str, String, usize, &str)> = vec![
            (
                "billion laughs",
                billion_laughs(),
                6,
                "alias expansion limit",
            ),
            (
                "a long string aliased many times",
                format!(
                    "s: &s '{}'\nl: [{}]\n",
                    "x".repeat(1 << 20),
                    vec!["*s"; 64].join(", ")
                ),
                2,
                "alias expansion limit",
            ),
            (
                "nested block sequences",
                format!("{}x\n", "- ".repeat(20_000)),
                1,
                "nesting depth limit",
            ),
            (
                "nested flow sequences",
                format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000)),
                1,
                "nesting depth limit",
            ),
            (
                "nested block mappings",
                (0..deep)
                    .map(|i| format!("{}k:\n", " ".repeat(i)))
                    .collect(),
                deep,
                "nesting depth limit",
            ),
            (
                "an alias that nests a deep value deeper",
                // `a` is as deep as allowed inside the top mapping; `b` puts it two levels deeper.
                format!(
                    "a: &a {}x{}\nb: [[*a]]\n",
                    "[".repeat(YAML_MAX_DEPTH - 1),
                    "]".repeat(YAML_MAX_DEPTH - 1)
                ),
                2,
                "nesting depth limit",
            ),
        ];
        for (what, text, line, limit) in cases {
            let error = load_str(&text, Path::new("t.yml")).expect_err(what);
            assert!(error.to_string().contains(limit), "{what}: {error}");
            assert_eq!(
                error.location().map(|l| l.line),
                Some(line),
                "{what}: {error}"
            );
        }
    }

    #[test]
    fn documents_just_inside_the_limits_load() {
        let deepest = format!("{}x\n", "- ".repeat(YAML_MAX_DEPTH));
        assert!(load_str(&deepest, Path::new("t.yml")).is_ok());
        // Five levels of the same bomb copy some 74,000 nodes (each anchor is kept as a copy too).
        let smaller: String = billion_laughs()
            .lines()
            .take(5)
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(load_str(&smaller, Path::new("t.yml")).is_ok());
    }

    #[test]
    fn tags() {
        assert_eq!(
            load("a: !!str 0644\nb: !unsafe '{{ x }}'\nc: !!int '12'\n").to_json(),
            json!({"a": "0644", "b": "{{ x }}", "c": 12})
        );
    }
}
