//! The INI inventory format, parsed the way ansible-core's `ini` plugin does it, with its error texts, but
//! every error pointing at `file:line:column`.

use super::address::parse_address;
use super::data::Data;
use super::host_range;
use super::shlex;
use crate::diagnostic::shorten;
use crate::error::{Error, Result};
use crate::location::Location;
use crate::pyliteral::ini_value;
use indexmap::IndexMap;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A group named before it was declared: `[g:vars]` or a `[p:children]` entry, checked at the end.
struct Pending {
    line: usize,
    column: usize,
    state: State,
    parents: Vec<String>,
}

pub fn parse(text: &str, path: &Path, data: &mut Data) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut pending: IndexMap<String, Pending> = IndexMap::new();
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;

    for (index, raw) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let at = |offset: usize| Location::new(path, lineno, indent + offset + 1);

        if let Some((name, kind)) = section_header(line) {
            let new_state = match kind {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    return Err(Error::parse(
                        at(name.chars().count() + 2),
                        format!("Section [{name}:{other}] has unknown type: {other}"),
                    )
                    .with_hint("a section is [group], [group:vars] or [group:children]"));
                }
            };
            group = name.to_string();
            state = new_state;
            if data.group_id(&group).is_none() {
                // [g] and [g:children] declare a group; [g:vars] only refers to one declared elsewhere.
                if state == State::Vars && !pending.contains_key(&group) {
                    pending.insert(
                        group.clone(),
                        Pending {
                            line: lineno,
                            column: indent + 1,
                            state,
                            parents: Vec::new(),
                        },
                    );
                }
                data.add_group(&group);
            }
            if state != State::Vars {
                if let Some(decl) = pending.get(&group) {
                    match decl.state {
                        State::Children => {
                            add_pending_children(data, &group, &mut pending, &at(0))?
                        }
                        _ => {
                            pending.shift_remove(&group);
                        }
                    }
                }
            }
            continue;
        } else if line.starts_with('[') && line.ends_with(']') {
            let line = shorten(line);
            return Err(Error::parse(
                at(0),
                format!(
                    "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section \
                     entry, and that there are no other invalid characters"
                ),
            ));
        }

        let group_id = data.add_group(&group);
        match state {
            State::Hosts => host_line(line, &at, data, group_id)?,
            State::Vars => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(Error::parse(
                        at(0),
                        format!("Expected key=value, got: {}", shorten(line)),
                    )
                    .with_hint("[group:vars] sections hold one `name=value` per line"));
                };
                data.set_group_var(group_id, key.trim(), ini_value(value.trim()))
                    .map_err(|message| Error::parse(at(key.chars().count() + 1), message))?;
            }
            State::Children => {
                let child = child_group_name(line).ok_or_else(|| {
                    Error::parse(
                        at(0),
                        format!("Expected group name, got: {}", shorten(line)),
                    )
                })?;
                match data.group_id(child) {
                    Some(child_id) => data
                        .add_child_group(group_id, child_id)
                        .map_err(|e| Error::parse(at(0), e.to_string()))?,
                    None => match pending.get_mut(child) {
                        Some(decl) => decl.parents.push(group.clone()),
                        None => {
                            pending.insert(
                                child.to_string(),
                                Pending {
                                    line: lineno,
                                    column: indent + 1,
                                    state: State::Children,
                                    parents: vec![group.clone()],
                                },
                            );
                        }
                    },
                }
            }
        }
    }

    // Ansible reports only the first unresolved reference.
    if let Some((name, decl)) = pending.into_iter().next() {
        let location = Location::new(path, decl.line, decl.column);
        return Err(match decl.state {
            State::Vars => Error::parse(
                location,
                format!("Section [{name}:vars] not valid for undefined group: {name}"),
            )
            .with_hint(format!("declare the group with a [{name}] section")),
            _ => {
                let parent = decl.parents.last().cloned().unwrap_or_default();
                Error::parse(
                    location,
                    format!("Section [{parent}:children] includes undefined group: {name}"),
                )
                .with_hint(format!(
                    "declare the group with a [{name}] section, even an empty one"
                ))
            }
        });
    }
    Ok(())
}

