//! The server-rendered demo (`frontend/ssr-demo`, Leptos SSR + hydration on the client crate's `ssr`
//! layer) in front of the real backend, in headless Chromium: the page arrives with the user in it,
//! hydrates without a mismatch or a flash of the login link, shares one refresh among parallel loads
//! and server functions, resolves a cross-site arrival, and in BFF mode shows the browser no token.

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::harness::{AppMode, DEMO_EMAIL, DEMO_PASSWORD, PAST_EXPIRY, Scenario};

/// A JWT's first part always starts with the encoding of `{"`.
const JWT_START: &str = "eyJ";

/// Records whether a login link or a "not signed in" line was ever in the document, from the first
/// parsed byte on (a MutationObserver attached before the page's own scripts).
const WATCH_FOR_LOGIN_LINK: &str = "
    window.__sawLoggedOut = false;
    new MutationObserver(() => {
        if (document.getElementById('login-link')) window.__sawLoggedOut = true;
    }).observe(document, {childList: true, subtree: true});";

impl Scenario {
    async fn log_in_on_the_app(&self) -> anyhow::Result<()> {
        self.goto("/login").await?;
        // Hydrated when the form reacts: the submit handler is the app's, not the browser's default.
        self.wait_for("#login-form").await?;
        self.hydrated().await?;
        self.type_into("#email", DEMO_EMAIL).await?;
        self.type_into("#password", DEMO_PASSWORD).await?;
        self.click("#login").await?;
        self.wait_for_text("#user", "demo").await
    }

    /// Waits until the page's wasm has hydrated it (the demo marks `<body>` when `hydrate` returns).
    async fn hydrated(&self) -> anyhow::Result<()> {
        self.wait_for("body[data-hydrated]").await.map(drop)
    }

    /// An element's text as the document holds it (WebDriver's text is empty for a `<script>`).
    async fn text_content(&self, css: &str) -> anyhow::Result<String> {
        let script = format!("return document.querySelector({css:?})?.textContent ?? '';");
        Ok(self.browser.execute(&script, vec![]).await?.as_str().unwrap_or_default().to_owned())
    }

    async fn in_page(&self, script: &str) -> anyhow::Result<Value> {
        let wrapped =
            format!("const done = arguments[arguments.length - 1]; ({script}).then(done, e => done(String(e)));");
        Ok(self.browser.execute_async(&wrapped, vec![]).await?)
    }

    /// The backend's test switch (feature `e2e`): every refresh answers 503 while it is on.
    async fn refresh_outage(&self, on: bool) -> anyhow::Result<()> {
        let url = self.backend_url(&format!("{}?on={on}", shared::paths::TEST_REFRESH_OUTAGE));
        let status = self.http.post(url).send().await?.status();
        anyhow::ensure!(status == 204, "the outage switch answered {status}");
        Ok(())
    }

    async fn clean_console(&self) -> anyhow::Result<()> {
        let problems = self.console_problems().await?;
        anyhow::ensure!(problems.is_empty(), "the console reported: {problems:#?}");
        Ok(())
    }
}

