//! `cargo run --release -p bench -- SUITE`: each suite prints one line per figure and one
//! `RATIO name value` line per side-by-side comparison (ours divided by the baseline).

mod ports;

use std::process::ExitCode;

const SUITES: [(&str, &str); 1] = [(
    "ports",
    "I/O floor: TX+RX burst cycles per packet over an in-process ring port pair",
)];

fn main() -> ExitCode {
    let suite = std::env::args().nth(1).unwrap_or_default();
    let result = match suite.as_str() {
        "ports" => ports::run(),
        _ => {
            eprintln!("usage: bench SUITE\nsuites:");
            for (name, what) in SUITES {
                eprintln!("  {name:8} {what}");
            }
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {suite}: {e}");
            ExitCode::FAILURE
        }
    }
}