fn add_pending_children(
    data: &mut Data,
    group: &str,
    pending: &mut IndexMap<String, Pending>,
    at: &Location,
) -> Result<()> {
    let parents = pending
        .get(group)
        .map(|d| d.parents.clone())
        .unwrap_or_default();
    let child = data.add_group(group);
    for parent in parents {
        let parent_id = data.add_group(&parent);
        data.add_child_group(parent_id, child)
            .map_err(|e| Error::parse(at.clone(), e.to_string()))?;
        if pending
            .get(&parent)
            .is_some_and(|d| d.state == State::Children)
        {
            add_pending_children(data, &parent, pending, at)?;
        }
    }
    pending.shift_remove(group);
    Ok(())
}

/// `[name]`, `[name:type]`, optionally followed by spaces and a `#` comment. Returns (name, type).
fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    let body = line.strip_prefix('[')?;
    let name_end = body.find(|c: char| c == ':' || c == ']' || c.is_whitespace())?;
    let name = &body[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &body[name_end..];
    let mut kind = None;
    if let Some(after) = rest.strip_prefix(':') {
        let kind_end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if kind_end == 0 {
            return None;
        }
        kind = Some(&after[..kind_end]);
        rest = &after[kind_end..];
    }
    let rest = rest.strip_prefix(']')?.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some((name, kind))
}

/// A `[g:children]` entry: one name without `:`, `]` or spaces, optionally followed by a `#` comment.
fn child_group_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    (!name.is_empty() && (rest.is_empty() || rest.starts_with('#'))).then_some(name)
}

fn host_line(
    line: &str,
    at: &dyn Fn(usize) -> Location,
    data: &mut Data,
    group: usize,
) -> Result<()> {
    let tokens = shlex::split(line).map_err(|e| {
        Error::parse(
            at(0),
            format!("Error parsing host definition '{}': {e}", shorten(line)),
        )
    })?;
    let Some(first) = tokens.first() else {
        return Err(Error::parse(
            at(0),
            format!("Expected a host name, got: {}", shorten(line)),
        ));
    };
    let (hostnames, port) = expand_host_pattern(&first.text)
        .and_then(|(names, port)| data.check_room(&names).map(|()| (names, port)))
        .map_err(|e| Error::parse(at(first.start), e))?;

    let mut vars = Vec::new();
    for token in &tokens[1..] {
        let Some((key, value)) = token.text.split_once('=') else {
            return Err(Error::parse(
                at(token.start),
                format!(
                    "Expected key=value host variable assignment, got: {}",
                    shorten(&token.text)
                ),
            )
            .with_hint("quote values that contain spaces: key=\"a value\""));
        };
        vars.push((key.to_string(), ini_value(value)));
    }
    for name in hostnames {
        let host = data.add_host(&name, Some(group), port);
        for (key, value) in &vars {
            data.set_host_var(host, key, value.clone());
        }
    }
    Ok(())
}

