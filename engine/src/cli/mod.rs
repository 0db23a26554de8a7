//! The `ply` command line: parses arguments, runs the command, and turns errors into diagnostics and
//! ansible-playbook's exit codes.

mod args;
mod inventory_cmd;
mod listing;
mod run;

pub use args::{Cli, Command, InventoryArgs, OutputFormat, RunArgs};

use crate::error::Error;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Entry point of the `ply` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // clap uses 2 for usage errors; ansible-playbook uses 5 for bad options.
            return ExitCode::from(if error.use_stderr() { 5 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Inventory(args) => inventory_cmd::run(&args),
        Command::Modules => {
            for spec in modules::REGISTRY {
                println!("{}", spec.name);
            }
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

fn report(error: &Error) {
    let _ = std::io::stderr().write_all(crate::diagnostic::render(error).as_bytes());
}
