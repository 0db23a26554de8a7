//! Inventory: INI, YAML/JSON and host-list sources, groups and host variables with Ansible's precedence,
//! host patterns, and the `ansible-inventory` views.
//!
//! Sources are read the way ansible-core reads them: a comma list is a host list, a directory contributes
//! every file in it (lexical order, ignoring hidden files, `group_vars`/`host_vars` and backup extensions),
//! a `.yml`/`.yaml`/`.json` file is YAML, an extensionless file is YAML when it parses as a mapping and INI
//! otherwise, and anything else is INI.

mod address;
mod data;
mod host_range;
mod ini;
mod listing;
mod pattern;
pub(crate) mod shlex;
mod vars_dirs;
mod yaml_source;

pub use crate::pyliteral::ini_value;
pub use listing::{to_python_json, INTERNAL_STATIC_VARS};
pub use pattern::{split_host_pattern, PatternMatch};

use crate::error::{Error, Result};
use crate::location::Location;
use data::{Data, ALL, LOCALHOST_NAMES};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use vars_dirs::VarsDir;

/// The source read when neither `-i` nor `$ANSIBLE_INVENTORY` names one.
pub const DEFAULT_SOURCE: &str = "/etc/ansible/hosts";

/// File names a directory source skips (`INVENTORY_IGNORE_EXTS` defaults).
const IGNORED_SUFFIXES: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

#[derive(Debug, Clone)]
pub struct Inventory {
    data: Data,
    /// `group_vars/`+`host_vars/` beside each inventory source, in source order.
    inventory_dirs: Vec<VarsDir>,
    /// The same beside each playbook; these win over the inventory's.
    playbook_dirs: Vec<VarsDir>,
    sources: Vec<String>,
}

impl Inventory {
    /// Reads every `-i` source in order. Missing sources are warnings, as in Ansible; malformed ones are errors.
    pub fn load(sources: &[String]) -> Result<Inventory> {
        let mut data = Data::new();
        let mut parsed_any = false;
        let mut var_roots: Vec<PathBuf> = Vec::new();
        for source in sources.iter().filter(|s| !s.is_empty()) {
            let path = Path::new(source);
            if source.contains(',') && !path.exists() {
                host_list(source, &mut data);
                parsed_any = true;
                continue;
            }
            let path = absolute(path);
            // Ansible is quiet about its default source being absent, not about one the user named.
            if !path.exists() && path == Path::new(DEFAULT_SOURCE) {
                continue;
            }
            if !path.exists() {
                data.warn(format!(
                    "Unable to parse {} as an inventory source",
                    path.display()
                ));
                continue;
            }
            parsed_any |= parse_path(&path, &mut data)?;
            var_roots.push(if path.is_dir() {
                path.clone()
            } else {
                path.parent().map(Path::to_path_buf).unwrap_or_default()
            });
        }
        if !parsed_any {
            data.warn("No inventory was parsed, only implicit localhost is available");
        }
        data.reconcile();
        if data.hosts.is_empty() {
            data.warn("provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'");
        }
        let mut inventory = Inventory {
            data,
            inventory_dirs: Vec::new(),
            playbook_dirs: Vec::new(),
            sources: sources.to_vec(),
        };
        for root in var_roots {
            let dir = inventory.load_vars_dir(&root)?;
            inventory.inventory_dirs.push(dir);
        }
        Ok(inventory)
    }

    /// `group_vars/` and `host_vars/` beside a playbook; they take precedence over the inventory's.
    pub fn add_playbook_vars_dirs(&mut self, playbook_dir: &Path) -> Result<()> {
        let root = absolute(playbook_dir);
        if self.playbook_dirs.iter().any(|d| d.root == root) {
            return Ok(());
        }
        let dir = self.load_vars_dir(&root)?;
        self.playbook_dirs.push(dir);
        Ok(())
    }

    fn load_vars_dir(&mut self, root: &Path) -> Result<VarsDir> {
        let groups: Vec<String> = self.data.groups.iter().map(|g| g.name.clone()).collect();
        let mut hosts: Vec<String> = self.data.hosts.iter().map(|h| h.name.clone()).collect();
        // The implicit localhost can have host_vars too.
        hosts.extend(
            LOCALHOST_NAMES
                .iter()
                .filter(|n| self.data.host_id(n).is_none())
                .map(|n| n.to_string()),
        );
        let mut warnings = Vec::new();
        let dir = VarsDir::load(
            root,
            groups.iter().map(String::as_str),
            hosts.iter().map(String::as_str),
            &mut warnings,
        )?;
        for w in warnings {
            self.data.warn(w);
        }
        Ok(dir)
    }

    /// The `-i` sources as given.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Warnings Ansible would print while loading (unparsed sources, skipped YAML keys, odd group names...).
    pub fn warnings(&self) -> &[String] {
        &self.data.warnings
    }

