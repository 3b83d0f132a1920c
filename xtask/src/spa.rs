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
    precompress()?;
    report_size();
    Ok(())
}

/// Writes `.br` (quality 11) and `.gz` (level 9) beside every text or wasm file of `dist/`, for the
/// backend to serve by `Accept-Encoding` without compressing on each request.
fn precompress() -> Result {
    let dist = workspace_root().join("dist");
    let entries = std::fs::read_dir(&dist).map_err(|e| format!("cannot read {}: {e}", dist.display()))?;
    for path in entries.flatten().map(|e| e.path()) {
        let compressible =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "wasm" | "js" | "css" | "html"));
        if !compressible {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut bytes.as_slice(), &mut brotli, &params).map_err(|e| e.to_string())?;
        write_beside(&path, "br", &brotli)?;
        let gzip = Command::new("gzip").args(["-9", "-n", "-c"]).arg(&path).output().map_err(|e| e.to_string())?;
        write_beside(&path, "gz", &gzip.stdout)?;
    }
    Ok(())
}

fn write_beside(path: &std::path::Path, extension: &str, bytes: &[u8]) -> Result {
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".{extension}"));
    std::fs::write(&target, bytes).map_err(|e| format!("cannot write {}: {e}", std::path::Path::new(&target).display()))
}

/// Prints the size of dist/ (wasm + js + css), raw, gzip and brotli: the bundle-size benchmark.
pub(crate) fn report_size() {
    let dist = workspace_root().join("dist");
    let Ok(entries) = std::fs::read_dir(&dist) else { return };
    let (mut raw, mut gzip, mut brotli) = (0u64, 0u64, 0u64);
    for entry in entries.flatten() {
        let path = entry.path();
        let counted = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "wasm" | "js" | "css"));
        if !counted {
            continue;
        }
        raw += entry.metadata().map(|m| m.len()).unwrap_or(0);
        let size = |extension: &str| {
            let mut beside = path.as_os_str().to_owned();
            beside.push(extension);
            std::fs::metadata(beside).map_or(0, |m| m.len())
        };
        gzip += size(".gz");
        brotli += size(".br");
    }
    println!(
        "bundle size (wasm + js + css): {} KB raw, {} KB gzip, {} KB brotli",
        raw / 1024,
        gzip / 1024,
        brotli / 1024
    );
}
