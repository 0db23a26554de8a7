//! Chooses how a run is shown: the human format (coloured and with progress only on a terminal) or JSON lines.

use super::args::OutputFormat;
use crate::output::{HumanReporter, JsonReporter, ProgressReporter, Reporter};

pub fn reporter(format: OutputFormat, verbosity: u8) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => Box::new(JsonReporter::new(std::io::stdout())),
        OutputFormat::Human => Box::new(ProgressReporter::new(HumanReporter::stdout(verbosity))),
    }
}

/// Warnings found before a run starts (inventory sources that could not be parsed, an empty host list),
/// for the answers that print no run (--syntax-check, --list-*): Ansible shows them there too.
pub fn print_warnings(warnings: &[String]) {
    let mut human = HumanReporter::stdout(0);
    for warning in warnings {
        human.report(&crate::output::Event::Warning {
            message: warning.clone(),
        });
    }
}
