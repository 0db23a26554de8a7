//! Variables templated on access.
//!
//! Ansible stores variables raw and templates a value only when a template reads it, so
//! `b: "{{ a }}-x"` sees whatever `a` is at that moment and unused variables that would fail never
//! do. [`LazyVars`] wraps the raw map as a minijinja object whose lookups template strings (natively
//! for single expressions) and wrap nested maps and lists in objects that do the same.

use super::native::{self, contains_template};
use super::{is_templated, Core, VarMap};
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};
use minijinja::{Error, ErrorKind};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

/// The name under which the variables object is reachable from filters and lookups (through
/// `State::lookup`), e.g. to render `lookup('template')` with the caller's variables.
pub(crate) const VARS_KEY: &str = "__ply_vars__";

/// One templating call's view of the variables. The object graph can form reference cycles
/// (cached values that point back at the root), so the scope clears the caches when done.
pub(crate) struct Scope {
    root: Arc<LazyVars>,
}

impl Scope {
    pub(crate) fn new(core: &Arc<Core>, vars: &VarMap, shared: Option<&Arc<VarMap>>) -> Scope {
        Scope {
            root: LazyVars::new(core.clone(), Arc::new(vars.clone()), shared.cloned()),
        }
    }

    pub(crate) fn context(&self) -> Value {
        Value::from_dyn_object(self.root.clone())
    }

    pub(crate) fn finish(self) {
        self.root
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

pub(crate) struct LazyVars {
    core: Arc<Core>,
    vars: Arc<VarMap>,
    /// Variables shared by every host of a task step (`hostvars`), read after `vars`: one copy for all
    /// hosts instead of one per host and per templating call.
    shared: Option<Arc<VarMap>>,
    /// Where a name missing here is read: for one host of `hostvars`, the variables of the templating
    /// call that reached it (`groups`, `playbook_dir`, ... are not in a host's entry).
    parent: Option<Arc<LazyVars>>,
    me: Weak<LazyVars>,
    cache: Mutex<HashMap<String, Value>>,
    guard: Guard,
}

impl std::fmt::Debug for LazyVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyVars")
            .field("vars", &self.vars.len())
            .finish()
    }
}

impl LazyVars {
    pub(crate) fn new(
        core: Arc<Core>,
        vars: Arc<VarMap>,
        shared: Option<Arc<VarMap>>,
    ) -> Arc<LazyVars> {
        Self::with_parent(core, vars, shared, None)
    }

    fn with_parent(
        core: Arc<Core>,
        vars: Arc<VarMap>,
        shared: Option<Arc<VarMap>>,
        parent: Option<Arc<LazyVars>>,
    ) -> Arc<LazyVars> {
        Arc::new_cyclic(|me| LazyVars {
            core,
            vars,
            shared,
            parent,
            me: me.clone(),
            cache: Mutex::new(HashMap::new()),
            guard: Guard::default(),
        })
    }
}

impl LazyVars {
    /// Whether `name` is a variable (without templating it).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.vars.contains_key(name)
            || self.shared.as_ref().is_some_and(|s| s.contains_key(name))
            || name == "vars"
            || name == VARS_KEY
            || self.parent.as_ref().is_some_and(|p| p.has(name))
    }

    fn raw(&self, name: &str) -> Option<&serde_json::Value> {
        self.vars
            .get(name)
            .or_else(|| self.shared.as_ref()?.get(name))
    }
}

impl Object for LazyVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Some(hit.clone());
        }
        let Some(raw) = self.raw(name) else {
            if let Some(parent) = &self.parent {
                return parent.get_value(key);
            }
            // Ansible's `vars` magic variable: all variables, templated on access.
            return (name == VARS_KEY || name == "vars")
                .then(|| Value::from_dyn_object(self.clone()));
        };
        let value = match raw {
            serde_json::Value::Object(_) if name == "hostvars" => {
                Value::from_object(HostVars::new(self.clone()))
            }
            _ => resolve(&self.core, &self.me, raw, &self.guard, name),
        };
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), value.clone());
        Some(value)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let shared = self.shared.iter().flat_map(|s| s.keys());
        let keys = self
            .vars
            .keys()
            .chain(shared.filter(|k| !self.vars.contains_key(*k)));
        Enumerator::Values(keys.map(|k| Value::from(k.as_str())).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.vars.len())
    }
}

/// `hostvars`: each host's variables, templated in that host's own context as Ansible does, so that
/// `hostvars[b].x` with `x: "{{ inventory_hostname }}-x"` is `b-x` whichever host reads it. Names a host's
/// entry lacks (`groups`, `playbook_dir`) are read from the caller's variables while templating, but
/// are not entries of `hostvars[b]` (role defaults and play vars are not host variables).
struct HostVars {
    caller: Arc<LazyVars>,
    cache: Mutex<HashMap<String, Value>>,
}

impl std::fmt::Debug for HostVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostVars").finish_non_exhaustive()
    }
}

