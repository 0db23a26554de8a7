//! Reporting a run: events, and the reporters that show them.

mod event;

pub use event::{Event, HostResult, HostStats, Reporter, Status};
