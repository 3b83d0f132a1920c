//! Builds the server-rendered demo without cargo-leptos: the hydration bundle (wasm32, `hydrate`,
//! wasm-bindgen and wasm-opt) into `target/ssr-site/pkg`, and the app server (`ssr`).

use std::path::PathBuf;
use std::process::Command;

use crate::tools::{run, tools_bin};
use crate::{Result, fail, step, target_dir, workspace_root};

/// What the app server needs: its binary and its site folder.
pub(crate) struct SsrSite {
    pub(crate) binary: PathBuf,
    pub(crate) site: PathBuf,
}

/// `release` builds the app server in release mode (the demo); tests use the debug build.
pub(crate) fn build(release: bool) -> Result<SsrSite> {
    step("building the server-rendered demo's hydration bundle (wasm32, release)");
    let wasm = ["build", "--quiet", "--package", "ssr-demo", "--lib", "--target", "wasm32-unknown-unknown"];
    run("cargo", &[&wasm[..], &["--features", "hydrate", "--profile", "wasm-release"]].concat())?;
    let site = target_dir().join("ssr-site");
    let pkg = site.join("pkg");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(&pkg).map_err(|e| format!("cannot create {}: {e}", pkg.display()))?;
    let built = target_dir().join("wasm32-unknown-unknown/wasm-release/ssr_demo.wasm");
    let out_dir = pkg.to_str().ok_or("target path is not UTF-8")?;
    let input = built.to_str().ok_or("target path is not UTF-8")?;
    run(
        "wasm-bindgen",
        &[input, "--target", "web", "--no-typescript", "--out-dir", out_dir, "--out-name", "ssr_demo"],
    )?;
    let bundle = pkg.join("ssr_demo_bg.wasm");
    let status = Command::new(tools_bin().join("wasm-opt"))
        // The features rustc's wasm32 target enables by default.
        .args(["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-reference-types"])
        .args(["--enable-sign-ext", "--enable-mutable-globals", "--enable-multivalue"])
        .arg(&bundle)
        .arg("-o")
        .arg(&bundle)
        .status()
        .map_err(|e| format!("cannot run wasm-opt: {e}"))?;
    if !status.success() {
        return fail("wasm-opt failed on the hydration bundle");
    }
    let style = workspace_root().join("frontend/ssr-demo/style.css");
    std::fs::copy(&style, site.join("style.css")).map_err(|e| format!("cannot copy {}: {e}", style.display()))?;
    // An icon, so the browser's automatic request for one is not a 404 in its console.
    std::fs::write(site.join("favicon.ico"), []).map_err(|e| e.to_string())?;

    step("building the server-rendered demo's app server");
    let profile: &[&str] = if release { &["--release"] } else { &[] };
    run("cargo", &[&["build", "--quiet", "--package", "ssr-demo", "--features", "ssr"][..], profile].concat())?;
    let binary = target_dir().join(if release { "release/ssr-demo" } else { "debug/ssr-demo" });
    Ok(SsrSite { binary, site })
}
