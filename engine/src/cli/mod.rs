//! The `ply` command line: parses arguments, runs the command, and turns errors into diagnostics and
//! ansible-playbook's exit codes.

mod args;
mod inventory_cmd;
mod listing;
mod reporting;
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
    let verbosity = match &cli.command {
        Command::Run(args) => args.verbose,
        _ => 0,
    };
    init_tracing(verbosity);
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Inventory(args) => inventory_cmd::run(&args),
        Command::Doc { module } => doc(module.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

/// Logs go to stderr: from `-vvv` on (debug), or as `RUST_LOG` asks. Secrets are never logged: the
/// connection logs programs and users, not stdin or passwords.
fn init_tracing(verbosity: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) => tracing_subscriber::EnvFilter::new(spec),
        Err(_) if verbosity >= 4 => {
            tracing_subscriber::EnvFilter::new("engine=trace,modules=trace")
        }
        Err(_) if verbosity >= 3 => {
            tracing_subscriber::EnvFilter::new("engine=debug,modules=debug")
        }
        Err(_) => return,
    };
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn doc(module: Option<&str>) -> crate::Result<u8> {
    match module {
        None => print!("{}", modules::render_list()),
        Some(name) => {
            let canonical = modules::find(name).map(|spec| spec.name);
            match canonical.and_then(modules::doc) {
                Some(doc) => print!("{}", modules::render_doc(doc)),
                None if canonical.is_some() => {
                    let name = canonical.unwrap_or(name);
                    match modules::engine_keyword(name) {
                        Some((line, details)) => {
                            println!("> {}\n\n  {line}.\n  {details}", name.to_uppercase())
                        }
                        None => println!(
                            "> {}\n\n  {}.",
                            name.to_uppercase(),
                            modules::unavailable_reason(name)
                        ),
                    }
                }
                None => {
                    let names: Vec<String> = modules::names().collect();
                    let error = Error::options(format!("unknown module '{name}'"));
                    return Err(
                        match crate::suggest::hint(name, names.iter().map(String::as_str)) {
                            Some(hint) => error.with_hint(hint),
                            None => error.with_hint("run `ply doc` to list the modules"),
                        },
                    );
                }
            }
        }
    }
    Ok(0)
}

fn report(error: &Error) {
    let _ = std::io::stderr().write_all(crate::diagnostic::render(error).as_bytes());
}
