//! Host patterns (`hosts:` and `--limit`), evaluated like ansible-core's `InventoryManager.get_hosts`:
//! plain terms are a union, then `&` terms intersect, then `!` terms exclude; globs, `~regex`, subscripts
//! and the implicit localhost included.

use super::address::parse_address;
use super::data::{Data, LOCALHOST_NAMES};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::Path;

/// The hosts a pattern selected (inventory order, no duplicates) and the warnings Ansible would print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternMatch {
    pub hosts: Vec<String>,
    pub warnings: Vec<String>,
}

/// Splits on `,`, or on the legacy `:` when the whole string is not an address (`fe80::1`, `db[1:3]`).
pub fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if parse_address(pattern, true).is_some() {
        vec![pattern.to_string()]
    } else {
        legacy_colon_split(pattern)
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Runs of characters other than whitespace, `:`, `[`, `]`, or complete `[...]` groups.
fn legacy_colon_split(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            if let Some(len) = chars[i + 1..].iter().position(|&c| c == ']') {
                current.extend(&chars[i..=i + 1 + len]);
                i += len + 2;
                continue;
            }
        }
        if c.is_whitespace() || matches!(c, ':' | '[' | ']') {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
        i += 1;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Expands `@file` terms of a `--limit` into the host names listed in the file, one per line.
pub fn expand_limit(limit: &str, base: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for term in split_host_pattern(limit) {
        let Some(file) = term.strip_prefix('@') else {
            out.push(term);
            continue;
        };
        let path = base.join(file);
        if !path.exists() {
            return Err(Error::options(format!("Unable to find limit file {file}")));
        }
        if !path.is_file() {
            return Err(Error::options(format!(
                "Limit starting with \"@\" must be a file, not a directory: {file}"
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        out.extend(text.split('\n').map(|l| l.trim().to_string()));
    }
    Ok(out)
}

pub struct Evaluator<'a> {
    data: &'a Data,
    pub warnings: Vec<String>,
}

impl<'a> Evaluator<'a> {
    pub fn new(data: &'a Data) -> Self {
        Evaluator {
            data,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// The hosts selected by an already split list of terms.
    pub fn evaluate(&mut self, terms: &[String]) -> Result<Vec<String>> {
        let mut regular: Vec<&str> = Vec::new();
        let mut intersect = Vec::new();
        let mut exclude = Vec::new();
        for term in terms.iter().filter(|t| !t.is_empty()) {
            match term.chars().next() {
                Some('!') => exclude.push(term.as_str()),
                Some('&') => intersect.push(term.as_str()),
                _ => regular.push(term.as_str()),
            }
        }
        // Only `&`/`!` terms: they narrow down `all`.
        if regular.is_empty() {
            regular.push("all");
        }
        let mut hosts: Vec<String> = Vec::new();
        for term in regular.into_iter().chain(intersect).chain(exclude) {
            if self.data.host_id(term).is_some() {
                hosts.push(term.to_string());
                continue;
            }
            let that = self.match_one(term)?;
            // Sets, not scans of lists: a group may hold 100,000 hosts.
            if term.starts_with('!') {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| !that.contains(h));
            } else if term.starts_with('&') {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| that.contains(h));
            } else {
                let existing: HashSet<String> = hosts.iter().cloned().collect();
                hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
            }
        }
        let mut seen = HashSet::new();
        hosts.retain(|h| seen.insert(h.clone()));
        Ok(hosts)
    }

    fn match_one(&mut self, term: &str) -> Result<Vec<String>> {
        let pattern = term.strip_prefix(['&', '!']).unwrap_or(term);
        let (expr, subscript) = self.split_subscript(pattern);
        let hosts = self.enumerate(expr)?;
        apply_subscript(hosts, subscript).ok_or_else(|| {
            Error::options(format!(
                "No hosts matched the subscripted pattern '{pattern}'"
            ))
        })
    }

    fn split_subscript<'p>(&mut self, pattern: &'p str) -> (&'p str, Option<(i64, Option<i64>)>) {
        if pattern.starts_with('~') || !pattern.ends_with(']') {
            return (pattern, None);
        }
        let Some(open) = pattern.rfind('[') else {
            return (pattern, None);
        };
        if open == 0 {
            return (pattern, None);
        }
        let inner = &pattern[open + 1..pattern.len() - 1];
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let index_text = inner.strip_prefix('-').unwrap_or(inner);
        if digits(index_text) {
            if let Ok(index) = inner.parse() {
                return (&pattern[..open], Some((index, None)));
            }
        }
        let Some(sep) = inner.find([':', '-']) else {
            return (pattern, None);
        };
        let (start, end) = (&inner[..sep], &inner[sep + 1..]);
        if !digits(start) || !(end.is_empty() || digits(end)) {
            return (pattern, None);
        }
        if inner.as_bytes()[sep] == b'-' {
            self.warn(
                "Use [x:y] inclusive subscripts instead of [x-y] which has been removed".into(),
            );
        }
        let (Ok(start), end) = (
            start.parse(),
            if end.is_empty() { Ok(-1) } else { end.parse() },
        ) else {
            return (pattern, None);
        };
        (&pattern[..open], Some((start, end.ok())))
    }

    fn enumerate(&mut self, pattern: &str) -> Result<Vec<String>> {
        let data = self.data;
        let matcher = Matcher::new(pattern)?;
        let mut results: Vec<String> = Vec::new();
        let groups: Vec<usize> = (0..data.groups.len())
            .filter(|&g| matcher.matches(&data.groups[g].name))
            .collect();
        for &g in &groups {
            results.extend(
                data.group_hosts(g)
                    .into_iter()
                    .map(|h| data.hosts[h].name.clone()),
            );
        }
        let special = pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']);
        if groups.is_empty() || special {
            results.extend(
                data.hosts
                    .iter()
                    .filter(|h| matcher.matches(&h.name))
                    .map(|h| h.name.clone()),
            );
        }
        if results.is_empty() && LOCALHOST_NAMES.contains(&pattern) {
            results.push(pattern.to_string());
        }
        if results.is_empty() && groups.is_empty() && pattern != "all" {
            self.warn(format!(
                "Could not match supplied host pattern, ignoring: {pattern}"
            ));
        }
        Ok(results)
    }
}

/// `None` where Python raises IndexError.
fn apply_subscript(
    hosts: Vec<String>,
    subscript: Option<(i64, Option<i64>)>,
) -> Option<Vec<String>> {
    let Some((start, end)) = subscript else {
        return Some(hosts);
    };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let len = hosts.len() as i64;
    match end {
        // `end` of 0 is falsy in Python, so `g[0:0]` is `g[0]`.
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            let from = start.clamp(0, len) as usize;
            let to = (end + 1).clamp(0, len) as usize;
            Some(if from < to {
                hosts[from..to].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let index = if start < 0 { start + len } else { start };
            (0..len)
                .contains(&index)
                .then(|| vec![hosts[index as usize].clone()])
        }
    }
}

/// A glob (fnmatch, case-sensitive, whole name) or a `~regex` (Python `re.match`: anchored at the start only).
pub enum Matcher {
    Regex(fancy_regex::Regex),
    Glob(Vec<GlobToken>),
}

pub enum GlobToken {
    Literal(char),
    AnyChar,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Matcher {
    pub fn new(pattern: &str) -> Result<Matcher> {
        match pattern.strip_prefix('~') {
            Some(regex) => fancy_regex::Regex::new(&format!("^(?:{regex})"))
                .map(Matcher::Regex)
                .map_err(|_| Error::options(format!("Invalid host list pattern: {pattern}"))),
            None => Ok(Matcher::Glob(compile_glob(pattern))),
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Regex(re) => re.is_match(name).unwrap_or(false),
            Matcher::Glob(tokens) => {
                let chars: Vec<char> = name.chars().collect();
                glob_match(tokens, &chars)
            }
        }
    }
}

/// fnmatch.translate's reading of a glob: an unclosed `[` is literal, `[!...]` negates, a leading `]` is a
/// member, `a-z` is a range.
fn compile_glob(pattern: &str) -> Vec<GlobToken> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if !matches!(tokens.last(), Some(GlobToken::AnyRun)) {
                    tokens.push(GlobToken::AnyRun);
                }
            }
            '?' => tokens.push(GlobToken::AnyChar),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    tokens.push(GlobToken::Literal('['));
                    continue;
                }
                let mut body = &chars[i..j];
                i = j + 1;
                let negated = body.first() == Some(&'!');
                if negated {
                    body = &body[1..];
                }
                let mut ranges = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if k + 2 < body.len() && body[k + 1] == '-' {
                        if body[k] <= body[k + 2] {
                            ranges.push((body[k], body[k + 2]));
                        }
                        k += 3;
                    } else {
                        ranges.push((body[k], body[k]));
                        k += 1;
                    }
                }
                tokens.push(GlobToken::Class { negated, ranges });
            }
            other => tokens.push(GlobToken::Literal(other)),
        }
    }
    tokens
}

