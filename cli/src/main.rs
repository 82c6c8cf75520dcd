//! `t1578`: replay and backtest log files through the detector on an embedded store.
//! Wiring only: parse arguments, run the command, map the outcome to an exit code.
#![recursion_limit = "256"]

mod args;
mod aws_profile;
mod commands;
mod generate;
mod held;
mod layout;
mod output;
mod remote;
mod store;
mod workload;

use clap::Parser;
use std::process::ExitCode;
use t1578_cli::input;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("t1578: {e:#}");
            ExitCode::from(1)
        }
    }
}
