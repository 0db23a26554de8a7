//! Chooses how a run is shown: the human format (coloured and with progress only on a terminal) or JSON lines.

use super::args::OutputFormat;
use crate::output::{HumanReporter, JsonReporter, ProgressReporter, Reporter};

pub fn reporter(format: OutputFormat, verbosity: u8) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => Box::new(JsonReporter::new(std::io::stdout())),
        OutputFormat::Human => Box::new(ProgressReporter::new(HumanReporter::stdout(verbosity))),
    }
}
