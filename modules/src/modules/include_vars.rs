//! ansible.builtin.include_vars: loads variables from YAML or JSON files on the controller.

use crate::args::{ArgSpec, ArgType, UnknownArgs};
use crate::contract::{FactLevel, ModuleContext, ModuleResult, VarMap};
use crate::doc::{ModuleDoc, ReturnDoc, Support};
use crate::driver::{Module, Plan};
use async_trait::async_trait;
use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("_raw_params", ArgType::Str, ""),
    ArgSpec::new(
        "file",
        ArgType::Path,
        "The file name from which variables should be loaded. If the path is relative, it will look for the \
         file in vars/ subdirectory of a role or relative to playbook.",
    ),
    ArgSpec::new(
        "dir",
        ArgType::Path,
        "The directory name from which the variables should be loaded. If the path is relative and the task \
         is inside a role, it will look inside the role's vars/ subdirectory. If the path is relative and not \
         inside a role, it will be parsed relative to the playbook.",
    ),
    ArgSpec::new(
        "name",
        ArgType::Str,
        "The name of a variable into which assign the included vars. If omitted (null) they will be made top \
         level vars.",
    ),
    ArgSpec::new(
        "depth",
        ArgType::Int,
        "When using dir, this module will, by default, recursively go through each sub directory and load up \
         the variables. By explicitly setting the depth, this module will only go as deep as the depth \
         (default 0: no limit).",
    ),
    ArgSpec::new(
        "files_matching",
        ArgType::Str,
        "Limit the files that are loaded within any directory to this regular expression.",
    ),
    ArgSpec::new(
        "ignore_files",
        ArgType::List,
        "List of file names to ignore (regular expressions matched at the end of the name).",
    )
    .elements(ArgType::Str),
    ArgSpec::new(
        "extensions",
        ArgType::List,
        "List of file extensions to read when using dir (default: yaml, yml, json).",
    )
    .elements(ArgType::Str),
    ArgSpec::new(
        "ignore_unknown_extensions",
        ArgType::Bool,
        "Ignore unknown file extensions within the directory. This allows users to specify a directory \
         containing vars files that are intermingled with non-vars files extension types (e.g. a directory \
         with a README in it and vars files). Default false.",
    ),
    ArgSpec::new(
        "hash_behaviour",
        ArgType::Str,
        "If set to merge, merges existing hash variables instead of overwriting them. ply supports only \
         replace (the default).",
    )
    .choices(&["replace", "merge"]),
];

pub static DOC: ModuleDoc = ModuleDoc {
    name: "include_vars",
    short_description: "Load variables from files, dynamically within a task",
    description: "Loads YAML/JSON variables dynamically from a file or directory, recursively, during task \
        runtime. If loading a directory, the files are sorted alphabetically before being loaded. The files \
        are read on the controller.",
    free_form: Some("This module allows you to specify the 'file' option directly without any other options."),
    args: ARGS,
    unknown_args: UnknownArgs::NotValidOption,
    mutually_exclusive: &[],
    required_one_of: &[&["_raw_params", "file", "dir"]],
    check_mode: Support::NotApplicable,
    diff_mode: Support::NotApplicable,
    returns: &[
        ReturnDoc::new("ansible_facts", "dict", "success", "Variables that were included and their values."),
        ReturnDoc::new(
            "ansible_included_var_files",
            "list",
            "success",
            "A list of files that were successfully included.",
        ),
        ReturnDoc::new("message", "str", "failure", "Why the variables could not be loaded."),
    ],
    notes: &["Variables loaded have include_vars precedence, above play and role vars."],
    example: r#"- name: Include vars of stuff.yaml into the 'stuff' variable
  ansible.builtin.include_vars:
    file: stuff.yaml
    name: stuff

- name: Load the variables of the OS family
  ansible.builtin.include_vars: "{{ ansible_os_family }}.yml"

- name: Include all .json and .jsn files in vars/all and all nested directories
  ansible.builtin.include_vars:
    dir: vars/all
    extensions:
      - json
      - jsn
"#,
};

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    file: Option<String>,
    dir: Option<String>,
    name: Option<String>,
    depth: Option<i64>,
    files_matching: Option<String>,
    ignore_files: Option<Vec<String>>,
    extensions: Option<Vec<String>>,
    ignore_unknown_extensions: Option<bool>,
    hash_behaviour: Option<String>,
}

impl Params {
    fn dir_args_given(&self) -> bool {
        self.dir.is_some()
            || self.depth.is_some()
            || self.files_matching.is_some()
            || self.ignore_files.is_some()
            || self.extensions.is_some()
            || self.ignore_unknown_extensions.is_some()
    }
}

/// A failure as include_vars reports it: under `message`, with what was loaded so far left empty.
fn failure(message: String) -> ModuleResult {
    let mut result = ModuleResult {
        failed: true,
        ..ModuleResult::default()
    };
    result
        .values
        .insert("ansible_included_var_files".into(), json!([]));
    result.values.insert("ansible_facts".into(), json!({}));
    result
        .values
        .insert("message".into(), Value::String(message));
    result
}

/// Where a relative name is looked for: each search folder's `vars/`, then the folder itself.
fn candidates(name: &str, search_path: &[PathBuf]) -> Vec<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    search_path
        .iter()
        .flat_map(|dir| [dir.join("vars").join(path), dir.join(path)])
        .collect()
}

