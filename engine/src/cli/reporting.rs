//! Chooses how a run is shown: the human format (coloured and with progress on a terminal) or JSON lines.

use super::args::OutputFormat;
use crate::output::{HumanReporter, JsonReporter, ProgressReporter, Reporter};
use std::io::IsTerminal;

pub fn reporter(format: OutputFormat, verbosity: u8) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => Box::new(JsonReporter::new(Box::new(std::io::stdout()))),
        OutputFormat::Human => {
            let terminal = std::io::stdout().is_terminal();
            let color = terminal && std::env::var_os("NO_COLOR").is_none();
            let human = HumanReporter::new(color, verbosity, Box::new(std::io::stdout()));
            if terminal {
                Box::new(ProgressReporter::new(Box::new(human)))
            } else {
                Box::new(human)
            }
        }
    }
}