    /// Every host in inventory order (the implicit localhost is not one of them).
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.data.hosts.iter().map(|h| h.name.as_str())
    }

    pub fn has_host(&self, host: &str) -> bool {
        self.data.host_id(host).is_some()
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.data.group_id(group).is_some()
    }

    /// Whether `host` is the implicit localhost: named like localhost and absent from the inventory.
    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        self.data.host_id(host).is_none() && LOCALHOST_NAMES.contains(&host)
    }

    /// The hosts a play's `hosts:` pattern selects, with Ansible's warnings for terms that match nothing.
    pub fn hosts_matching(&self, pattern: &str) -> Result<PatternMatch> {
        let mut evaluator = pattern::Evaluator::new(&self.data);
        let hosts = evaluator.evaluate(&split_host_pattern(pattern))?;
        Ok(PatternMatch {
            hosts,
            warnings: evaluator.warnings,
        })
    }

    /// `hosts_matching` narrowed by `--limit` (which may name `@file`s of host names, relative to `base`).
    pub fn hosts_matching_limited(
        &self,
        pattern: &str,
        limit: Option<&str>,
        base: &Path,
    ) -> Result<PatternMatch> {
        let mut selected = self.hosts_matching(pattern)?;
        let Some(limit) = limit else {
            return Ok(selected);
        };
        let terms = pattern::expand_limit(limit, base)?;
        let mut evaluator = pattern::Evaluator::new(&self.data);
        let allowed: std::collections::HashSet<String> =
            evaluator.evaluate(&terms)?.into_iter().collect();
        selected.hosts.retain(|h| allowed.contains(h));
        for w in evaluator.warnings {
            if !selected.warnings.contains(&w) {
                selected.warnings.push(w);
            }
        }
        Ok(selected)
    }

    /// The `group_names` magic variable: every group the host is in, directly or through children, sorted,
    /// without `all`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(id) = self.data.host_id(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .data
            .host_groups(id)
            .into_iter()
            .filter(|&g| g != ALL)
            .map(|g| self.data.groups[g].name.clone())
            .collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group, `all` and `ungrouped` included, with its hosts.
    pub fn groups_map(&self) -> Map<String, Value> {
        self.data
            .groups
            .iter()
            .enumerate()
            .map(|(id, g)| {
                let hosts = self
                    .data
                    .group_hosts(id)
                    .into_iter()
                    .map(|h| Value::String(self.data.hosts[h].name.clone()));
                (g.name.clone(), Value::Array(hosts.collect()))
            })
            .collect()
    }

    /// Every inventory-level variable of the host, merged lowest to highest: the inventory's `all` vars, its
    /// other group vars (by depth, then `ansible_group_priority`, then name), `group_vars/all` beside the
    /// inventory then the playbook, `group_vars/<group>` likewise, the host's inventory vars, then
    /// `host_vars/<host>` beside the inventory and the playbook. Later values replace earlier ones whole.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let mut vars = Map::new();
        let merge = |vars: &mut Map<String, Value>, more: Option<&Map<String, Value>>| {
            for (k, v) in more.into_iter().flatten() {
                vars.insert(k.clone(), v.clone());
            }
        };
        let id = self.data.host_id(host);
        let groups = id.map(|h| self.sorted_groups(h)).unwrap_or_default();
        let group_names: Vec<&str> = groups
            .iter()
            .map(|&g| self.data.groups[g].name.as_str())
            .collect();

        merge(&mut vars, Some(&self.data.groups[ALL].vars));
        for &g in &groups {
            merge(&mut vars, Some(&self.data.groups[g].vars));
        }
        for dir in self.inventory_dirs.iter().chain(&self.playbook_dirs) {
            merge(&mut vars, dir.groups.get("all"));
        }
        for dirs in [&self.inventory_dirs, &self.playbook_dirs] {
            for dir in dirs {
                for name in &group_names {
                    merge(&mut vars, dir.groups.get(*name));
                }
            }
        }
        match id {
            Some(h) => merge(&mut vars, Some(&self.data.hosts[h].vars)),
            None if LOCALHOST_NAMES.contains(&host) => {
                vars.insert("ansible_connection".into(), Value::String("local".into()));
            }
            None => {}
        }
        for dir in self.inventory_dirs.iter().chain(&self.playbook_dirs) {
            merge(&mut vars, dir.hosts.get(host));
        }
        vars
    }

    /// Every variable name the inventory gives to any host: host and group variables of the sources, and
    /// of `group_vars/`/`host_vars/` beside the inventory and the playbooks. For load-time checks, which only
    /// need to know that a name exists somewhere, so nothing is merged.
    pub fn variable_names(&self) -> std::collections::HashSet<String> {
        let groups = self.data.groups.iter().map(|g| &g.vars);
        let hosts = self.data.hosts.iter().map(|h| &h.vars);
        let dirs = self
            .inventory_dirs
            .iter()
            .chain(&self.playbook_dirs)
            .flat_map(|d| d.groups.values().chain(d.hosts.values()));
        groups
            .chain(hosts)
            .chain(dirs)
            .flat_map(|vars| vars.keys().cloned())
            .collect()
    }

    /// The host's groups other than `all`, in the order their variables apply.
    fn sorted_groups(&self, host: usize) -> Vec<usize> {
        let mut groups: Vec<usize> = self
            .data
            .host_groups(host)
            .into_iter()
            .filter(|&g| g != ALL)
            .collect();
        groups.sort_by(|&a, &b| {
            let (a, b) = (&self.data.groups[a], &self.data.groups[b]);
            (a.depth, a.priority, &a.name).cmp(&(b.depth, b.priority, &b.name))
        });
        groups
    }

    /// Exactly what `ansible-inventory --list` prints (render it with [`to_python_json`]).
    pub fn list_json(&self) -> Value {
        listing::list(&self.data, |h| self.host_vars(&self.data.hosts[h].name))
    }

    /// `ansible-inventory --host HOST`: the host's variables without the internal ones, keys sorted.
    pub fn host_json(&self, host: &str) -> Result<Value> {
        let selected = self.hosts_matching(host)?;
        match selected.hosts.as_slice() {
            [one] => Ok(listing::sort_keys(Value::Object(listing::remove_internal(
                self.host_vars(one),
            )))),
            _ => Err(Error::options(
                "You must pass a single valid host to --host parameter",
            )),
        }
    }

    /// `ansible-inventory --graph [GROUP]` (without `--vars`).
    pub fn graph(&self, group: Option<&str>) -> Result<String> {
        let name = group.unwrap_or("all");
        let id = self.data.group_id(name).ok_or_else(|| {
            let err = Error::options("Pattern must be valid group name when using --graph");
            match crate::suggest::hint(name, self.data.groups.iter().map(|g| g.name.as_str())) {
                Some(hint) => err.with_hint(hint),
                None => err,
            }
        })?;
        Ok(listing::graph(&self.data, id))
    }
}

