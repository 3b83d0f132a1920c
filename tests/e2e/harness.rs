//! One scenario's world: a backend serving the SPA, chromedriver, a browser session, and the
//! locate → act → check helpers. Failures save a screenshot and the page source; the browser is
//! always closed.

use std::future::Future;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use shared::ops::Metrics;
use shared::paths;

use crate::backend_process::BackendProcess;

mod checks;

pub(crate) const DEMO_EMAIL: &str = "demo@example.com";
pub(crate) const DEMO_PASSWORD: &str = "demo-password";
/// Past the backend's 3 s access lifetime, for the one scenario that must let it run out in two tabs.
pub(crate) const PAST_EXPIRY: Duration = Duration::from_millis(3_600);
const WAIT: Duration = Duration::from_secs(20);

/// The folder screenshots and failure captures go to.
pub(crate) fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"), PathBuf::from);
    let dir = target.join("e2e-artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port for chromedriver, which cannot report one it picked itself.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Scenario {
    name: &'static str,
    pub(crate) browser: Client,
    /// A second browser, when a scenario opened one.
    other: Option<Client>,
    /// For a second browser (another profile: its own cookies and storage).
    driver_url: String,
    capabilities: serde_json::Map<String, Value>,
    pub(crate) http: reqwest::Client,
    backend: Option<BackendProcess>,
    port: u16,
    dist: String,
    database: String,
    access_ttl: &'static str,
    /// The server-rendered demo in front of the backend, when the scenario runs against it.
    app: Option<AppServer>,
    _data: tempfile::TempDir,
    _driver: Chromedriver,
}

/// The server-rendered demo's app server (`ssr-demo`), killed with the scenario.
struct AppServer {
    process: Child,
    port: u16,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// How the server-rendered demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppMode {
    Ssr,
    Bff,
}

impl Scenario {
    /// Runs one scenario: starts everything, runs `steps`, then (pass or fail) checks Chromium's log
    /// for CSP violations, saves a screenshot and the page source on failure and closes the browser.
    pub(crate) async fn run<F>(name: &'static str, steps: F)
    where
        F: for<'a> FnOnce(&'a mut Scenario) -> futures::future::BoxFuture<'a, anyhow::Result<()>>,
    {
        Self::run_with_access_ttl(name, SHORT_ACCESS_TTL, steps).await;
    }

