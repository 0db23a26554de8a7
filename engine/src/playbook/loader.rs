//! Reading a playbook file and everything it imports: plays, imported playbooks and task files, roles.

use super::fields::{self, Condition};
use super::play::Play;
use super::task::{Block, BlockOrigin, Task, TaskItem};
use super::validate;
use crate::diagnostic::chain;
use crate::error::{Error, Result};
use crate::limits::TASK_MAX_DEPTH;
use crate::location::Location;
use crate::template::is_templated;
use crate::yaml::{self, Node, NodeValue};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A parsed playbook: its plays in order, with `import_playbook` entries expanded.
#[derive(Clone, Debug)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

impl Playbook {
    /// Loads and validates a playbook file and every file it imports.
    pub fn load(path: &Path) -> Result<Playbook> {
        // A playbook named without a folder leaves this empty, so that paths in messages read `roles/x/...`.
        let playbook_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut loader = Loader::new(playbook_dir, 0);
        let plays = loader.playbook_file(path, None)?;
        for play in &plays {
            validate::notify_targets(play)?;
        }
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// `ANSIBLE_ROLES_PATH`, then Ansible's default role folders.
fn roles_path_from_env() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var("ANSIBLE_ROLES_PATH")
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".ansible/roles"));
    }
    dirs.push(PathBuf::from("/usr/share/ansible/roles"));
    dirs.push(PathBuf::from("/etc/ansible/roles"));
    dirs
}

/// Where the loader is: the file being read and the role it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub file: PathBuf,
    pub role: Option<Arc<super::role::Role>>,
}

pub(crate) struct Loader {
    pub playbook_dir: PathBuf,
    pub roles_path: Vec<PathBuf>,
    /// Files being imported, to report import cycles instead of overflowing the stack.
    pub import_stack: Vec<Import>,
    /// Roles being expanded, for the same reason.
    pub role_stack: Vec<Import>,
    /// Handlers of the roles of the current play, appended to the play's own.
    pub role_handlers: Vec<TaskItem>,
    /// How many blocks, imports and roles enclose what is being read (an include's file starts at the
    /// include's depth), bounded by [`TASK_MAX_DEPTH`] so that neither this recursive loader nor the
    /// executor, which recurses once per block, can overflow the stack.
    pub depth: usize,
}

/// A file or role being read, and the statement that asked for it (none for the playbook itself).
pub(crate) struct Import {
    pub id: PathBuf,
    pub shown: String,
    pub from: Option<Location>,
}

/// The error for an import or role that is already being read: the cycle, and where each step of it is
/// (`verb` says what a step does: "imports").
pub(crate) fn recursion(what: &str, verb: &str, stack: &[Import], again: Import) -> Error {
    let first = stack
        .iter()
        .position(|i| i.id == again.id)
        .unwrap_or_default();
    let cycle = &stack[first..];
    let names = cycle
        .iter()
        .map(|i| i.shown.clone())
        .chain([again.shown.clone()]);
    let steps: Vec<String> = cycle[1..]
        .iter()
        .chain([&again])
        .filter_map(|i| {
            i.from
                .as_ref()
                .map(|loc| format!("{loc} {verb} {}", i.shown))
        })
        .collect();
    let loc = again
        .from
        .clone()
        .unwrap_or_else(|| Location::file_start(&again.id));
    Error::parse(loc, format!("{what} recursion: {}", chain(names))).with_hint(format!(
        "{}; {what}s are expanded when the playbook loads, so they cannot recurse",
        steps.join(", ")
    ))
}

fn nesting_limit(loc: &Location) -> Error {
    Error::parse(
        loc.clone(),
        format!("nesting limit: blocks, imports, roles and includes nest more than {TASK_MAX_DEPTH} levels deep here"),
    )
    .with_hint("real playbooks nest far less; look for a chain of imports or roles that never ends")
}

fn single_document(path: &Path) -> Result<Option<Node>> {
    let mut docs = yaml::load_file(path)?;
    match docs.len() {
        0 => Ok(None),
        1 => Ok(docs.pop()),
        _ => Err(Error::parse(
            docs[1].loc.clone(),
            "this file holds more than one YAML document",
        )
        .with_hint("remove the second `---`, or split the file")),
    }
}

impl Loader {
    pub(crate) fn new(playbook_dir: PathBuf, depth: usize) -> Loader {
        Loader {
            playbook_dir,
            roles_path: roles_path_from_env(),
            import_stack: Vec::new(),
            role_stack: Vec::new(),
            role_handlers: Vec::new(),
            depth,
        }
    }

