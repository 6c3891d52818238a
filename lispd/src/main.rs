//! `lispd`: the xTR appliance process.
//!
//! `lispd run CONFIG` runs the appliance; `check-config` and `import-legacy` work on files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use controlplane::report::nonzero_counters;
use dataplane::pipeline::Counter;

#[derive(Parser)]
#[command(name = "lispd", version, about = "DPDK LISP xTR")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the xTR with this configuration until SIGINT, SIGTERM or SIGQUIT; SIGHUP reloads it.
    Run {
        /// The TOML configuration file.
        #[arg(short = 'c', long = "config")]
        config_flag: Option<PathBuf>,
        /// The TOML configuration file.
        file: Option<PathBuf>,
    },
    /// Validate a configuration: print every error (exit 1) or what would run (exit 0). A file
    /// that passes runs on any machine that has its CPUs and devices.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
        /// Also check that this machine has the CPUs the file names (as `run` does).
        #[arg(long)]
        here: bool,
    },
    /// Write the man page and bash/zsh completions under DIR (for packaging).
    #[command(hide = true)]
    GenerateDocs { dir: PathBuf },
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
        Command::Run { config_flag, file } => match config_flag.or(file) {
            Some(file) => run(&file),
            None => {
                eprintln!("lispd run: give the configuration file (lispd run FILE or -c FILE)");
                ExitCode::from(2)
            }
        },
        Command::CheckConfig { file, here } => check_config(&file, here),
        Command::ImportLegacy { file, output } => import_legacy(&file, output.as_deref()),
        Command::GenerateDocs { dir } => generate_docs(Cli::command(), &dir),
    }
}

fn run(file: &std::path::Path) -> ExitCode {
    let config = match config::load_here(file, &config::Host::current()) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reload = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handlers = [
        (SIGINT, &stop),
        (SIGTERM, &stop),
        (SIGQUIT, &stop),
        (SIGHUP, &reload),
    ];
    for (signal, flag) in handlers {
        if let Err(e) = signal_hook::flag::register(signal, flag.clone()) {
            eprintln!("lispd: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "lispd: running {} (reload with SIGHUP; stop with SIGINT, SIGTERM or SIGQUIT)",
        file.display()
    );
    controlplane::logging::init(
        config.management.log_level.as_str(),
        config.management.log_format == config::LogFormat::Json,
    );
    match lispd::appliance::run(
        config,
        file,
        (&stop, &reload),
        controlplane::logging::set_level,
    ) {
        Ok(report) => {
            println!("lispd: stopped");
            for (name, value) in report.counters.iter().filter(|(_, v)| *v > 0) {
                println!("  {name} {value}");
            }
            for core in &report.per_core {
                print!(
                    "  data core {}: encapsulated {} decapsulated {}",
                    core.lcore,
                    core.get(Counter::Encapsulated),
                    core.get(Counter::Decapsulated)
                );
                match core.cycles_per_packet() {
                    Some(cycles) => println!(" cycles/packet {cycles:.1}"),
                    None => println!(),
                }
            }
            println!("  control: {}", nonzero_counters(&report.control));
            println!("  control plane: {}", nonzero_counters(&report.xtr));
            for (server, state) in &report.registration {
                println!("  registration {server} {state:?}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lispd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(file: &std::path::Path, here: bool) -> ExitCode {
    let checked = if here {
        config::load_here(file, &config::Host::current())
    } else {
        config::load(file)
    };
    match checked {
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

fn generate_docs(command: clap::Command, dir: &std::path::Path) -> ExitCode {
    match controlplane::docs::write(command, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