#[tokio::test]
async fn ssr_a_reload_with_only_the_refresh_cookie_renders_the_user_and_never_paints_a_login_link() {
    Scenario::run_app("ssr-reload", AppMode::Ssr, |scenario| {
        Box::pin(async move {
            scenario.log_in_on_the_app().await?;
            tokio::time::sleep(PAST_EXPIRY).await; // the app server's access token has expired
            scenario.before_every_page(WATCH_FOR_LOGIN_LINK).await?;
            let before = scenario.metrics().await?;
            scenario.browser.refresh().await?;
            scenario.wait_for_text("#user", "demo").await?;
            scenario.hydrated().await?;
            let saw = scenario.browser.execute("return window.__sawLoggedOut;", vec![]).await?;
            anyhow::ensure!(saw == Value::Bool(false), "a login link was painted during the reload");
            let snapshot = scenario.text_content("#session-snapshot").await?;
            anyhow::ensure!(snapshot.contains("\"logged_in\""), "the page was rendered with {snapshot}");
            let after = scenario.metrics().await?;
            anyhow::ensure!(after.refreshes - before.refreshes == 1, "{before:?} → {after:?}");

            // The page as sent: 200, the user in the HTML, one Set-Cookie, private and nonce-pinned.
            let cookie = scenario.refresh_cookie().await?.context("the browser holds the refresh cookie")?;
            tokio::time::sleep(PAST_EXPIRY).await;
            let page = scenario
                .http
                .get(scenario.url("/"))
                .header("cookie", format!("{}={}", cookie.name(), cookie.value()))
                .send()
                .await?;
            anyhow::ensure!(page.status() == 200);
            let headers = page.headers().clone();
            anyhow::ensure!(headers.get_all("set-cookie").iter().count() == 1, "{headers:?}");
            anyhow::ensure!(headers["cache-control"] == "private, no-store" && headers["vary"] == "Cookie");
            let csp = headers["content-security-policy"].to_str()?;
            anyhow::ensure!(csp.contains("'nonce-") && !csp.contains("unsafe-inline"), "{csp}");
            let html = page.text().await?;
            anyhow::ensure!(html.contains("<strong id=\"user\">demo</strong>"), "{html}");
            anyhow::ensure!(!html.contains(JWT_START), "a token in the page");
            scenario.clean_console().await
        })
    })
    .await;
}

#[tokio::test]
async fn ssr_five_parallel_loads_and_twenty_server_calls_each_make_one_refresh() {
    Scenario::run_app("ssr-parallel", AppMode::Ssr, |scenario| {
        Box::pin(async move {
            scenario.log_in_on_the_app().await?;
            scenario.hydrated().await?;
            tokio::time::sleep(PAST_EXPIRY).await;
            let before = scenario.metrics().await?;
            let loads = scenario
                .in_page(
                    "Promise.all([0,1,2,3,4].map(() => fetch('/', {cache: 'no-store'})
                        .then(r => r.text()).then(t => t.includes('<strong id=\"user\">demo</strong>'))))",
                )
                .await?;
            anyhow::ensure!(loads == json!([true, true, true, true, true]), "{loads}");
            let after = scenario.metrics().await?;
            anyhow::ensure!(after.refreshes - before.refreshes == 1, "five loads: {before:?} → {after:?}");
            anyhow::ensure!(after.reuse_detected == before.reuse_detected);

            tokio::time::sleep(PAST_EXPIRY).await;
            let before = scenario.metrics().await?;
            scenario.click("#twenty").await?;
            scenario.wait_for_text("#server-result", "20/20 server calls answered; session checks so far: 0").await?;
            let after = scenario.metrics().await?;
            anyhow::ensure!(after.refreshes - before.refreshes == 1, "twenty calls: {before:?} → {after:?}");
            anyhow::ensure!(after.reuse_detected == before.reuse_detected);
            scenario.click("#whoami").await?;
            scenario.wait_for_text("#server-result", "server function: demo@example.com").await?;
            scenario.clean_console().await
        })
    })
    .await;
}