/// A host pattern with an optional `:port`, expanded into host names; Ansible's INI-specific checks included.
pub fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (host, port) = parse_address(pattern, true).unwrap_or_else(|| (pattern.to_string(), None));
    let shown = shorten(pattern);
    if pattern.trim().ends_with(':') && port.is_none() {
        return Err(format!(
            "Invalid host pattern '{shown}' supplied, ending in ':' is not allowed, this character is reserved to \
             provide a port."
        ));
    }
    let names = if host_range::has_range(&host) {
        host_range::expand(&host)?
    } else {
        vec![host]
    };
    if names.iter().any(|n| n.trim() == "---") {
        return Err(format!("Invalid host pattern '{shown}' supplied, '---' is normally a sign this is a YAML file."));
    }
    Ok((names, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::data::UNGROUPED;
    use serde_json::json;

    fn load(text: &str) -> Result<Data> {
        let mut data = Data::new();
        parse(text, Path::new("hosts"), &mut data)?;
        data.reconcile();
        Ok(data)
    }

    fn error(text: &str) -> (String, usize, usize) {
        let err = load(text).unwrap_err();
        let loc = err.location().unwrap().clone();
        (err.to_string(), loc.line, loc.column)
    }

    #[test]
    fn sections_hosts_vars_and_children() {
        let data = load(
            "top1 a=1\n\
             # comment\n\
             ; another\n\
             [web]  # trailing comment\n\
             web[1:2].example.com:2222 role=\"front end\" tags=\"['a', 'b']\"\n\
             [db]\n\
             db1 ansible_host=10.0.0.5 primary=True\n\
             [prod:children]\n\
             web\n\
             db # comment\n\
             [prod:vars]\n\
             env = production # kept: not a literal, so the raw text stays\n\
             port=5432\n",
        )
        .unwrap();
        let web1 = data.host_id("web1.example.com").unwrap();
        assert_eq!(data.hosts[web1].vars["ansible_port"], json!(2222));
        assert_eq!(data.hosts[web1].vars["role"], json!("front end"));
        assert_eq!(data.hosts[web1].vars["tags"], json!(["a", "b"]));
        let db1 = data.host_id("db1").unwrap();
        assert_eq!(data.hosts[db1].vars["primary"], json!(true));
        let prod = data.group_id("prod").unwrap();
        assert_eq!(
            data.groups[prod].vars["env"],
            json!("production # kept: not a literal, so the raw text stays")
        );
        assert_eq!(data.groups[prod].vars["port"], json!(5432));
        let names: Vec<&str> = data.groups[prod]
            .children
            .iter()
            .map(|&g| data.groups[g].name.as_str())
            .collect();
        assert_eq!(names, ["web", "db"]);
        assert_eq!(
            data.groups[UNGROUPED].hosts,
            vec![data.host_id("top1").unwrap()]
        );
    }

    #[test]
    fn children_may_be_declared_later() {
        let data = load("[parent:children]\nkid\n[kid:vars]\nx=1\n[kid]\nh1\n").unwrap();
        let kid = data.group_id("kid").unwrap();
        assert_eq!(
            data.groups[kid].parents,
            vec![data.group_id("parent").unwrap()]
        );
        assert_eq!(data.groups[kid].vars["x"], json!(1));
    }

    #[test]
    fn priority_is_not_a_variable() {
        let data = load("[g]\nh\n[g:vars]\nansible_group_priority=10\n").unwrap();
        let g = data.group_id("g").unwrap();
        assert_eq!(data.groups[g].priority, 10);
        assert!(data.groups[g].vars.is_empty());
    }

    #[test]
    fn every_error_names_its_line() {
        let cases: &[(&str, &str, usize, usize)] = &[
            ("[web:nope]\n", "Section [web:nope] has unknown type: nope", 1, 6),
            ("h1\n\n[g:vars]\nx=1\n", "Section [g:vars] not valid for undefined group: g", 3, 1),
            (
                "[p:children]\nmissing\n[q]\n",
                "Section [p:children] includes undefined group: missing",
                2,
                1,
            ),
            ("[g]\nh1 novalue\n", "Expected key=value host variable assignment, got: novalue", 2, 4),
            ("[g]\n  h1 a=1 b\n", "Expected key=value host variable assignment, got: b", 2, 10),
            ("[g:vars]\njust_a_word\n[g]\n", "Expected key=value, got: just_a_word", 2, 1),
            ("[g]\n[g:children]\na b\n", "Expected group name, got: a b", 3, 1),
            ("[g]\nh[1]\n", "host range must be begin:end or begin:end:step", 2, 1),
            ("[g]\nh[1:]\n", "host range must specify end value", 2, 1),
            ("[g]\nh[01:100]\n", "host range must specify equal-length begin and end formats", 2, 1),
            ("[g]\nh1 x='open\n", "Error parsing host definition 'h1 x='open': No closing quotation", 2, 1),
            (
                "[g]\nhost:\n",
                "Invalid host pattern 'host:' supplied, ending in ':' is not allowed, this character is reserved \
                 to provide a port.",
                2,
                1,
            ),
            ("---\nall:\n", "Invalid host pattern '---' supplied, '---' is normally a sign this is a YAML file.", 1, 1),
            (
                "[bad group]\n",
                "Invalid section entry: '[bad group]'. Please make sure that there are no spaces in the section \
                 entry, and that there are no other invalid characters",
                1,
                1,
            ),
            (
                "[a:children]\nb\n[b:children]\na\n",
                "Adding group 'a' as child to 'b' creates a recursive dependency loop.",
                4,
                1,
            ),
            ("[g:vars]\nansible_group_priority=high\n[g]\n", "invalid literal for int() with base 10: 'high'", 2, 24),
        ];
        for (text, message, line, column) in cases {
            assert_eq!(
                error(text),
                (message.to_string(), *line, *column),
                "input {text:?}"
            );
        }
    }
}
