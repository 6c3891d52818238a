//! `lispd`: the xTR appliance process.
//!
//! Today it validates and converts configurations; `lispd run` arrives with the DPDK pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lispd", version, about = "DPDK LISP xTR")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration: print every error (exit 1) or what would run (exit 0).
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
    /// Convert the legacy @MAPSERVER/@EID format to TOML.
    ImportLegacy {
        /// The legacy configuration file.
        file: PathBuf,
        /// Write the TOML here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig { file } => check_config(&file),
        Command::ImportLegacy { file, output } => import_legacy(&file, output.as_deref()),
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load(file, &config::Host::current()) {
        Ok(config) => {
            println!("{}: OK", file.display());
            print!("{}", config::summary(&config));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", file.display(), errors.0.len());
            ExitCode::FAILURE
        }
    }
}

fn import_legacy(file: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let toml = config::legacy::import(&text)
        .map_err(|e| format!("{}: {e}", file.display()))
        .and_then(|c| config::legacy::to_toml(&c).map_err(|e| e.to_string()));
    let toml = match toml {
        Ok(toml) => toml,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match output {
        None => {
            print!("{toml}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(path, toml) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: cannot write: {e}", path.display());
                ExitCode::FAILURE
            }
        },
    }
}