/// Server calls that all get 401 (the auth server's refresh is down, so the layer could not refresh)
/// share one session check, give up at once instead of hanging, and work again, through one refresh,
/// when the refresh endpoint is back.
#[tokio::test]
async fn ssr_server_calls_that_meet_an_outage_share_one_session_check_and_recover() {
    Scenario::run_app("ssr-outage", AppMode::Ssr, |scenario| {
        Box::pin(async move {
            scenario.log_in_on_the_app().await?;
            scenario.hydrated().await?;
            scenario.refresh_outage(true).await?;
            tokio::time::sleep(PAST_EXPIRY).await;
            scenario.click("#twenty").await?;
            let failed = "0/20 server calls answered; session checks so far: 1";
            scenario.wait_for_text("#server-result", failed).await?;

            scenario.refresh_outage(false).await?;
            let before = scenario.metrics().await?;
            scenario.click("#twenty").await?;
            scenario.wait_for_text("#server-result", "20/20 server calls answered; session checks so far: 1").await?;
            let after = scenario.metrics().await?;
            anyhow::ensure!(after.refreshes - before.refreshes == 1, "{before:?} → {after:?}");
            anyhow::ensure!(after.reuse_detected == before.reuse_detected);
            // The refused calls are in the console as failed loads (401), and nothing else is.
            let problems = scenario.console_problems().await?;
            let unexpected: Vec<_> = problems.iter().filter(|p| !p.contains(" 401 ")).collect();
            anyhow::ensure!(unexpected.is_empty(), "the console reported: {unexpected:#?}");
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn ssr_an_arrival_from_another_site_renders_unknown_and_ends_logged_in() {
    Scenario::run_app("ssr-cross-site", AppMode::Ssr, |scenario| {
        Box::pin(async move {
            scenario.log_in_on_the_app().await?;
            // A page of another site (an opaque origin) links here: SameSite=Strict keeps the cookie back.
            let link = format!("data:text/html,<a id=\"go\" href=\"{}\">go</a>", scenario.url("/"));
            scenario.browser.goto(&link).await?;
            scenario.click("#go").await?;
            scenario.wait_for_text("#user", "demo").await?;
            let snapshot = scenario.text_content("#session-snapshot").await?;
            anyhow::ensure!(snapshot.contains("\"unknown\""), "rendered as {snapshot}, not unknown");
            scenario.clean_console().await
        })
    })
    .await;
}

#[tokio::test]
async fn bff_no_token_reaches_the_browser_and_its_rules_hold() {
    Scenario::run_app("bff", AppMode::Bff, |scenario| {
        Box::pin(async move {
            scenario.log_in_on_the_app().await?;
            let cookies = scenario.browser.get_all_cookies().await?;
            let names: Vec<&str> = cookies.iter().map(|c| c.name()).collect();
            anyhow::ensure!(names == ["__Host-session"], "cookies: {names:?}");
            anyhow::ensure!(cookies.iter().all(|c| !c.value().starts_with(JWT_START)));
            scenario.no_token_readable_by_scripts().await?;
            let html = scenario.browser.source().await?;
            anyhow::ensure!(!html.contains(JWT_START), "a token in the page");

            let answers = scenario
                .in_page(
                    "Promise.all([
                        fetch('/session/upstream/me').then(async r => [r.status, await r.text()]),
                        fetch('/session').then(async r => [r.status, await r.text()]),
                        fetch('/session/upstream/sessions').then(r => r.status),
                        fetch('/session/logout', {method: 'POST'}).then(r => r.status),
                        fetch('/', {cache: 'no-store'}).then(r => [r.headers.get('cache-control'), r.headers.get('content-security-policy')]),
                    ])",
                )
                .await?;
            anyhow::ensure!(answers[0][0] == 200 && answers[0][1].as_str().is_some_and(|t| t.contains(DEMO_EMAIL)));
            anyhow::ensure!(answers[1][0] == 200);
            for (i, answer) in answers.as_array().into_iter().flatten().enumerate() {
                anyhow::ensure!(!answer.to_string().contains(JWT_START), "answer {i} holds a token: {answer}");
            }
            anyhow::ensure!(answers[2] == 404, "an unlisted upstream: {}", answers[2]);
            anyhow::ensure!(answers[3] == 403, "a cookie POST without the custom header: {}", answers[3]);
            anyhow::ensure!(answers[4][0] == "private, no-store", "{}", answers[4]);
            anyhow::ensure!(answers[4][1].as_str().is_some_and(|csp| csp.contains("'nonce-")), "{}", answers[4]);
            // The refused logout changed nothing: the session is still there.
            scenario.browser.refresh().await?;
            scenario.wait_for_text("#user", "demo").await?;
            scenario.click("#logout").await?;
            scenario.wait_for("#login-link").await?;
            // Only the expected 403 and 404 above may be in the console.
            let problems = scenario.console_problems().await?;
            let unexpected: Vec<_> =
                problems.iter().filter(|p| !(p.contains(" 403 ") || p.contains(" 404 "))).collect();
            anyhow::ensure!(unexpected.is_empty(), "the console reported: {unexpected:#?}");
            Ok(())
        })
    })
    .await;
}
