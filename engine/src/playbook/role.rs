//! Roles: finding them, reading their standard layout, and expanding them (dependencies first) into blocks.

use super::fields;
use super::keyword_set::Keywords;
use super::loader::{recursion, Import, Loader, Scope};
use super::task::{Block, BlockOrigin, TaskItem};
use crate::error::{Error, Result};
use crate::suggest;
use crate::vars::VarMap;
use crate::yaml::{self, Node, NodeValue};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A role as one inclusion uses it: its files' variables and the parameters it was given.
#[derive(Debug, PartialEq)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    pub defaults: VarMap,
    pub vars: VarMap,
    /// The files `defaults` and `vars` were read from, for messages about one of their variables.
    pub defaults_files: Vec<PathBuf>,
    pub vars_files: Vec<PathBuf>,
    pub params: VarMap,
    pub allow_duplicates: bool,
}

/// How a role is asked for: by `roles:`, `import_role:` or a meta dependency.
pub(crate) struct RoleRequest {
    pub name: String,
    pub loc: crate::location::Location,
    pub keywords: Keywords,
    pub when: Vec<fields::Condition>,
    pub params: VarMap,
    pub tasks_from: String,
    pub handlers_from: String,
    pub vars_from: String,
    pub defaults_from: String,
}

impl RoleRequest {
    pub fn named(name: String, loc: crate::location::Location) -> Self {
        RoleRequest {
            name,
            loc,
            keywords: Keywords::default(),
            when: Vec::new(),
            params: VarMap::new(),
            tasks_from: "main".into(),
            handlers_from: "main".into(),
            vars_from: "main".into(),
            defaults_from: "main".into(),
        }
    }

    /// The arguments of `import_role`/`include_role` (`name`, `tasks_from`, ...). Role variables go in
    /// `vars:`, so any other argument is a mistake worth reporting.
    pub fn from_arguments(
        action: &str,
        args: &VarMap,
        loc: &crate::location::Location,
    ) -> Result<Self> {
        const OPTIONS: &[&str] = &[
            "name",
            "role",
            "tasks_from",
            "vars_from",
            "defaults_from",
            "handlers_from",
            "allow_duplicates",
            "public",
            "rolespec_validate",
            "apply",
        ];
        let text = |key: &str| args.get(key).and_then(|v| v.as_str()).map(String::from);
        let name = text("name").or_else(|| text("role")).ok_or_else(|| {
            Error::parse(loc.clone(), format!("{action} needs a 'name'"))
                .with_hint(format!("write `{action}: name=myrole`"))
        })?;
        if let Some(key) = args.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(Error::parse(loc.clone(), format!("'{key}' is not a valid option for {action}")).with_hint(format!(
                "{action} takes name, tasks_from, vars_from, defaults_from and handlers_from; pass role variables with `vars:`"
            )));
        }
        let mut request = RoleRequest::named(name, loc.clone());
        for (field, slot) in [
            ("tasks_from", &mut request.tasks_from),
            ("vars_from", &mut request.vars_from),
            ("defaults_from", &mut request.defaults_from),
            ("handlers_from", &mut request.handlers_from),
        ] {
            if let Some(given) = text(field) {
                *slot = given
                    .trim_end_matches(".yml")
                    .trim_end_matches(".yaml")
                    .to_string();
            }
        }
        Ok(request)
    }

    /// An entry of `roles:` or `dependencies:`: a name, or a mapping with `role:` (or `name:`), keywords and
    /// role parameters.
    pub fn from_node(node: &Node) -> Result<Self> {
        match &node.value {
            NodeValue::String(name) => Ok(RoleRequest::named(name.clone(), node.loc.clone())),
            NodeValue::Map(entries) => {
                let name_node = node
                    .get("role")
                    .or_else(|| node.get("name"))
                    .ok_or_else(|| {
                        Error::parse(
                            node.loc.clone(),
                            "role entries need a 'role' key naming the role",
                        )
                        .with_hint("write `- role: name` (or just `- name`)")
                    })?;
                let mut request =
                    RoleRequest::named(fields::string("role", name_node)?, name_node.loc.clone());
                for (key_node, value) in entries {
                    let key = key_node.key_text();
                    if key == "role" || (key == "name" && node.get("role").is_none()) {
                        continue;
                    }
                    if request.keywords.read(&key, value)? {
                        continue;
                    }
                    match key.as_str() {
                        "when" => request.when = fields::conditions(&key, value)?,
                        "delegate_to" | "delegate_facts" => {
                            return Err(super::unsupported::refuse(&key, key_node.loc.clone()))
                        }
                        // Anything else is a role parameter, exactly as Ansible treats it.
                        _ => {
                            request.params.insert(key, value.to_json());
                        }
                    }
                }
                Ok(request)
            }
            _ => Err(Error::parse(
                node.loc.clone(),
                format!(
                    "a role entry must be a name or a mapping, got {}",
                    node.kind_name()
                ),
            )),
        }
    }
}