    /// Starts reading `path`, asked for at `from`; refuses a file already being read.
    fn enter(&mut self, path: &Path, from: Option<&Location>) -> Result<()> {
        let import = Import {
            id: path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
            shown: path.display().to_string(),
            from: from.cloned(),
        };
        if self.import_stack.iter().any(|i| i.id == import.id) {
            return Err(recursion("import", "imports", &self.import_stack, import));
        }
        self.import_stack.push(import);
        Ok(())
    }

    /// One level deeper into blocks, imports and roles, at `loc`; [`Loader::unnest`] leaves it.
    pub(crate) fn nest(&mut self, loc: &Location) -> Result<()> {
        if self.depth >= TASK_MAX_DEPTH {
            return Err(nesting_limit(loc));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn unnest(&mut self) {
        self.depth -= 1;
    }

    fn playbook_file(&mut self, path: &Path, from: Option<&Location>) -> Result<Vec<Play>> {
        self.enter(path, from)?;
        let scope = Scope {
            file: path.to_path_buf(),
            role: None,
        };
        let Some(doc) = single_document(path)? else {
            self.import_stack.pop();
            return Ok(Vec::new());
        };
        let entries = doc.as_seq().ok_or_else(|| {
            Error::parse(
                doc.loc.clone(),
                format!(
                    "A playbook must be a list of plays, got {} instead",
                    doc.kind_name()
                ),
            )
            .with_hint("start each play with `- hosts: ...`")
        })?;
        let mut plays = Vec::new();
        for entry in entries {
            if entry
                .as_map()
                .is_some_and(|m| m.iter().any(|(k, _)| is_import_playbook(&k.key_text())))
            {
                plays.extend(self.import_playbook(entry, &scope)?);
            } else {
                plays.push(self.play(entry, &scope)?);
            }
        }
        self.import_stack.pop();
        Ok(plays)
    }

    fn import_playbook(&mut self, node: &Node, scope: &Scope) -> Result<Vec<Play>> {
        let mut target = None;
        let mut vars = crate::vars::VarMap::new();
        let mut when: Vec<Condition> = Vec::new();
        let mut tags = Vec::new();
        for (key_node, value) in node.as_map().unwrap_or_default() {
            let key = key_node.key_text();
            match key.as_str() {
                k if is_import_playbook(k) => {
                    target = Some((fields::string(k, value)?, value.loc.clone()))
                }
                "vars" => vars = fields::var_map(&key, value)?,
                "when" => when = fields::conditions(&key, value)?,
                "tags" => tags = fields::string_list(&key, value, true)?,
                "name" => {}
                _ => {
                    let error = Error::parse(
                        key_node.loc.clone(),
                        format!("'{key}' is not a valid attribute for a PlaybookInclude"),
                    );
                    return Err(
                        match crate::suggest::hint(
                            &key,
                            super::keywords::IMPORT_PLAYBOOK.iter().copied(),
                        ) {
                            Some(hint) => error.with_hint(hint),
                            None => error.with_hint("import_playbook accepts vars, when and tags"),
                        },
                    );
                }
            }
        }
        let Some((file, loc)) = target else {
            return Err(Error::parse(
                node.loc.clone(),
                "import_playbook needs a file name",
            ));
        };
        let path = self.resolve_file(&file, &loc, scope, &[])?;
        // Imported plays do not nest when they run, but reading them recurses.
        self.nest(&loc)?;
        let mut plays = self.playbook_file(&path, Some(&loc))?;
        self.unnest();
        for play in &mut plays {
            for (k, v) in &vars {
                play.keywords
                    .vars
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            play.keywords.tags.extend(tags.iter().cloned());
            play.import_when.extend(when.iter().cloned());
        }
        Ok(plays)
    }

    /// Finds a file named by an import: relative to the importing file, the role, then the playbook.
    fn resolve_file(
        &self,
        name: &str,
        loc: &Location,
        scope: &Scope,
        role_subdirs: &[&str],
    ) -> Result<PathBuf> {
        if is_templated(name) {
            return Err(Error::parse(
                loc.clone(),
                format!(
                    "'{name}' is templated, and imports are resolved before any variable is known"
                ),
            )
            .with_hint(
                "use include_tasks (or include_role) for file names that depend on variables",
            ));
        }
        let wanted = Path::new(name);
        let mut candidates = Vec::new();
        if wanted.is_absolute() {
            candidates.push(wanted.to_path_buf());
        } else {
            if let Some(role) = &scope.role {
                for sub in role_subdirs {
                    candidates.push(role.path.join(sub).join(wanted));
                }
                candidates.push(role.path.join(wanted));
            }
            if let Some(dir) = scope.file.parent() {
                candidates.push(dir.join(wanted));
            }
            candidates.push(self.playbook_dir.join(wanted));
        }
        if let Some(found) = candidates.iter().find(|c| c.is_file()) {
            return Ok(found.clone());
        }
        let mut searched: Vec<String> =
            candidates.iter().map(|c| c.display().to_string()).collect();
        searched.dedup();
        Err(
            Error::parse(loc.clone(), format!("could not find or access '{name}'"))
                .with_hint(format!("looked for {}", searched.join(", "))),
        )
    }

    /// A task file (imported, included, or a role's tasks/handlers), asked for at `from`: a list of tasks,
    /// possibly empty.
    pub(crate) fn task_file(
        &mut self,
        path: &Path,
        from: &Location,
        scope: &Scope,
    ) -> Result<Vec<TaskItem>> {
        self.enter(path, Some(from))?;
        let items = match single_document(path)? {
            None => Vec::new(),
            Some(doc) if doc.is_null() => Vec::new(),
            Some(
                doc @ Node {
                    value: NodeValue::Seq(_),
                    ..
                },
            ) => self.task_list("tasks", &doc, scope)?,
            Some(doc) => {
                return Err(Error::parse(
                    doc.loc.clone(),
                    format!(
                        "a task file must be a list of tasks, got {}",
                        doc.kind_name()
                    ),
                )
                .with_hint("start each task with `- name: ...`"))
            }
        };
        self.import_stack.pop();
        Ok(items)
    }

    /// `- import_tasks: file.yml`: read now, and wrapped in a block carrying the import's keywords.
    pub(crate) fn import_tasks(&mut self, task: Box<Task>, scope: &Scope) -> Result<Block> {
        if task.loop_.is_some() {
            return Err(Error::parse(
                task.loc,
                "you cannot use loops on 'import_tasks' statements",
            )
            .with_hint("use 'include_tasks' instead"));
        }
        let args = &task.action.args;
        let name = args
            .get("_raw_params")
            .or_else(|| args.get("file"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                Error::parse(task.action.loc.clone(), "import_tasks needs a file name")
                    .with_hint("write `import_tasks: file.yml`")
            })?
            .to_string();
        let path =
            self.resolve_file(&name, &task.action.args_loc, scope, &["tasks", "handlers"])?;
        let file_scope = Scope {
            file: path.clone(),
            role: scope.role.clone(),
        };
        self.nest(&task.loc)?;
        let tasks = self.task_file(&path, &task.action.args_loc, &file_scope)?;
        self.unnest();
        Ok(Block {
            loc: task.loc,
            name: task.name,
            origin: BlockOrigin::ImportTasks(path),
            keywords: task.keywords,
            when: task.when,
            delegate_to: task.delegate_to,
            ignore_errors: task.ignore_errors,
            notify: task.notify,
            block: tasks,
            rescue: Vec::new(),
            always: Vec::new(),
            role: scope.role.clone(),
        })
    }
}

fn is_import_playbook(key: &str) -> bool {
    matches!(key, "import_playbook" | "ansible.builtin.import_playbook")
}

impl Playbook {
    /// A loader for what an include at task nesting `depth` reads (see [`Loader::depth`]).
    fn loader(&self, depth: usize) -> Loader {
        let playbook_dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Loader::new(playbook_dir, depth)
    }

    /// `include_tasks: FILE` at run time: the file is found as an import would be (the role's `tasks/`,
    /// beside the including file, the playbook folder) and read with the including task's role. `depth` is
    /// how many blocks and includes enclose the included tasks, the include itself counted.
    pub fn include_tasks(
        &self,
        file: &str,
        from: &Task,
        depth: usize,
    ) -> Result<(PathBuf, Vec<TaskItem>)> {
        let mut loader = self.loader(depth);
        let scope = Scope {
            file: from.loc.file.as_ref().clone(),
            role: from.role.clone(),
        };
        let path = loader.resolve_file(file, &from.action.args_loc, &scope, &["tasks"])?;
        let file_scope = Scope {
            file: path.clone(),
            role: from.role.clone(),
        };
        let items = loader.task_file(&path, &from.action.args_loc, &file_scope)?;
        Ok((path, items))
    }

    /// `include_role: name=X` at run time: the role's blocks (dependencies first) and its handlers; `depth`
    /// as for [`Playbook::include_tasks`].
    pub fn include_role(
        &self,
        from: &Task,
        args: &crate::vars::VarMap,
        depth: usize,
    ) -> Result<(Vec<TaskItem>, Vec<TaskItem>)> {
        let mut loader = self.loader(depth);
        let scope = Scope {
            file: from.loc.file.as_ref().clone(),
            role: from.role.clone(),
        };
        let request =
            super::role::RoleRequest::from_arguments("include_role", args, &from.action.loc)?;
        let blocks = loader.role_blocks(request, &scope)?;
        let handlers = std::mem::take(&mut loader.role_handlers);
        Ok((
            blocks
                .into_iter()
                .map(|b| TaskItem::Block(Box::new(b)))
                .collect(),
            handlers,
        ))
    }
}