fn glob_match(tokens: &[GlobToken], name: &[char]) -> bool {
    match tokens.split_first() {
        None => name.is_empty(),
        Some((GlobToken::AnyRun, rest)) => {
            (0..=name.len()).any(|skip| glob_match(rest, &name[skip..]))
        }
        Some((token, rest)) => {
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let ok = match token {
                GlobToken::Literal(l) => *l == c,
                GlobToken::AnyChar => true,
                GlobToken::Class { negated, ranges } => {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                GlobToken::AnyRun => unreachable!("handled above"),
            };
            ok && glob_match(rest, tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_host_pattern("a, b[1] ,c[2:3],"),
            ["a", "b[1]", "c[2:3]"]
        );
        assert_eq!(split_host_pattern("web:&db:!x"), ["web", "&db", "!x"]);
        assert_eq!(split_host_pattern("fe80::1"), ["fe80::1"]);
        assert_eq!(split_host_pattern("db[1:3]"), ["db[1:3]"]);
        assert_eq!(split_host_pattern("web*:db[0:1]"), ["web*", "db[0:1]"]);
    }

    #[test]
    fn globs() {
        let cases = [
            ("web*", "web1", true),
            ("web*", "db1", false),
            ("w?b1", "web1", true),
            ("web[12]", "web2", true),
            ("web[!12]", "web2", false),
            ("web[a-c]", "webb", true),
            ("Web*", "web1", false),
            ("web[", "web[", true),
            ("*.example.com", "a.example.com", true),
        ];
        for (glob, name, expected) in cases {
            assert_eq!(
                Matcher::new(glob).unwrap().matches(name),
                expected,
                "{glob} vs {name}"
            );
        }
        assert!(Matcher::new("~web\\d").unwrap().matches("web1x"));
        assert!(!Matcher::new("~eb").unwrap().matches("web"));
        assert_eq!(
            Matcher::new("~(").err().unwrap().to_string(),
            "Invalid host list pattern: ~("
        );
    }

    #[test]
    fn subscripts_follow_python_slicing() {
        let hosts: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        type Subscript = Option<(i64, Option<i64>)>;
        let cases: [(Subscript, Option<Vec<&str>>); 7] = [
            (Some((0, None)), Some(vec!["a"])),
            (Some((-1, None)), Some(vec!["d"])),
            (Some((1, Some(2))), Some(vec!["b", "c"])),
            (Some((2, Some(-1))), Some(vec!["c", "d"])),
            (Some((1, Some(0))), Some(vec!["b"])),
            (Some((9, Some(12))), Some(vec![])),
            (Some((4, None)), None),
        ];
        for (subscript, expected) in cases {
            let got = apply_subscript(hosts.clone(), subscript);
            let expected = expected.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, expected, "{subscript:?}");
        }
    }
}