impl HostVars {
    fn new(caller: Arc<LazyVars>) -> HostVars {
        HostVars {
            caller,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn hosts(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.caller.raw("hostvars")?.as_object()
    }
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = key.as_str()?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(host) {
            return Some(hit.clone());
        }
        let serde_json::Value::Object(vars) = self.hosts()?.get(host)? else {
            return None;
        };
        let own = Arc::new(vars.clone().into_iter().collect::<VarMap>());
        let context = LazyVars::with_parent(
            self.caller.core.clone(),
            own,
            None,
            Some(self.caller.clone()),
        );
        let entry = Value::from_object(HostEntry { context });
        cache.insert(host.to_owned(), entry.clone());
        Some(entry)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.hosts() {
            Some(hosts) => {
                Enumerator::Values(hosts.keys().map(|k| Value::from(k.as_str())).collect())
            }
            None => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.hosts().map(|hosts| hosts.len())
    }
}

/// One host of `hostvars`: only its own variables, templated in its context.
struct HostEntry {
    context: Arc<LazyVars>,
}

impl std::fmt::Debug for HostEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostEntry").finish_non_exhaustive()
    }
}

impl Object for HostEntry {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if !self.context.vars.contains_key(name) {
            return None;
        }
        self.context.get_value(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.context
                .vars
                .keys()
                .map(|k| Value::from(k.as_str()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.context.vars.len())
    }
}

/// Remembers which keys of one container are being templated right now, to turn
/// `a: "{{ a }}"` into an error rather than a stack overflow.
#[derive(Default)]
struct Guard {
    active: Mutex<HashSet<String>>,
}

impl Guard {
    fn enter(&self, key: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned())
    }

    fn leave(&self, key: &str) {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Turns one raw value into a template value, templating what needs templating.
fn resolve(
    core: &Arc<Core>,
    root: &Weak<LazyVars>,
    raw: &serde_json::Value,
    guard: &Guard,
    key: &str,
) -> Value {
    match raw {
        serde_json::Value::String(s) if is_templated(s) => {
            let Some(root) = root.upgrade() else {
                return Value::UNDEFINED;
            };
            if !guard.enter(key) {
                return Value::from(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("recursive loop detected in template string: {s}"),
                ));
            }
            let result = native::eval_string(core, s, Value::from_dyn_object(root));
            guard.leave(key);
            match result {
                Ok(value) => value,
                // Undefined like Ansible's lazily templated vars: `b is defined` is false and
                // `b | default(x)` works; printing it names the missing variable.
                Err(err) if err.kind() == ErrorKind::UndefinedError && !is_nested_message(&err) => {
                    Value::UNDEFINED
                }
                Err(err) => Value::from(nested_error(err, s)),
            }
        }
        serde_json::Value::Object(_) if contains_template(raw) => {
            Value::from_object(LazyNode::new(core, root, raw))
        }
        serde_json::Value::Array(items) if contains_template(raw) => Value::from_object(
            LazyNode::new(core, root, &serde_json::Value::Array(items.clone())),
        ),
        other => Value::from(Serde(other)),
    }
}

/// Errors we already turned into a final message (recursion) must not be swallowed.
fn is_nested_message(err: &Error) -> bool {
    err.detail()
        .is_some_and(|d| d.starts_with("recursive loop detected"))
}

/// Keeps the innermost, most specific message when a variable's own template fails.
fn nested_error(err: Error, source: &str) -> Error {
    let message = super::errors::describe(&err, source);
    if message.contains("recursive loop detected") {
        return Error::new(ErrorKind::InvalidOperation, message);
    }
    Error::new(err.kind(), message)
}

/// A nested map or list that contains templated strings.
struct LazyNode {
    core: Arc<Core>,
    root: Weak<LazyVars>,
    raw: serde_json::Value,
    cache: Mutex<HashMap<String, Value>>,
    guard: Guard,
}

impl std::fmt::Debug for LazyNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyNode").finish_non_exhaustive()
    }
}

impl LazyNode {
    fn new(core: &Arc<Core>, root: &Weak<LazyVars>, raw: &serde_json::Value) -> LazyNode {
        LazyNode {
            core: core.clone(),
            root: root.clone(),
            raw: raw.clone(),
            cache: Mutex::new(HashMap::new()),
            guard: Guard::default(),
        }
    }

    fn child(&self, cache_key: String, raw: &serde_json::Value) -> Value {
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return hit.clone();
        }
        let value = resolve(&self.core, &self.root, raw, &self.guard, &cache_key);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, value.clone());
        value
    }
}

impl Object for LazyNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.raw {
            serde_json::Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match &self.raw {
            serde_json::Value::Object(map) => {
                let name = key.as_str()?;
                let raw = map.get(name)?;
                Some(self.child(name.to_owned(), raw))
            }
            serde_json::Value::Array(items) => {
                let index = key.as_i64()?;
                let index = if index < 0 {
                    items.len() as i64 + index
                } else {
                    index
                };
                let raw = items.get(usize::try_from(index).ok()?)?;
                Some(self.child(index.to_string(), raw))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match &self.raw {
            serde_json::Value::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            serde_json::Value::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match &self.raw {
            serde_json::Value::Object(map) => Some(map.len()),
            serde_json::Value::Array(items) => Some(items.len()),
            _ => None,
        }
    }
}
