//! The keywords plays, blocks, role inclusions and tasks share, and that children inherit.

use super::fields;
use crate::error::Result;
use crate::vars::VarMap;
use crate::yaml::Node;
use serde_json::Value;

/// Inheritable keywords. Values that may be templated stay as raw [`Value`]s and are decided at run time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keywords {
    pub tags: Vec<String>,
    pub vars: VarMap,
    pub become_: Option<Value>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub become_flags: Option<String>,
    pub become_exe: Option<String>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub environment: Option<Value>,
    pub no_log: Option<Value>,
    pub run_once: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub connection: Option<String>,
    pub remote_user: Option<String>,
    pub port: Option<Value>,
    pub timeout: Option<Value>,
    pub throttle: Option<Value>,
    pub module_defaults: Option<Value>,
    pub collections: Vec<String>,
    pub debugger: Option<String>,
}

impl Keywords {
    /// Reads one common keyword into `self`. Returns false when `key` is not a common keyword.
    pub fn read(&mut self, key: &str, value: &Node) -> Result<bool> {
        match key {
            "tags" => self.tags = fields::string_list(key, value, true)?,
            "vars" => self.vars = fields::var_map(key, value)?,
            "become" => self.become_ = Some(fields::boolish(key, value)?),
            "become_user" => self.become_user = Some(fields::string(key, value)?),
            "become_method" => self.become_method = Some(fields::string(key, value)?),
            "become_flags" => self.become_flags = Some(fields::string(key, value)?),
            "become_exe" => self.become_exe = Some(fields::string(key, value)?),
            "check_mode" => self.check_mode = Some(fields::boolish(key, value)?),
            "diff" => self.diff = Some(fields::boolish(key, value)?),
            "no_log" => self.no_log = Some(fields::boolish(key, value)?),
            "run_once" => self.run_once = Some(fields::boolish(key, value)?),
            "any_errors_fatal" => self.any_errors_fatal = Some(fields::boolish(key, value)?),
            "ignore_unreachable" => self.ignore_unreachable = Some(fields::boolish(key, value)?),
            "environment" => self.environment = Some(value.to_json()),
            "connection" => self.connection = Some(fields::string(key, value)?),
            "remote_user" => self.remote_user = Some(fields::string(key, value)?),
            "port" => self.port = Some(fields::int_or_template(key, value)?),
            "timeout" => self.timeout = Some(fields::int_or_template(key, value)?),
            "throttle" => self.throttle = Some(fields::int_or_template(key, value)?),
            "module_defaults" => self.module_defaults = Some(value.to_json()),
            "collections" => self.collections = fields::string_list(key, value, false)?,
            "debugger" => self.debugger = Some(fields::string(key, value)?),
            "name" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}
