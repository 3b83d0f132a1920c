//! `cargo xtask run` builds and starts the demo; `cargo xtask test` installs what the tests need, runs
//! every suite and prints one summary. Plain std, so it compiles in seconds on a fresh machine.

mod suite;

use std::process::{Command, ExitCode};

const DEMO_URL: &str = "http://127.0.0.1:3000";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run_demo(),
        Some("test") => suite::run_all(),
        _ => {
            eprintln!("usage: cargo xtask run    build and start the demo on {DEMO_URL}");
            eprintln!("       cargo xtask test   run every test suite and print a summary");
            ExitCode::from(2)
        }
    }
}

/// Prints a progress line for a step that may take a while.
pub(crate) fn step(message: &str) {
    eprintln!("==> {message}");
}

fn run_demo() -> ExitCode {
    step("building the backend (release; the first build takes a few minutes)");
    if !cargo(&["build", "--release", "--package", "backend"]) {
        return ExitCode::FAILURE;
    }
    step(&format!("starting the demo on {DEMO_URL}"));
    eprintln!("    log in as demo@example.com / demo-password (Ctrl-C stops the server)");
    let status = Command::new(target_dir().join("release/backend")).status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: cannot start the backend: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs cargo with `args`, inheriting the terminal; true on success.
pub(crate) fn cargo(args: &[&str]) -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo).args(args).status().is_ok_and(|s| s.success())
}

pub(crate) fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), Into::into)
}
