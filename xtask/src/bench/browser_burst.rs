//! The demo's burst in headless Chromium: 20 concurrent client calls against 20 plain fetches of
//! distinct URLs from the same page (the browser's floor: six connections per host), measured by the
//! `timing` scenario of the e2e crate.

use std::process::Command;

use super::{Row, printed, row};
use crate::{Result, fail, step, target_dir, tools, workspace_root};

pub(super) fn measure() -> Result<Vec<Row>> {
    step("timing the demo's burst in headless Chromium against plain fetches");
    tools::ensure_chromium()?;
    tools::run("cargo", &["build", "--quiet", "--package", "backend", "--features", "e2e"])?;
    let dist = workspace_root().join("dist");
    let backend = target_dir().join("debug/backend");
    let output = Command::new("cargo")
        .args(["test", "--quiet", "--package", "e2e", "--test", "e2e", "burst_timing", "--"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env("E2E_DIST", &dist)
        .env("E2E_BACKEND", &backend)
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .output()
        .map_err(|e| format!("cannot run the timing scenario: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (Some(client), Some(plain)) = (printed(&text, "burst_client_ms"), printed(&text, "burst_plain_ms")) else {
        return fail(&format!(
            "the timing scenario printed no figures:\n{text}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    };
    Ok(vec![row(
        "SPA: 20 concurrent client calls ÷ 20 plain fetches, 150 ms each".into(),
        format!("{client:.0} ms ÷ {plain:.0} ms = {:.2}", client / plain),
        "≤ 1.5".into(),
        1.5 / (client / plain),
    )])
}