    /// [`run`](Self::run) with access tokens living `access_ttl` instead of 3 s: for a scenario in which
    /// the page must not refresh ahead of expiry on its own (a refresh finds a revocation before the
    /// action under test does).
    pub(crate) async fn run_with_access_ttl<F>(name: &'static str, access_ttl: &'static str, steps: F)
    where
        F: for<'a> FnOnce(&'a mut Scenario) -> futures::future::BoxFuture<'a, anyhow::Result<()>>,
    {
        let mut scenario = Self::start(name, access_ttl).await;
        let result = steps(&mut scenario).await;
        scenario.finish(result).await;
    }

    /// Starts everything. Without a built SPA the scenario fails, saying why: this suite is built only
    /// on request (`--features e2e`), and a scenario that did not run must never look like a pass.
    async fn start(name: &'static str, access_ttl: &'static str) -> Self {
        let dist = std::env::var("E2E_DIST").ok().filter(|d| PathBuf::from(d).join("index.html").exists());
        let dist = dist.unwrap_or_else(|| {
            panic!("{name}: E2E_DIST does not point at a built SPA (`cargo xtask test` builds one and sets it)")
        });
        let data = tempfile::tempdir().expect("temporary folder");
        let database = format!("sqlite://{}", data.path().join("e2e.db").display());
        let first = spawn_backend("127.0.0.1:0", &database, &dist, access_ttl);
        let port = first.addr.port();
        let backend = Some(first);

        let driver_port = free_port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()))
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Chromedriver)
            .expect("chromedriver starts");
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--disable-component-update", "--disable-background-networking", "--no-first-run",
                         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                         "--window-size=1280,1100"]
            }),
        );
        // The browser's console log is read at the end of each scenario for CSP violations.
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let driver_url = format!("http://127.0.0.1:{driver_port}");
        let browser = ClientBuilder::native()
            .capabilities(capabilities.clone())
            .connect(&driver_url)
            .await
            .expect("a WebDriver session");
        Self {
            name,
            browser,
            other: None,
            driver_url,
            capabilities,
            http: reqwest::Client::new(),
            backend,
            port,
            dist,
            database,
            access_ttl,
            app: None,
            _data: data,
            _driver: driver,
        }
    }

    /// [`run`](Self::run) against the server-rendered demo (`E2E_SSR_DEMO`, its site in
    /// `E2E_SSR_SITE`) in front of the backend: [`url`](Self::url) then names the app server's pages.
    pub(crate) async fn run_app<F>(name: &'static str, mode: AppMode, steps: F)
    where
        F: for<'a> FnOnce(&'a mut Scenario) -> futures::future::BoxFuture<'a, anyhow::Result<()>>,
    {
        let mut scenario = Self::start(name, SHORT_ACCESS_TTL).await;
        let binary = std::env::var("E2E_SSR_DEMO").ok().filter(|b| PathBuf::from(b).exists());
        let binary = binary.unwrap_or_else(|| panic!("{name}: E2E_SSR_DEMO does not name the built ssr-demo binary"));
        let site = std::env::var("E2E_SSR_SITE").unwrap_or_else(|_| panic!("{name}: E2E_SSR_SITE is not set"));
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .env("SSR_DEMO_ADDR", format!("127.0.0.1:{port}"))
            .env("SSR_DEMO_SITE", site)
            .env("AUTH_URL", scenario.backend_url(""))
            .stdout(Stdio::null());
        if mode == AppMode::Bff {
            command.env("BFF_KEY", "an e2e sealing key of thirty-two bytes or more");
        }
        let process = command.spawn().expect("the app server starts");
        let app = AppServer { process, port };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the app server did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        scenario.app = Some(app);
        let result = steps(&mut scenario).await;
        scenario.finish(result).await;
    }

    /// Saves a screenshot and the page source when `result` failed, always closes the browser, then
    /// fails the test with the scenario's error.
    async fn finish(mut self, result: anyhow::Result<()>) {
        let result = match result {
            Ok(()) => self.no_csp_violations().await,
            failed => failed,
        };
        if result.is_err() {
            let dir = artifacts();
            if let Ok(png) = self.browser.screenshot().await {
                let _ = std::fs::write(dir.join(format!("{}-failure.png", self.name)), png);
            }
            if let Ok(source) = self.browser.source().await {
                let _ = std::fs::write(dir.join(format!("{}-failure.html", self.name)), source);
            }
        }
        let _ = self.browser.clone().close().await;
        if let Some(other) = self.other.take() {
            let _ = other.close().await;
        }
        if let Err(error) = result {
            panic!("scenario {} failed: {error:#} (artifacts in {})", self.name, artifacts().display());
        }
    }

    /// A page of the app under test: the backend's SPA, or the server-rendered demo.
    pub(crate) fn url(&self, path: &str) -> String {
        let port = self.app.as_ref().map_or(self.port, |app| app.port);
        format!("http://127.0.0.1:{port}{path}")
    }

    pub(crate) fn backend_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `kill -9`, as an outage would.
    pub(crate) fn stop_backend(&mut self) {
        if let Some(mut backend) = self.backend.take() {
            backend.kill_9();
        }
    }

    /// The same port and database as before the outage: the browser's page must find it again.
    pub(crate) fn restart_backend(&mut self) {
        self.restart_backend_with(&[]);
    }

    /// [`restart_backend`](Self::restart_backend) after a clean stop, with `extra` settings (a mail
    /// server, another `REAUTH_MAX_AGE`): the browsers' sessions carry on.
    pub(crate) fn restart_backend_with(&mut self, extra: &[&str]) {
        if let Some(backend) = self.backend.take() {
            drop(backend);
        }
        let bind = format!("127.0.0.1:{}", self.port);
        self.backend = Some(spawn_backend_with(&bind, &self.database, &self.dist, self.access_ttl, extra));
    }

    pub(crate) async fn metrics(&self) -> anyhow::Result<Metrics> {
        let body: Value = self.http.get(self.backend_url(paths::METRICS)).send().await?.json().await?;
        Ok(serde_json::from_value(body["data"].clone())?)
    }

    pub(crate) async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.browser.goto(&self.url(path)).await.with_context(|| format!("open {path}"))
    }

    pub(crate) async fn wait_for(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("wait for {css}"))
    }

    pub(crate) async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.click().await.with_context(|| format!("click {css}"))
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.wait_for(css).await?;
        field.clear().await?;
        field.send_keys(text).await.with_context(|| format!("type into {css}"))
    }

    pub(crate) async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    /// Polls `check` until it holds, failing after the standard wait with `what`.
    pub(crate) async fn wait_until<F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if check().await.unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out waiting until {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn wait_for_text(&self, css: &str, expected: &str) -> anyhow::Result<()> {
        let what = format!("{css} reads {expected:?}");
        self.wait_until(&what, || async { Ok(self.text(css).await?.contains(expected)) }).await
    }

    /// Waits until the page's path (and query) starts with `prefix`.
    pub(crate) async fn wait_for_location(&self, prefix: &str) -> anyhow::Result<()> {
        let what = format!("the page is at {prefix}");
        self.wait_until(&what, || async { Ok(self.location().await?.starts_with(prefix)) }).await
    }

    /// Path and query of the current page.
    pub(crate) async fn location(&self) -> anyhow::Result<String> {
        let url = self.browser.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    }

    pub(crate) async fn log_in(&self, email: &str, password: &str) -> anyhow::Result<()> {
        self.type_into("input[name=email]", email).await?;
        self.type_into("input[name=password]", password).await?;
        self.click("button[type=submit]").await?;
        self.wait_for_text("#profile .email", email).await
    }

    /// Logs the demo user in from the login page and lands on the dashboard.
    /// Opens a second browser, a profile of its own (another device, as far as the server can tell),
    /// and makes it the one every helper acts on; [`switch_browsers`](Self::switch_browsers) goes back
    /// and forth. Both are closed when the scenario ends.
    pub(crate) async fn open_second_browser(&mut self) -> anyhow::Result<()> {
        let other = ClientBuilder::native()
            .capabilities(self.capabilities.clone())
            .connect(&self.driver_url)
            .await
            .context("a second WebDriver session")?;
        self.other = Some(other);
        self.switch_browsers();
        Ok(())
    }

    /// Swaps the browser the helpers act on with the other one.
    pub(crate) fn switch_browsers(&mut self) {
        if let Some(other) = self.other.as_mut() {
            std::mem::swap(&mut self.browser, other);
        }
    }

    pub(crate) async fn log_in_as_demo(&self) -> anyhow::Result<()> {
        self.goto("/login").await?;
        self.log_in(DEMO_EMAIL, DEMO_PASSWORD).await
    }

    /// Turns off refresh-ahead-of-expiry, so a refresh happens only when a request needs one.
    pub(crate) async fn reactive_only(&self) -> anyhow::Result<()> {
        let toggle = self.wait_for("#proactive").await?;
        if toggle.prop("checked").await?.as_deref() == Some("true") {
            toggle.click().await?;
        }
        Ok(())
    }

    /// Puts an already expired access token into the page's session, as a visitor does with "Expire my
    /// access token": the next request takes the 401 path without waiting out the token's lifetime.
    pub(crate) async fn expire_access_token(&self) -> anyhow::Result<()> {
        self.click("#expire").await?;
        self.wait_for_text("#tokens .info", "carries an expired token").await
    }

    /// Clicks "Fire 20 concurrent requests", waits for a new result line and returns its count of
    /// successes ("20/20").
    pub(crate) async fn fire_burst(&self) -> anyhow::Result<String> {
        let before = self.burst_run().await?;
        self.click("#fire").await?;
        self.wait_until("the burst finishes", || async { Ok(self.burst_run().await? != before) }).await?;
        self.text("#burst-succeeded").await
    }

    /// The sequence number of the last burst result shown, if any.
    async fn burst_run(&self) -> anyhow::Result<Option<String>> {
        match self.browser.find(Locator::Css("#burst-result")).await {
            Ok(result) => Ok(result.attr("data-run").await?),
            Err(_) => Ok(None),
        }
    }

    pub(crate) async fn screenshot(&self, file: &str) -> anyhow::Result<()> {
        std::fs::write(artifacts().join(file), self.browser.screenshot().await?)?;
        Ok(())
    }
}

/// The backend binary built with the `e2e` feature: `E2E_BACKEND`, or the workspace's debug build.
fn backend_binary() -> PathBuf {
    let binary = std::env::var_os("E2E_BACKEND")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/backend"), PathBuf::from);
    assert!(
        binary.exists(),
        "no backend at {}: build it with `cargo build -p backend --features e2e` or set E2E_BACKEND",
        binary.display()
    );
    binary
}

/// Access tokens this short make every scenario cross several lifetimes.
const SHORT_ACCESS_TTL: &str = "3s";

/// The test defaults, plus the built SPA, the demo user and access tokens living `access_ttl`.
fn spawn_backend(bind: &str, database: &str, dist: &str, access_ttl: &str) -> BackendProcess {
    spawn_backend_with(bind, database, dist, access_ttl, &[])
}

fn spawn_backend_with(bind: &str, database: &str, dist: &str, access_ttl: &str, extra: &[&str]) -> BackendProcess {
    let args = ["--bind", bind, "--database-url", database, "--static-dir", dist, "--demo-user", "true"];
    let args = [&args[..], &["--access-token-ttl", access_ttl], extra].concat();
    BackendProcess::spawn(&backend_binary(), &args).expect("backend starts")
}