/// The `main` file of a role folder: `main.yml`, `main.yaml`, `main`, or a `main/` directory of files.
fn role_file(dir: &Path, stem: &str) -> Vec<PathBuf> {
    for candidate in [
        format!("{stem}.yml"),
        format!("{stem}.yaml"),
        stem.to_string(),
        format!("{stem}.json"),
    ] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return vec![path];
        }
        if path.is_dir() && candidate == stem {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yml" | "yaml" | "json")
                        )
                })
                .collect();
            files.sort();
            return files;
        }
    }
    Vec::new()
}

fn load_vars_files(files: &[PathBuf]) -> Result<VarMap> {
    let mut vars = VarMap::new();
    for file in files {
        for doc in yaml::load_file(file)? {
            vars.extend(fields::var_map("vars", &doc)?);
        }
    }
    Ok(vars)
}

impl Loader {
    /// Where a role name is looked for, in Ansible's order.
    fn role_search_path(&self, scope: &Scope) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(role) = &scope.role {
            if let Some(parent) = role.path.parent() {
                dirs.push(parent.to_path_buf());
            }
        }
        dirs.push(self.playbook_dir.join("roles"));
        dirs.extend(self.roles_path.iter().cloned());
        dirs.push(self.playbook_dir.clone());
        dirs
    }

    fn find_role(&self, request: &RoleRequest, scope: &Scope) -> Result<PathBuf> {
        let as_path = Path::new(&request.name);
        if as_path.is_absolute() && as_path.is_dir() {
            return Ok(as_path.to_path_buf());
        }
        // Collection-style names (`ns.coll.role`) are looked for by their last part.
        let short = request.name.rsplit('.').next().unwrap_or(&request.name);
        let search = self.role_search_path(scope);
        for dir in &search {
            for name in [request.name.as_str(), short] {
                let candidate = dir.join(name);
                if candidate.join("tasks").is_dir()
                    || candidate.join("meta").is_dir()
                    || candidate.join("handlers").is_dir()
                {
                    return Ok(candidate);
                }
            }
        }
        let known: Vec<String> = search
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .filter(|e| e.path().join("tasks").is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let searched = search
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        let hint =
            suggest::hint(&request.name, known.iter().map(String::as_str)).unwrap_or_else(|| {
                format!("searched in {searched}; set ANSIBLE_ROLES_PATH to add folders")
            });
        Err(Error::parse(
            request.loc.clone(),
            format!("the role '{}' was not found in {searched}", request.name),
        )
        .with_hint(hint))
    }

    /// Expands a role into one block holding its dependencies' blocks, then its own tasks, so that the
    /// inclusion's keywords (tags, when, become) reach the dependencies too. Its handlers join the play's.
    pub(crate) fn role_blocks(
        &mut self,
        request: RoleRequest,
        scope: &Scope,
    ) -> Result<Vec<Block>> {
        let path = self.find_role(&request, scope)?;
        let name = path.file_name().map_or_else(
            || request.name.clone(),
            |n| n.to_string_lossy().into_owned(),
        );
        let meta = role_file(&path.join("meta"), "main");
        let meta_doc = match meta.first() {
            Some(file) => yaml::load_file(file)?.into_iter().next(),
            None => None,
        };
        // Whether a role already run in the play runs again is decided when the play runs (as Ansible
        // does), so listings show every inclusion.
        let allow_duplicates = match meta_doc.as_ref().and_then(|m| m.get("allow_duplicates")) {
            Some(node) => {
                fields::boolish("allow_duplicates", node)? == serde_json::Value::Bool(true)
            }
            None => false,
        };
        let import = Import {
            id: path.clone(),
            shown: name.clone(),
            from: Some(request.loc.clone()),
        };
        if self.role_stack.iter().any(|r| r.id == path) {
            return Err(recursion("role", "uses role", &self.role_stack, import));
        }
        self.nest(&request.loc)?;
        let defaults_files = role_file(&path.join("defaults"), &request.defaults_from);
        let vars_files = role_file(&path.join("vars"), &request.vars_from);
        let role = Arc::new(Role {
            name,
            defaults: load_vars_files(&defaults_files)?,
            vars: load_vars_files(&vars_files)?,
            defaults_files,
            vars_files,
            params: request.params.clone(),
            path: path.clone(),
            allow_duplicates,
        });
        let role_scope = Scope {
            file: path.join("tasks").join("main.yml"),
            role: Some(role.clone()),
        };
        let mut blocks = Vec::new();
        self.role_stack.push(import);
        if let Some(dependencies) = meta_doc.as_ref().and_then(|m| m.get("dependencies")) {
            for dependency in fields::sequence("dependencies", dependencies)? {
                let dependency = RoleRequest::from_node(dependency)?;
                blocks.extend(self.role_blocks(dependency, &role_scope)?);
            }
        }
        let task_files = role_file(&path.join("tasks"), &request.tasks_from);
        if task_files.is_empty() && request.tasks_from != "main" {
            return Err(Error::parse(
                request.loc.clone(),
                format!(
                    "could not find or access '{}' in role '{}'",
                    request.tasks_from, role.name
                ),
            )
            .with_hint(format!(
                "expected {}",
                path.join("tasks")
                    .join(format!("{}.yml", request.tasks_from))
                    .display()
            )));
        }
        let mut tasks: Vec<TaskItem> = blocks
            .drain(..)
            .map(|b| TaskItem::Block(Box::new(b)))
            .collect();
        for file in &task_files {
            let file_scope = Scope {
                file: file.clone(),
                role: Some(role.clone()),
            };
            tasks.extend(self.task_file(file, &request.loc, &file_scope)?);
        }
        // A role included twice still has one set of handlers.
        let handlers_loaded = self.role_handlers.iter().any(
            |h| matches!(h, TaskItem::Task(t) if t.role.as_ref().is_some_and(|r| r.path == path)),
        );
        let handler_files = if handlers_loaded {
            Vec::new()
        } else {
            role_file(&path.join("handlers"), &request.handlers_from)
        };
        for file in handler_files {
            let file_scope = Scope {
                file: file.clone(),
                role: Some(role.clone()),
            };
            let handlers = self.task_file(&file, &request.loc, &file_scope)?;
            self.role_handlers.extend(handlers);
        }
        self.role_stack.pop();
        self.unnest();
        blocks.push(Block {
            loc: request.loc.clone(),
            name: None,
            origin: BlockOrigin::Role,
            keywords: request.keywords,
            when: request.when,
            delegate_to: None,
            ignore_errors: None,
            notify: Vec::new(),
            block: tasks,
            rescue: Vec::new(),
            always: Vec::new(),
            role: Some(role),
        });
        Ok(blocks)
    }

    /// `- import_role: name=x tasks_from=y` with the import task's keywords applied to the role's blocks.
    pub(crate) fn import_role(
        &mut self,
        task: Box<super::task::Task>,
        scope: &Scope,
    ) -> Result<Vec<Block>> {
        let mut request =
            RoleRequest::from_arguments("import_role", &task.action.args, &task.action.loc)?;
        request.keywords = task.keywords;
        request.when = task.when;
        if task.loop_.is_some() {
            return Err(
                Error::parse(task.loc, "you cannot use loops on 'import_role' statements")
                    .with_hint("use 'include_role' instead"),
            );
        }
        self.role_blocks(request, scope)
    }

    pub(crate) fn play_roles(&mut self, node: &Node, scope: &Scope) -> Result<Vec<TaskItem>> {
        let mut items = Vec::new();
        for entry in fields::sequence("roles", node)? {
            let request = RoleRequest::from_node(entry)?;
            items.extend(
                self.role_blocks(request, scope)?
                    .into_iter()
                    .map(|b| TaskItem::Block(Box::new(b))),
            );
        }
        Ok(items)
    }
}
