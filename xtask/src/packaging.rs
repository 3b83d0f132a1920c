//! The client crate as someone outside meets it: `cargo package` (with its verification build), the
//! packaged crate's own tests, and a throwaway crate outside the workspace that depends on the packaged
//! crate and builds the README's quick starts for wasm32; and the public API against the last release.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, fail, target_dir, workspace_root};

const CRATE: &str = "silent-refresh";

/// Packages the crate and runs the packaged copy's tests, in a folder outside the workspace.
pub(crate) fn packaged_tests() -> Result<PathBuf> {
    cargo(&["package", "--quiet", "-p", CRATE, "--allow-dirty"], &workspace_root())?;
    let version = crate_version()?;
    let packaged = target_dir().join(format!("package/{CRATE}-{version}"));
    let outside = std::env::temp_dir().join(format!("{CRATE}-packaged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    copy_tree(&packaged, &outside)?;
    copy_lock(&outside)?;
    let listing = std::fs::read_dir(&outside).map_err(|e| e.to_string())?.count();
    println!("packaged {CRATE} {version}: {listing} entries at the top of the .crate");
    cargo(&["test", "--quiet", "--features", "testing"], &outside)?;
    Ok(outside)
}

/// A new crate, outside the workspace, that depends on the packaged crate and compiles both README
/// quick starts (Leptos and plain wasm-bindgen) for wasm32.
pub(crate) fn outside_quick_starts(packaged: &Path) -> Result {
    let readme = std::fs::read_to_string(packaged.join("README.md")).map_err(|e| e.to_string())?;
    let blocks: Vec<String> = readme
        .split("```rust,no_run\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        // Hidden doctest lines are ordinary lines here.
        .map(|block| block.lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).collect::<Vec<_>>().join("\n"))
        .collect();
    if blocks.len() < 2 {
        return fail("the README has fewer than two quick starts");
    }
    let dir = std::env::temp_dir().join(format!("{CRATE}-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let manifest = format!(
        r#"[package]
name = "outside-user"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[features]
default = ["leptos", "browser"]
leptos = []
browser = []
# Declared so the README's server-side quick starts (`ssr`, `native`, native DPoP; native targets,
# covered by the doctests) are left out of this wasm32 build without an unknown-cfg warning.
ssr = []
native = []
dpop = []

[dependencies]
{CRATE} = {{ path = "{}", features = ["leptos"] }}
leptos = {{ version = "0.8", features = ["csr"] }}
leptos_router = "0.8"
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
"#,
        packaged.display()
    );
    let main = format!("#![allow(dead_code)]\n\n{}\n\nfn main() {{}}\n", blocks.join("\n\n"));
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/main.rs"), main).map_err(|e| e.to_string())?;
    copy_lock(&dir)?;
    cargo(&["build", "--quiet", "--target", "wasm32-unknown-unknown"], &dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(packaged);
    Ok(())
}

/// The workspace's lock file, so the outside builds resolve to the versions the workspace tested
/// (and reuse its compiled dependencies through the shared target folder).
fn copy_lock(dir: &Path) -> Result {
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).map(drop).map_err(|e| e.to_string())
}

fn crate_version() -> Result<String> {
    manifest_value("version")
}

/// A `key = "value"` line of the crate's Cargo.toml (the first one with that key).
fn manifest_value(key: &str) -> Result<String> {
    let manifest = std::fs::read_to_string(workspace_root().join("frontend/silent-refresh/Cargo.toml"))
        .map_err(|e| e.to_string())?;
    let prefix = format!("{key} = \"");
    manifest
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.strip_suffix('"')))
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in the crate's Cargo.toml"))
}

/// Today's public API (every feature) against the commit of the last release
/// (`package.metadata.semver.baseline-rev`): a break fails unless `version` says it is one.
pub(crate) fn semver_check() -> Result {
    crate::tools::ensure_semver_checks()?;
    let baseline = manifest_value("baseline-rev")?;
    let known = Command::new("git")
        .args(["cat-file", "-e", &format!("{baseline}^{{commit}}")])
        .current_dir(workspace_root())
        .status()
        .is_ok_and(|s| s.success());
    if !known {
        return fail(&format!(
            "the last release's commit {baseline} is not in this clone (a shallow clone?): `git fetch --unshallow`"
        ));
    }
    cargo(&["semver-checks", "--package", CRATE, "--baseline-rev", &baseline, "--all-features"], &workspace_root())
}

fn copy_tree(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn cargo(args: &[&str], dir: &Path) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { fail(&format!("`cargo {}` failed in {}", args.join(" "), dir.display())) }
}

/// Runs the crate's native example against a real backend (the demo account, 3-second access tokens)
/// and checks what it prints: a login, the account's e-mail on every call, and refreshes between them.
/// (The browser example is built for wasm32 by the crate checks; it needs a page to run in.)
pub(crate) fn native_example() -> Result {
    crate::tools::run("cargo", &["build", "--quiet", "--package", "backend"])?;
    // A folder of its own, for the server's database and the example's saved session (so no session
    // from an earlier run is resumed).
    let temp = std::env::temp_dir().join(format!("{CRATE}-example-{}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(|e| e.to_string())?;
    let database = format!("sqlite://{}", temp.join("example.db").display());
    let args = ["--database-url", &database, "--demo-user", "true", "--access-token-ttl", "3s"];
    let server = crate::backend_process::BackendProcess::spawn(&target_dir().join("debug/backend"), &args)?;
    let output = Command::new("cargo")
        .args(["run", "--quiet", "-p", CRATE, "--example", "native", "--features", "native"])
        .current_dir(workspace_root())
        .env("API_URL", server.url(""))
        .env("CALLS", "8")
        .env("TMPDIR", &temp)
        .output()
        .map_err(|e| format!("cannot run the native example: {e}"))?;
    let _ = std::fs::remove_dir_all(&temp);
    let printed = String::from_utf8_lossy(&output.stdout);
    let calls = printed.lines().filter(|l| l.ends_with(": \"demo@example.com\"")).count();
    let refreshed = printed.lines().any(|l| l.starts_with("RefreshSucceeded"));
    if !output.status.success() || !printed.starts_with("logged in") || calls != 8 || !refreshed {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return fail(&format!("the native example printed:\n{printed}\n{stderr}"));
    }
    println!("native example: logged in, {calls} calls answered with the account, refreshed on the way");
    Ok(())
}
