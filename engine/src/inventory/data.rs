//! The host/group graph every inventory source writes into, with Ansible's reconciliation rules
//! (`InventoryData` in ansible-core): `all` and `ungrouped` always exist, top-level groups hang off `all`,
//! hosts without a group land in `ungrouped`, and group depth drives variable precedence.

use crate::limits::{GROUP_MAX_DEPTH, INVENTORY_MAX_HOSTS};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The names Ansible treats as "this machine" (`C.LOCALHOST`).
pub const LOCALHOST_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

pub const ALL: usize = 0;
pub const UNGROUPED: usize = 1;

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// Direct members, in the order they were added (this order is what `ansible-inventory` prints).
    pub hosts: Vec<usize>,
    pub children: Vec<usize>,
    pub parents: Vec<usize>,
    pub vars: Map<String, Value>,
    /// The longest path down to the group from a group without parents (`all`, once reconciled), kept
    /// as children are added.
    pub depth: usize,
    pub priority: i64,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub vars: Map<String, Value>,
    /// The groups holding the host directly (`Group::hosts` seen from the host), so that finding a
    /// host's groups does not scan every group's hosts: with a range of 100,000 hosts, that scan made
    /// loading quadratic.
    groups: Vec<usize>,
}

/// Why a relationship could not be added; the caller knows the source position and turns it into an error.
#[derive(Debug, PartialEq, Eq)]
pub enum GraphError {
    SelfChild(String),
    Loop { child: String, parent: String },
    TooDeep { child: String, parent: String },
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::SelfChild(name) => write!(f, "can't add group to itself: {name}"),
            GraphError::Loop { child, parent } => write!(
                f,
                "Adding group '{child}' as child to '{parent}' creates a recursive dependency loop."
            ),
            GraphError::TooDeep { child, parent } => write!(
                f,
                "group nesting limit: adding group '{child}' as child to '{parent}' nests groups more than \
                 {GROUP_MAX_DEPTH} levels deep"
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Data {
    pub groups: Vec<Group>,
    pub hosts: Vec<Host>,
    group_index: HashMap<String, usize>,
    host_index: HashMap<String, usize>,
    /// The source being parsed, recorded on hosts as `inventory_file`/`inventory_dir` when first seen.
    pub current_source: Option<(Value, Value)>,
    pub localhost: Option<usize>,
    pub warnings: Vec<String>,
}

impl Default for Data {
    fn default() -> Self {
        Self::new()
    }
}

impl Data {
    pub fn new() -> Data {
        let mut data = Data {
            groups: Vec::new(),
            hosts: Vec::new(),
            group_index: HashMap::new(),
            host_index: HashMap::new(),
            current_source: None,
            localhost: None,
            warnings: Vec::new(),
        };
        data.add_group("all");
        data.add_group("ungrouped");
        // Cannot fail: two fresh groups.
        let _ = data.add_child_group(ALL, UNGROUPED);
        data
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        let message = message.into();
        // Ansible's Display prints each distinct warning once.
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    pub fn group_id(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    pub fn host_id(&self, name: &str) -> Option<usize> {
        self.host_index.get(name).copied()
    }

    pub fn add_group(&mut self, name: &str) -> usize {
        if let Some(id) = self.group_id(name) {
            return id;
        }
        if has_invalid_group_chars(name) {
            // TRANSFORM_INVALID_GROUP_CHARS defaults to 'never': the name is kept, the user is told.
            self.warn("Invalid characters were found in group names but not replaced, use -vvvv to see details");
        }
        let id = self.groups.len();
        self.groups.push(Group {
            name: name.to_string(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            vars: Map::new(),
            depth: 0,
            priority: 1,
        });
        self.group_index.insert(name.to_string(), id);
        id
    }

    /// Refuses the host names of one inventory entry if they would take the inventory past
    /// [`INVENTORY_MAX_HOSTS`]; the caller knows where the entry is.
    pub fn check_room(&self, names: &[String]) -> Result<(), String> {
        let new = names.iter().filter(|n| self.host_id(n).is_none()).count();
        let total = self.hosts.len() + new;
        if total > INVENTORY_MAX_HOSTS {
            return Err(format!(
                "inventory host limit: these hosts would make {total}, more than the {INVENTORY_MAX_HOSTS} an inventory may hold"
            ));
        }
        Ok(())
    }

    /// Adds the host if new (the port only counts the first time, like `Host(name, port)`), and puts it in
    /// `group` when given.
    pub fn add_host(&mut self, name: &str, group: Option<usize>, port: Option<u64>) -> usize {
        let id = match self.host_id(name) {
            Some(id) => id,
            None => {
                let id = self.hosts.len();
                let mut vars = Map::new();
                if let Some(port) = port {
                    vars.insert("ansible_port".into(), Value::from(port));
                }
                let (file, dir) = self
                    .current_source
                    .clone()
                    .unwrap_or((Value::Null, Value::Null));
                vars.insert("inventory_file".into(), file);
                vars.insert("inventory_dir".into(), dir);
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars,
                    groups: Vec::new(),
                });
                self.host_index.insert(name.to_string(), id);
                if LOCALHOST_NAMES.contains(&name) {
                    match self.localhost {
                        None => self.localhost = Some(id),
                        Some(first) => {
                            let first = self.hosts[first].name.clone();
                            self.warn(format!(
                                "A duplicate localhost-like entry was found ({name}). First found localhost was {first}"
                            ));
                        }
                    }
                }
                id
            }
        };
        if let Some(group) = group {
            self.add_host_to_group(group, id);
        }
        id
    }

    pub fn add_host_to_group(&mut self, group: usize, host: usize) {
        if !self.hosts[host].groups.contains(&group) {
            self.groups[group].hosts.push(host);
            self.hosts[host].groups.push(group);
        }
    }

    pub fn add_child_group(&mut self, parent: usize, child: usize) -> Result<(), GraphError> {
        if parent == child {
            return Err(GraphError::SelfChild(self.groups[parent].name.clone()));
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.ancestors(parent).contains(&child) {
            return Err(GraphError::Loop {
                child: self.groups[child].name.clone(),
                parent: self.groups[parent].name.clone(),
            });
        }
        self.deepen(parent, child)?;
        self.groups[parent].children.push(child);
        if !self.groups[child].parents.contains(&parent) {
            self.groups[child].parents.push(parent);
        }
        Ok(())
    }

    /// Sets a group or host variable; `ansible_group_priority` is not a variable but the group's sort weight.
    pub fn set_group_var(&mut self, group: usize, key: &str, value: Value) -> Result<(), String> {
        if key == "ansible_group_priority" {
            self.groups[group].priority = python_int(&value).ok_or_else(|| {
                format!("invalid literal for int() with base 10: {}", py_str(&value))
            })?;
        } else {
            self.groups[group].vars.insert(key.to_string(), value);
        }
        Ok(())
    }

    pub fn set_host_var(&mut self, host: usize, key: &str, value: Value) {
        self.hosts[host].vars.insert(key.to_string(), value);
    }

    /// Settles the depths below `child` once it hangs under `parent`, or refuses the link if that nests
    /// groups deeper than [`GROUP_MAX_DEPTH`], so that what walks the graph recursively stays shallow. A
    /// link from `all` is never refused: reconciling hangs every top group there, one level deeper.
    fn deepen(&mut self, parent: usize, child: usize) -> Result<(), GraphError> {
        let mut pending = vec![(child, self.groups[parent].depth + 1)];
        // New depths are applied once the whole link is allowed, so that a refused one changes nothing.
        let mut raised: HashMap<usize, usize> = HashMap::new();
        while let Some((group, depth)) = pending.pop() {
            let current = raised
                .get(&group)
                .copied()
                .unwrap_or(self.groups[group].depth);
            if depth <= current {
                continue;
            }
            if depth > GROUP_MAX_DEPTH && parent != ALL {
                return Err(GraphError::TooDeep {
                    child: self.groups[child].name.clone(),
                    parent: self.groups[parent].name.clone(),
                });
            }
            raised.insert(group, depth);
            pending.extend(self.groups[group].children.iter().map(|&c| (c, depth + 1)));
        }
        for (group, depth) in raised {
            self.groups[group].depth = depth;
        }
        Ok(())
    }

    /// Every group above `group` (not including it).
    pub fn ancestors(&self, group: usize) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut listed = vec![false; self.groups.len()];
        let mut stack: Vec<usize> = self.groups[group].parents.clone();
        while let Some(g) = stack.pop() {
            if !listed[g] {
                listed[g] = true;
                seen.push(g);
                stack.extend(self.groups[g].parents.iter().copied());
            }
        }
        seen
    }

    /// The host's groups including every ancestor, like Ansible's `Host.groups`.
    pub fn host_groups(&self, host: usize) -> Vec<usize> {
        let mut direct = self.hosts[host].groups.clone();
        // In the order of the groups, as Ansible walks them.
        direct.sort_unstable();
        let mut result = Vec::new();
        for id in direct {
            for g in self.ancestors(id).into_iter().chain(std::iter::once(id)) {
                if !result.contains(&g) {
                    result.push(g);
                }
            }
        }
        result
    }

    /// The group's hosts including those of every descendant, in Ansible's order: the group itself, its
    /// children, then deeper levels breadth first.
    pub fn group_hosts(&self, group: usize) -> Vec<usize> {
        let mut order = vec![group];
        let mut listed = vec![false; self.groups.len()];
        listed[group] = true;
        let mut level: Vec<usize> = vec![group];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                for &child in &self.groups[g].children {
                    if !listed[child] {
                        listed[child] = true;
                        order.push(child);
                        next.push(child);
                    }
                }
            }
            level = next;
        }
        let mut hosts = Vec::new();
        let mut taken = vec![false; self.hosts.len()];
        for g in order {
            for &h in &self.groups[g].hosts {
                if !taken[h] {
                    taken[h] = true;
                    hosts.push(h);
                }
            }
        }
        hosts
    }

    /// Ansible's `reconcile_inventory`: orphan groups join `all`, groupless hosts join `ungrouped`, and hosts
    /// that found a real group leave `ungrouped`. Depths are kept as groups are linked (`deepen`), which is
    /// what Ansible's incremental updates converge to.
    pub fn reconcile(&mut self) {
        for id in 1..self.groups.len() {
            if self.groups[id].parents.is_empty() {
                // Cannot loop: the group has no parents, so `all` is not its descendant... unless it is `all`'s
                // ancestor, which only happens for `all` itself (id 0, skipped).
                let _ = self.add_child_group(ALL, id);
            }
        }
        let mut leaving = vec![false; self.hosts.len()];
        for (host, leaves) in leaving.iter_mut().enumerate() {
            let groups = self.host_groups(host);
            if groups.contains(&UNGROUPED) {
                *leaves = groups.iter().any(|&g| g != ALL && g != UNGROUPED);
            } else if groups.is_empty() || groups == [ALL] {
                self.add_host_to_group(UNGROUPED, host);
            }
        }
        // Removed at once: one scan of `ungrouped`, not one per leaving host.
        self.groups[UNGROUPED].hosts.retain(|&h| !leaving[h]);
        for (host, leaves) in self.hosts.iter_mut().zip(leaving) {
            if leaves {
                host.groups.retain(|&g| g != UNGROUPED);
            }
        }
        let host_names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
        for name in host_names {
            if self.group_id(&name).is_some() {
                self.warn(format!("Found both group and host with same name: {name}"));
            }
        }
    }
}

/// Ansible's `INVALID_VARIABLE_NAMES`: `^[\d\W]|[^\w]`.
fn has_invalid_group_chars(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        None => false,
        Some(first) if first.is_numeric() || !is_word_char(first) => true,
        Some(_) => chars.any(|c| !is_word_char(c)),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `int(value)` for the values an inventory can hold.
fn python_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        _ => None,
    }
}

fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_moves_hosts_between_ungrouped_and_real_groups() {
        let mut data = Data::new();
        let web = data.add_group("web");
        let a = data.add_host("a", Some(UNGROUPED), None);
        data.add_host("a", Some(web), None);
        let b = data.add_host("b", Some(ALL), None);
        let c = data.add_host("c", Some(UNGROUPED), None);
        data.reconcile();
        assert_eq!(data.groups[UNGROUPED].hosts, vec![c, b]);
        assert_eq!(data.groups[ALL].children, vec![UNGROUPED, web]);
        assert_eq!(data.group_hosts(ALL), vec![b, c, a]);
    }

    #[test]
    fn loops_are_refused() {
        let mut data = Data::new();
        let a = data.add_group("a");
        let b = data.add_group("b");
        data.add_child_group(a, b).unwrap();
        assert_eq!(
            data.add_child_group(b, a).unwrap_err().to_string(),
            "Adding group 'a' as child to 'b' creates a recursive dependency loop."
        );
    }

    #[test]
    fn groups_nest_at_most_the_limit_whichever_end_a_chain_is_built_from() {
        for top_down in [true, false] {
            let mut data = Data::new();
            let groups: Vec<usize> = (0..=GROUP_MAX_DEPTH + 1)
                .map(|i| data.add_group(&format!("g{i}")))
                .collect();
            let mut links: Vec<(usize, usize)> = groups.windows(2).map(|w| (w[0], w[1])).collect();
            if !top_down {
                links.reverse();
            }
            let refused: Vec<String> = links
                .iter()
                .filter_map(|&(parent, child)| data.add_child_group(parent, child).err())
                .map(|e| e.to_string())
                .collect();
            assert_eq!(refused.len(), 1, "top down: {top_down}: {refused:?}");
            assert!(
                refused[0].starts_with("group nesting limit:"),
                "{refused:?}"
            );
            assert!(data.groups.iter().all(|g| g.depth <= GROUP_MAX_DEPTH));
            // Reconciling hangs the top group under `all`, one level deeper, and is never refused.
            data.reconcile();
            assert!(data.groups.iter().all(|g| g.depth <= GROUP_MAX_DEPTH + 1));
        }
    }

    #[test]
    fn depth_is_longest_path_from_all() {
        let mut data = Data::new();
        let a = data.add_group("a");
        let b = data.add_group("b");
        let c = data.add_group("c");
        data.add_child_group(a, b).unwrap();
        data.add_child_group(b, c).unwrap();
        data.add_child_group(a, c).unwrap();
        data.reconcile();
        assert_eq!(
            [
                data.groups[a].depth,
                data.groups[b].depth,
                data.groups[c].depth
            ],
            [1, 2, 3]
        );
    }
}
