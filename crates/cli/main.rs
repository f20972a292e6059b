//! The `atauth` binary: command-line parsing, configuration, wiring.
//! No protocol logic lives here.

mod commands;
mod config;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;

/// atauth: the AT Protocol OAuth authorization server.
#[derive(Debug, Parser)]
#[command(name = "atauth", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (TOML); see config/default.toml for every key.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Development mode: http://localhost issuer, SQLite in ./data, loopback fetches allowed.
    #[arg(long, global = true)]
    dev: bool,
    /// Directory for the SQLite database and local state.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(commands::serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(commands::account::AccountCommand),
    /// Manage the server's signing keys.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Client tools (check a client's metadata against every rule; trusted clients).
    #[command(subcommand)]
    Client(commands::client::ClientCommand),
    /// OAuth sessions: list and revoke.
    #[command(subcommand)]
    Session(commands::session::SessionCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(&cli.global, &args),
        Command::Migrate => commands::migrate(&cli.global),
        Command::Account(cmd) => commands::account::run(&cli.global, cmd),
        Command::Keys(cmd) => commands::keys::run(&cli.global, cmd),
        Command::Session(cmd) => commands::session::run(&cli.global, cmd),
        Command::Client(cmd) => match commands::client::run(&cli.global, cmd) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atauth: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