/// `-i 'a,b:2222,'`: each comma-separated entry is a host in `ungrouped`.
fn host_list(source: &str, data: &mut Data) {
    data.current_source = Some((Value::String(source.to_string()), Value::Null));
    for entry in source.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (host, port) =
            address::parse_address(entry, false).unwrap_or_else(|| (entry.to_string(), None));
        if data.host_id(&host).is_none() {
            data.add_host(&host, Some(data::UNGROUPED), port);
        }
    }
    data.current_source = None;
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Reads a file or every file of a directory. Returns whether anything was parsed.
fn parse_path(path: &Path, data: &mut Data) -> Result<bool> {
    if path.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut parsed = false;
        for name in names {
            let ignored = name.starts_with('.')
                || matches!(name.as_str(), "host_vars" | "group_vars" | "vars_plugins")
                || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s));
            if !ignored {
                parsed |= parse_path(&path.join(name), data)?;
            }
        }
        return Ok(parsed);
    }
    let file = Value::String(path.display().to_string());
    let dir = Value::String(
        path.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    data.current_source = Some((file, dir));
    let result = parse_file(path, data);
    data.current_source = None;
    result.map(|()| true)
}

fn parse_file(path: &Path, data: &mut Data) -> Result<()> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    match ext.as_deref() {
        Some("yml" | "yaml" | "json") => {
            let docs = load_yaml_or_json(&text, path, ext.as_deref() == Some("json"))?;
            match docs.as_slice() {
                [] => Err(Error::parse(
                    Location::file_start(path),
                    "Parsed empty YAML file",
                )),
                [doc] if doc.is_null() => {
                    Err(Error::parse(doc.loc.clone(), "Parsed empty YAML file"))
                }
                [doc] if doc.as_map().is_some() => yaml_source::parse(doc, data),
                [doc] => Err(Error::parse(
                    doc.loc.clone(),
                    format!(
                        "YAML inventory has invalid structure, it should be a dictionary, got: {}",
                        doc.kind_name()
                    ),
                )),
                [_, second, ..] => Err(Error::parse(
                    second.loc.clone(),
                    "expected a single document in the stream",
                )),
            }
        }
        None => match crate::yaml::load_str(&text, path) {
            Ok(docs) if yaml_source::looks_like_inventory(&docs) => {
                yaml_source::parse(&docs[0], data)
            }
            yaml_result => ini::parse(&text, path, data).map_err(|err| match yaml_result {
                Err(yaml_err) if looks_like_yaml(&text) => {
                    let hint = format!("read as YAML instead, it fails with: {yaml_err}");
                    err.with_hint(hint)
                }
                _ => err,
            }),
        },
        Some(_) => ini::parse(&text, path, data),
    }
}

fn looks_like_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l == "---" || l.ends_with(':'))
}

/// JSON is read by the YAML reader for positions; serde_json explains JSON syntax errors better.
fn load_yaml_or_json(text: &str, path: &Path, json: bool) -> Result<Vec<crate::yaml::Node>> {
    if json {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err(Error::parse(
                Location::new(path, e.line(), e.column()),
                format!("invalid JSON: {e}"),
            ));
        }
    }
    crate::yaml::load_str(text, path)
}
