//! The Content-Security-Policy: sent with the app, strict, and enforced by Chromium. (Every other
//! scenario also fails on any violation the browser reports; this one proves that check can fail.)

use anyhow::Context as _;

use crate::harness::Scenario;

#[tokio::test]
async fn an_injected_inline_script_is_refused_and_reported_while_the_app_itself_runs() {
    Scenario::run("csp", |scenario| {
        Box::pin(async move {
            let page = scenario.http.get(scenario.url("/login")).send().await?;
            let policy = page.headers().get("content-security-policy").context("no CSP header")?.to_str()?.to_owned();
            let script_src = policy.split(';').find(|d| d.trim().starts_with("script-src")).unwrap_or_default();
            anyhow::ensure!(!script_src.contains("unsafe-inline"), "{policy}");
            anyhow::ensure!(script_src.contains("'sha256-"), "the bootstrap is not pinned by hash: {policy}");

            // The app starts (its own bootstrap script is allowed) ...
            scenario.goto("/login").await?;
            scenario.wait_for("input[name=email]").await?;
            // ... and an injected one is not.
            let inject = "const s = document.createElement('script'); s.textContent = 'window.injected = true'; \
                      document.head.appendChild(s);";
            scenario.browser.execute(inject, vec![]).await?;
            let ran = scenario.browser.execute("return window.injected === true;", vec![]).await?;
            anyhow::ensure!(ran == serde_json::Value::Bool(false), "the injected script ran");
            anyhow::ensure!(scenario.no_csp_violations().await.is_err(), "the violation was not seen in the log");
            Ok(())
        })
    })
    .await;
}
