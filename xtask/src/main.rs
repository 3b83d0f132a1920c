//! The project's tasks: `cargo xtask run` builds and starts the demo; `cargo xtask test` installs what
//! the tests need, runs every suite and prints one summary; the rest (size, bench, fuzz, package,
//! interop, dev) are for working on the project. Each command installs the tools it uses and says so
//! before it does. Its only dependency is brotli, so it compiles in seconds on a fresh machine.

#[path = "../../tests/support/backend_process.rs"]
#[allow(dead_code)] // shared with the test suites, which use all of it
mod backend_process;
mod bench;
mod fuzz;
mod http;
mod interop;
mod packaging;
mod spa;
mod ssr_site;
mod suite;
mod tools;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const DEMO_URL: &str = "http://127.0.0.1:3000";
/// Where `trunk serve` serves the app in development (Trunk.toml); its proxy forwards /api.
const DEV_URL: &str = "http://127.0.0.1:8080";
/// Where `cargo xtask run ssr|bff` serves the server-rendered demo.
const SSR_DEMO_URL: &str = "http://127.0.0.1:8090";

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") if matches!(args.get(1).map(String::as_str), Some("ssr" | "bff")) => run_ssr_demo(&args[1]),
        Some("run") => run_demo(),
        Some("test") => return suite::run_all(),
        Some("size") => tools::ensure_wasm_tools().and_then(|()| spa::build_release()),
        Some("dev") => run_dev(),
        Some("bench") if args.get(1).map(String::as_str) == Some("limits") => bench::run_limits(),
        Some("bench") if args.get(1).map(String::as_str) == Some("weight") => bench::run_weight(),
        Some("bench") => bench::run(),
        Some("fuzz") => fuzz::api_fuzz().and_then(|(passed, _, failures)| match failures.as_slice() {
            [] => {
                println!("schemathesis: {passed} runs passed");
                Ok(())
            }
            failed => Err(format!("schemathesis runs failed: {}", failed.join(", "))),
        }),
        Some("package") => packaging::packaged_tests()
            .and_then(|dir| packaging::outside_quick_starts(&dir))
            .and_then(|()| packaging::native_example())
            .and_then(|()| packaging::semver_check()),
        Some("interop") => interop::run().and_then(|(passed, failed)| match failed {
            0 => Ok(()),
            _ => Err(format!("interop: {passed} passed, {failed} failed")),
        }),
        _ => {
            eprintln!("usage: cargo xtask run    build the SPA and start the demo on {DEMO_URL}");
            eprintln!(
                "       cargo xtask run ssr|bff  the server-rendered demo on {SSR_DEMO_URL} (BFF: no token in the browser)"
            );
            eprintln!("       cargo xtask test   install test tools, run every suite, print a summary");
            eprintln!("       cargo xtask size   build the SPA and print its size (benchmark)");
            eprintln!("       cargo xtask bench  measure every performance figure side by side (benchmark)");
            eprintln!(
                "       cargo xtask bench limits  only /api/health beside a minimal axum server, HTTP/1.1 and HTTP/2"
            );
            eprintln!(
                "       cargo xtask bench weight  only what silent-refresh adds to a minimal Leptos app, and the demo by part"
            );
            eprintln!("       cargo xtask fuzz   fuzz the API from its OpenAPI document (schemathesis; part of test)");
            eprintln!(
                "       cargo xtask interop  check tokens and OAuth endpoints with third-party libraries (part of test)"
            );
            eprintln!(
                "       cargo xtask package  package the client crate, build its quick starts outside the workspace, check semver (part of test)"
            );
            eprintln!("       cargo xtask dev    the backend on :3000 and `trunk serve` on {DEV_URL} with live reload");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a progress line for a step that may take a while.
pub(crate) fn step(message: &str) {
    eprintln!("==> {message}");
}

pub(crate) fn fail<T>(message: &str) -> Result<T> {
    Err(message.to_owned())
}

/// The workspace root (this crate's parent), whatever folder cargo was started in.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), Into::into)
}

fn run_demo() -> Result {
    tools::ensure_wasm_tools()?;
    spa::build_release()?;
    step("building the backend (release)");
    tools::run("cargo", &["build", "--release", "--package", "backend"])?;
    step(&format!("starting the demo on {DEMO_URL}"));
    println!();
    println!("    open   {DEMO_URL}");
    println!("    login  demo@example.com / demo-password");
    println!("    stop   Ctrl-C");
    println!();
    let status = Command::new(target_dir().join("release/backend"))
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot start the backend: {e}"))?;
    if status.success() { Ok(()) } else { fail(&format!("the backend exited with {status}")) }
}

/// The server-rendered demo: the backend on :3000 as its auth server, and the Leptos app server in
/// front of it, in plain server rendering or as a backend-for-frontend.
fn run_ssr_demo(mode: &str) -> Result {
    tools::ensure_wasm_tools()?;
    let site = ssr_site::build(true)?;
    step("building the backend (release)");
    tools::run("cargo", &["build", "--release", "--package", "backend"])?;
    let mut backend = Command::new(target_dir().join("release/backend"))
        .current_dir(workspace_root())
        // The app server forwards each user's address. The backend listens on 127.0.0.1 only, so
        // nothing but this machine can claim an address to it.
        .env("TRUST_FORWARDED_FOR", "true")
        .spawn()
        .map_err(|e| format!("cannot start the backend: {e}"))?;
    step(&format!("starting the server-rendered demo on {SSR_DEMO_URL} ({mode})"));
    println!();
    println!("    open   {SSR_DEMO_URL}");
    println!("    login  demo@example.com / demo-password");
    println!("    stop   Ctrl-C");
    println!();
    let mut app = Command::new(&site.binary);
    app.current_dir(workspace_root()).env("SSR_DEMO_SITE", &site.site).env("AUTH_URL", DEMO_URL);
    if mode == "bff" {
        // A key for this run only: every restart logs the demo's users out, as a key change would.
        app.env("BFF_KEY", crate::random_hex(32)?);
    }
    let status = app.status().map_err(|e| format!("cannot start the app server: {e}"));
    let _ = backend.kill();
    let status = status?;
    if status.success() { Ok(()) } else { fail(&format!("the app server exited with {status}")) }
}

/// Development: the backend, told that the `trunk serve` origin is this site too (cookie-mode
/// requests arrive through Trunk's proxy with `Origin: http://127.0.0.1:8080`), and `trunk serve`
/// building into its own folder so the release `dist/` is never overwritten.
fn run_dev() -> Result {
    tools::ensure_wasm_tools()?;
    step("building the backend");
    tools::run("cargo", &["build", "--package", "backend"])?;
    let mut backend = Command::new(target_dir().join("debug/backend"))
        .current_dir(workspace_root())
        .env("CORS_ORIGINS", DEV_URL)
        // The browser's DPoP proofs name the page's URL; trunk's proxy may rewrite `Host`.
        .env("PUBLIC_URL", DEV_URL)
        .spawn()
        .map_err(|e| format!("cannot start the backend: {e}"))?;
    step(&format!("serving the app on {DEV_URL} (Ctrl-C stops both)"));
    let served = Command::new("trunk")
        .args(["serve", "--offline", "--dist", "target/serve-dist"])
        .current_dir(workspace_root())
        .env("PATH", tools::path_with_tools())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .status();
    let _ = backend.kill();
    let _ = backend.wait();
    match served {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => fail(&format!("trunk serve exited with {status}")),
        Err(error) => fail(&format!("cannot run trunk: {error}")),
    }
}

/// `bytes` random bytes from the OS, as hex.
fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut buffer))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}