fn load(ctx: &ModuleContext<'_>, path: &Path) -> Result<VarMap, String> {
    match ctx.evaluator.load_vars_file(path)? {
        Value::Null => Ok(VarMap::new()),
        Value::Object(map) => Ok(map),
        _ => Err(format!(
            "{} must be stored as a dictionary/hash",
            path.display()
        )),
    }
}

/// Every folder under `root` (itself included), in the sorted order of their paths, as Ansible walks them.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        if let Ok(entries) = std::fs::read_dir(&dirs[i]) {
            for entry in entries.flatten() {
                // os.walk does not follow symlinked folders by default.
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        i += 1;
    }
    dirs.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    dirs
}

pub struct IncludeVars;

impl IncludeVars {
    fn load_dir(
        &self,
        p: &Params,
        dir: &str,
        ctx: &ModuleContext<'_>,
        included: &mut Vec<String>,
    ) -> Result<VarMap, String> {
        let candidates = candidates(dir, ctx.search_path);
        let Some(root) = candidates.iter().find(|c| c.exists()).or(candidates.last()) else {
            return Err(format!("{dir} directory does not exist"));
        };
        if !root.exists() {
            return Err(format!("{} directory does not exist", root.display()));
        }
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()));
        }
        let matcher = match &p.files_matching {
            Some(re) => {
                Some(Regex::new(re).map_err(|e| format!("Invalid regular expression: {re}: {e}"))?)
            }
            None => None,
        };
        let mut ignore = Vec::new();
        for pattern in p.ignore_files.iter().flatten() {
            ignore.push(
                Regex::new(&format!("(?:{pattern})$"))
                    .map_err(|_| format!("Invalid regular expression: {pattern}"))?,
            );
        }
        let default_extensions = ["yaml", "yml", "json"].map(String::from).to_vec();
        let extensions = p.extensions.clone().unwrap_or(default_extensions);
        let depth = p.depth.unwrap_or(0);
        let mut results = VarMap::new();
        // Ansible's depth counts folders in walk order, not nesting levels.
        for (n, folder) in walk(root).into_iter().enumerate() {
            if depth != 0 && n as i64 >= depth {
                break;
            }
            let mut files: Vec<String> = std::fs::read_dir(&folder)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| !e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            for file in files {
                if matcher.as_ref().is_some_and(|m| !m.is_match(&file)) {
                    continue;
                }
                if ignore.iter().any(|re| re.is_match(&file)) {
                    continue;
                }
                let path = folder.join(&file);
                let ext = Path::new(&file)
                    .extension()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !extensions.contains(&ext) {
                    if p.ignore_unknown_extensions == Some(true) {
                        continue;
                    }
                    return Err(format!(
                        "{} does not have a valid extension: {}",
                        path.display(),
                        extensions.join(", ")
                    ));
                }
                results.extend(load(ctx, &path)?);
                included.push(path.display().to_string());
            }
        }
        Ok(results)
    }

    fn load_file(
        &self,
        file: &str,
        ctx: &ModuleContext<'_>,
        included: &mut Vec<String>,
    ) -> Result<VarMap, String> {
        let Some(path) = candidates(file, ctx.search_path)
            .into_iter()
            .find(|c| c.is_file())
        else {
            return Err(format!(
                "Could not find or access '{file}' on the Ansible Controller.\nIf you are using a module and \
                 expect the file to exist on the remote, see the remote_src option"
            ));
        };
        let vars = load(ctx, &path)?;
        included.push(path.display().to_string());
        Ok(vars)
    }
}

#[async_trait]
impl Module for IncludeVars {
    type Params = Params;
    type Change = ();

    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, p: &Params, ctx: &ModuleContext<'_>) -> Plan<()> {
        let file_given = p.file.is_some() || p.raw_params.is_some();
        if file_given && p.dir_args_given() {
            return Plan::Done(ModuleResult::failed(
                "You are mixing file only and dir only arguments, these are incompatible",
            ));
        }
        if p.hash_behaviour.as_deref() == Some("merge") {
            return Plan::Done(ModuleResult::failed(
                "hash_behaviour=merge is not supported by ply: variables are replaced, never merged",
            ));
        }
        let mut included = Vec::new();
        let loaded = match (&p.dir, p.file.as_ref().or(p.raw_params.as_ref())) {
            (Some(dir), _) => self.load_dir(p, dir, ctx, &mut included),
            (None, Some(file)) => self.load_file(file.trim_end_matches('\n'), ctx, &mut included),
            (None, None) => Err("one of the following is required: _raw_params, file, dir".into()),
        };
        let vars = match loaded {
            Ok(vars) => vars,
            Err(message) => return Plan::Done(failure(message)),
        };
        let facts = match &p.name {
            Some(name) => {
                let mut scoped = VarMap::new();
                scoped.insert(name.clone(), Value::Object(vars));
                scoped
            }
            None => vars,
        };
        let mut result = ModuleResult {
            facts,
            fact_level: FactLevel::IncludeVars,
            ..ModuleResult::default()
        };
        result
            .values
            .insert("ansible_included_var_files".into(), json!(included));
        Plan::Done(result)
    }
}
