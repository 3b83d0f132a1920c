//! Builds the single-page app with Trunk, offline and with pinned tools, into `dist/`.

use std::process::Command;

use crate::tools::path_with_tools;
use crate::{Result, fail, step, workspace_root};

pub(crate) fn build_release() -> Result {
    step("fetching crates (Trunk builds offline)");
    crate::tools::run("cargo", &["fetch", "--quiet"])?;
    step("building the SPA in release mode with wasm-opt (a few minutes the first time)");
    let status = Command::new("trunk")
        .args(["build", "--release", "--offline"])
        .current_dir(workspace_root())
        .env("PATH", path_with_tools())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .status()
        .map_err(|e| format!("cannot run trunk: {e}"))?;
    if !status.success() {
        return fail("trunk build failed");
    }
    report_size();
    Ok(())
}

/// Prints the size of dist/ (wasm + js + css), raw and gzip: the bundle-size benchmark.
pub(crate) fn report_size() {
    let dist = workspace_root().join("dist");
    let Ok(entries) = std::fs::read_dir(&dist) else { return };
    let (mut raw, mut gzip) = (0u64, 0u64);
    for entry in entries.flatten() {
        let path = entry.path();
        let counted = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "wasm" | "js" | "css"));
        if !counted {
            continue;
        }
        raw += entry.metadata().map(|m| m.len()).unwrap_or(0);
        let gz = Command::new("gzip").args(["-9", "-c"]).arg(&path).output();
        gzip += gz.map(|o| o.stdout.len() as u64).unwrap_or(0);
    }
    println!("bundle size (wasm + js + css): {} KB raw, {} KB gzip", raw / 1024, gzip / 1024);
}
