//! What the run knows about one host as it goes: variables it gained, whether it is still in the play,
//! its recap counts, and the handlers it has notified.

use crate::output::HostStats;
use crate::vars::VarMap;
use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub struct HostState {
    pub facts: VarMap,
    pub include_vars: VarMap,
    /// `set_fact` results and registered variables (one precedence level in Ansible).
    pub set_facts: VarMap,
    pub stats: HostStats,
    /// Failed in this play (leaves the play).
    pub failed: bool,
    pub unreachable: bool,
    /// `meta: end_host` or `end_play`.
    pub ended: bool,
    pub notified: BTreeSet<String>,
}

impl HostState {
    /// Still takes part in the play.
    pub fn active(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }
}
