//! The playbook model: plays, tasks, blocks, roles, handlers, and their loading from YAML.

mod fields;
mod keyword_set;
pub mod keywords;
mod kv_args;
mod loader;
mod play;
mod role;
pub mod tags;
mod task;
mod undefined;
pub mod unsupported;
mod validate;

pub use fields::{parse_bool_str, Condition};
pub use keyword_set::Keywords;
pub use kv_args::{parse_kv, KvError};
pub use loader::Playbook;
pub use play::Play;
pub use role::Role;
pub use task::{Action, Block, BlockOrigin, LoopControl, Task, TaskItem, TaskLoop};
pub use undefined::{check as check_undefined, TagSelection};
pub use validate::{each_task, templates as validate_templates};
