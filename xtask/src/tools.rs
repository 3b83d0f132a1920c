//! Installs the build and test tools that are missing or at the wrong version, and only those.
//! Nothing is downloaded from anywhere but the package registries (crates.io, npm, Debian).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Result, fail, step, workspace_root};

const TRUNK_VERSION: &str = "0.21.14";
const WASM_OPT_VERSION: &str = "132";
const SEMVER_CHECKS_VERSION: &str = "0.51.0";
const AIOSMTPD_VERSION: &str = "1.4.6";

/// Where project-local tools (wasm-opt from npm) live; put on PATH for Trunk.
pub(crate) fn tools_bin() -> PathBuf {
    workspace_root().join("target/tools/node_modules/.bin")
}

/// PATH with the project-local tools first.
pub(crate) fn path_with_tools() -> std::ffi::OsString {
    let mut paths = vec![tools_bin()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap_or_default()
}

/// The wasm32 target, Trunk, wasm-bindgen-cli (equal to the crate pinned in Cargo.lock) and wasm-opt.
pub(crate) fn ensure_wasm_tools() -> Result {
    if !output("rustup", &["target", "list", "--installed"]).contains("wasm32-unknown-unknown") {
        step("installing the wasm32-unknown-unknown target");
        run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    if !output("trunk", &["--version"]).contains(TRUNK_VERSION) {
        step(&format!("installing trunk {TRUNK_VERSION} from crates.io (about 7 minutes, once)"));
        run("cargo", &["install", "trunk", "--locked", "--version", TRUNK_VERSION])?;
    }
    let bindgen = wasm_bindgen_version()?;
    if !output("wasm-bindgen", &["--version"]).contains(&bindgen) {
        step(&format!("installing wasm-bindgen-cli {bindgen} from crates.io (about 3 minutes, once)"));
        // Not --locked: one of its locked dependency versions is no longer on the registry.
        run("cargo", &["install", "wasm-bindgen-cli", "--version", &bindgen])?;
    }
    let wasm_opt = tools_bin().join("wasm-opt");
    if !output(wasm_opt.to_str().unwrap_or("wasm-opt"), &["--version"]).contains(&format!("version {WASM_OPT_VERSION}"))
    {
        // Debian's binaryen (108) silently breaks wasm-bindgen output; npm's 132 is current and quick.
        step(&format!("installing wasm-opt {WASM_OPT_VERSION} (npm binaryen) into target/tools"));
        let prefix = workspace_root().join("target/tools");
        std::fs::create_dir_all(&prefix).map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
        let package = format!("binaryen@{WASM_OPT_VERSION}.0.0");
        run("npm", &["install", "--no-audit", "--no-fund", "--prefix", prefix.to_str().unwrap_or("."), &package])?;
    }
    Ok(())
}

/// cargo-semver-checks, which compares the client crate's public API with its last release.
pub(crate) fn ensure_semver_checks() -> Result {
    if !output("cargo-semver-checks", &["--version"]).contains(SEMVER_CHECKS_VERSION) {
        step(&format!("installing cargo-semver-checks {SEMVER_CHECKS_VERSION} from crates.io (about 5 minutes, once)"));
        run("cargo", &["install", "cargo-semver-checks", "--locked", "--version", SEMVER_CHECKS_VERSION])?;
    }
    Ok(())
}

/// aiosmtpd, the SMTP server the password-reset tests send their mail to, in a virtual environment
/// under target/tools; returns its Python.
pub(crate) fn ensure_aiosmtpd() -> Result<PathBuf> {
    let venv = crate::target_dir().join("tools/aiosmtpd");
    let python = venv.join("bin/python");
    let probe = "import importlib.metadata as m; print(m.version('aiosmtpd'))";
    if output(python.to_str().unwrap_or("python3"), &["-c", probe]).trim() == AIOSMTPD_VERSION {
        return Ok(python);
    }
    step(&format!("installing aiosmtpd {AIOSMTPD_VERSION} from PyPI into target/tools (for the mail tests, once)"));
    run("python3", &["-m", "venv", venv.to_str().ok_or("target path is not UTF-8")?])?;
    let pip = venv.join("bin/pip");
    let package = format!("aiosmtpd=={AIOSMTPD_VERSION}");
    run(pip.to_str().unwrap_or("pip"), &["install", "--quiet", "--disable-pip-version-check", &package])?;
    Ok(python)
}

/// Debian's Chromium and chromedriver, for the browser tests.
pub(crate) fn ensure_chromium() -> Result {
    ensure_debian("the browser tests", &[("chromium", "chromium"), ("chromedriver", "chromium-driver")])
}

/// Installs the Debian packages (`(command, package)`) whose command is missing, saying first what
/// will be installed, with which command, and for what.
pub(crate) fn ensure_debian(needed_by: &str, commands: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = commands
        .iter()
        .filter(|(command, _)| {
            !Command::new("sh").args(["-c", &format!("command -v {command}")]).status().is_ok_and(|s| s.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!(
        "{needed_by} need {}, which is missing: installing it with `apt-get install` (Debian's package)",
        missing.join(", ")
    ));
    run("apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend(missing);
    run("apt-get", &args)
}

/// The `wasm-bindgen` version resolved in Cargo.lock (the crate is pinned with `=` in Cargo.toml).
pub(crate) fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == r#"name = "wasm-bindgen""#
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    fail("wasm-bindgen is not in Cargo.lock")
}

/// Stdout of a command, or empty when it cannot run.
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub(crate) fn run(program: &str, args: &[&str]) -> Result {
    let status = Command::new(program).args(args).status().map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() { Ok(()) } else { fail(&format!("`{program} {}` failed ({status})", args.join(" "))) }
}
