//! What `silent-refresh` costs a crate user: the same minimal Leptos app built twice outside the
//! workspace, once calling `/api/me` with plain `gloo-net` and once through the crate's client (context,
//! signals, the browser transport, Web Locks, storage), each through wasm-bindgen and `wasm-opt -Oz`
//! like the demo, then brotli. The demo's own bundle is split the same way: Leptos and the runtime (the
//! app without the crate), the crate (the difference), and the demo itself (the rest).

use std::path::Path;
use std::process::Command;

use super::Row;
use crate::{Result, fail, step, target_dir, tools, workspace_root};

/// The most the crate may add, brotli.
const TARGET_KB: f64 = 40.0;

const MANIFEST: &str = r#"[package]
name = "weight"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
leptos = { version = "0.8", features = ["csr"] }
gloo-net = { version = "0.6", default-features = false, features = ["http", "json"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
wasm-bindgen = "=WASM_BINDGEN"
CRATE_LINE

[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
"#;

/// The page both apps render, a button that loads `/api/me` and shows the e-mail, around each app's
/// `me` action (`ACTION`).
const PAGE: &str = r#"
#[component]
fn App() -> impl IntoView {
ACTION
    view! {
        <button on:click=move |_| { me.dispatch_local(()); }>"Who am I?"</button>
        <p>{move || me.value().get().map(|r| r.unwrap_or_else(|e| e))}</p>
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
"#;

/// The page with plain `gloo-net`: (its items, its action).
const WITHOUT: (&str, &str) = (
    r#"use leptos::prelude::*;

#[derive(serde::Deserialize, Clone)]
struct Me { email: String }
"#,
    r#"    let me = Action::new_local(|_: &()| async {
        let response = gloo_net::http::Request::get("/api/me").send().await.map_err(|e| e.to_string())?;
        response.json::<Me>().await.map(|me| me.email).map_err(|e| e.to_string())
    });"#,
);

/// The same page through the crate's client, set up as the crate README's Leptos quick start does
/// (context, driver, signals).
const WITH: (&str, &str) = (
    r#"use leptos::prelude::*;
use silent_refresh::leptos::{provide_refresh_client, use_refresh_client};
use silent_refresh::{Config, EnvelopeProtocol, Request};

#[derive(serde::Deserialize, serde::Serialize, Clone)]
struct Me { email: String }

type Api = EnvelopeProtocol<Me>;
"#,
    r#"    provide_refresh_client(silent_refresh::browser::client(Api::default(), "", Config::default()));
    let auth = use_refresh_client::<Api>();
    let me = Action::new_local(move |_: &()| {
        let client = auth.client();
        async move { client.fetch::<Me>(&Request::get("/api/me")).await.map(|me| me.email).map_err(|e| e.to_string()) }
    });"#,
);

/// An app's source: its items, then the page around its action.
fn source((items, action): (&str, &str)) -> String {
    format!("{items}{}", PAGE.replace("ACTION", action))
}

/// (without the crate, with it), brotli bytes of wasm + JS glue.
fn minimal_apps() -> Result<(u64, u64)> {
    let crate_path = workspace_root().join("frontend/silent-refresh");
    let with_line =
        format!("silent-refresh = {{ path = \"{}\", features = [\"browser\", \"leptos\"] }}", crate_path.display());
    let without = build_app("without", &source(WITHOUT), "")?;
    let with = build_app("with", &source(WITH), &with_line)?;
    Ok((without, with))
}

/// Builds one app like Trunk builds the demo and returns its brotli size.
fn build_app(name: &str, main: &str, crate_line: &str) -> Result<u64> {
    let dir = target_dir().join("bench/weight").join(name);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let manifest = MANIFEST.replace("WASM_BINDGEN", &tools::wasm_bindgen_version()?).replace("CRATE_LINE", crate_line);
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/main.rs"), main).map_err(|e| e.to_string())?;
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let build_target = target_dir().join("bench/weight/target");
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", "wasm32-unknown-unknown"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &build_target)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return fail(&format!("the {name} app did not build"));
    }
    let wasm = build_target.join("wasm32-unknown-unknown/release/weight.wasm");
    let out = dir.join("out");
    tools::run(
        "wasm-bindgen",
        &["--target", "web", "--no-typescript", "--out-dir", out.to_str().unwrap_or("."), wasm.to_str().unwrap_or("")],
    )?;
    let bindgen_wasm = out.join("weight_bg.wasm");
    let wasm_opt = tools::tools_bin().join("wasm-opt");
    let path = bindgen_wasm.to_str().unwrap_or("");
    tools::run(wasm_opt.to_str().unwrap_or("wasm-opt"), &["-Oz", path, "-o", path])?;
    Ok(brotli_size(&bindgen_wasm)? + brotli_size(&out.join("weight.js"))?)
}

fn brotli_size(path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut brotli, &params).map_err(|e| e.to_string())?;
    Ok(brotli.len() as u64)
}

/// The demo's wasm and JS in `dist/`, brotli, as `spa::build_release` wrote them.
fn demo_brotli() -> u64 {
    let Ok(entries) = std::fs::read_dir(workspace_root().join("dist")) else { return 0 };
    entries
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().ends_with(".wasm.br") || e.file_name().to_string_lossy().ends_with(".js.br")
        })
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

pub(super) fn measure() -> Result<Vec<Row>> {
    step("building a minimal Leptos app with and without silent-refresh (release, wasm-opt, brotli)");
    let (without, with) = minimal_apps()?;
    let kb = |bytes: u64| bytes as f64 / 1024.0;
    let added = kb(with.saturating_sub(without));
    let demo = demo_brotli();
    let mut rows = vec![Row {
        figure: "silent-refresh added to a minimal Leptos app (wasm + JS, brotli)".into(),
        measured: format!("{added:.1} KB ({:.1} → {:.1} KB)", kb(without), kb(with)),
        target: format!("≤ {TARGET_KB:.0} KB"),
        ratio: Some(TARGET_KB / added.max(0.1)),
    }];
    if demo > 0 {
        rows.push(Row {
            figure: "the demo SPA, by part (brotli)".into(),
            measured: format!(
                "{:.1} KB: Leptos and runtime {:.1}, silent-refresh {added:.1}, the demo {:.1}",
                kb(demo),
                kb(without),
                kb(demo.saturating_sub(with))
            ),
            target: "-".into(),
            ratio: None,
        });
    }
    Ok(rows)
}
