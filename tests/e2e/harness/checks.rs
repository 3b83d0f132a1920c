//! What every scenario may assert about the page beyond what it shows: CSP reports in Chromium's log,
//! and where tokens are (and are not).

use anyhow::Context as _;
use serde_json::json;
use shared::auth::REFRESH_COOKIE;

use super::Scenario;

impl Scenario {
    /// Fails when Chromium reported that the page's Content-Security-Policy blocked anything: every
    /// script, style and connection the app needs must be allowed, and nothing else.
    pub(crate) async fn no_csp_violations(&self) -> anyhow::Result<()> {
        let log = self.browser.issue_cmd(BrowserLog).await.context("read the browser log")?;
        let violations: Vec<&str> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| message.contains("Content Security Policy"))
            .collect();
        anyhow::ensure!(violations.is_empty(), "CSP violations: {violations:#?}");
        Ok(())
    }

    /// The refresh cookie as the browser holds it (WebDriver sees `HttpOnly` cookies too), if any.
    pub(crate) async fn refresh_cookie(&self) -> anyhow::Result<Option<fantoccini::cookies::Cookie<'static>>> {
        let cookies = self.browser.get_all_cookies().await?;
        Ok(cookies.into_iter().find(|c| c.name() == REFRESH_COOKIE))
    }

    /// Fails if any token is where a script could read it: `localStorage`, `sessionStorage`, IndexedDB
    /// or `document.cookie`. Looks for the refresh cookie's value and for anything shaped like a JWT.
    /// IndexedDB may hold only the client's DPoP key pair, whose private half no script can export.
    pub(crate) async fn no_token_readable_by_scripts(&self) -> anyhow::Result<()> {
        let dump = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const areas = [localStorage, sessionStorage].map(s => Object.keys(s).map(k => k + '=' + s.getItem(k)).join('\\n'));
                 const databases = indexedDB.databases ? indexedDB.databases() : Promise.resolve([]);
                 const keys = () => new Promise(resolve => {
                   const open = indexedDB.open('silent-refresh-dpop');
                   open.onerror = () => resolve([]);
                   open.onsuccess = () => {
                     const db = open.result;
                     if (!db.objectStoreNames.contains('keys')) { db.close(); return resolve([]); }
                     const all = db.transaction('keys').objectStore('keys').getAll();
                     all.onsuccess = () => { db.close(); resolve(all.result.map(pair => ({
                       members: Object.keys(pair),
                       privateType: pair.privateKey && pair.privateKey.type,
                       privateExtractable: pair.privateKey && pair.privateKey.extractable,
                     }))); };
                     all.onerror = () => { db.close(); resolve([]); };
                   };
                 });
                 databases.then(dbs => keys().then(dpop => done({
                   areas, cookie: document.cookie, databases: dbs.map(d => d.name), dpop,
                 })));",
                vec![],
            )
            .await?;
        let refresh = self.refresh_cookie().await?.map(|c| c.value().to_owned()).filter(|v| !v.is_empty());
        let text = dump.to_string();
        anyhow::ensure!(!text.contains("eyJ"), "a JWT is readable by scripts: {dump}");
        if let Some(refresh) = refresh {
            anyhow::ensure!(!text.contains(&refresh), "the refresh token is readable by scripts: {dump}");
        }
        let databases = dump["databases"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(
            databases.iter().all(|d| d == "silent-refresh-dpop"),
            "IndexedDB holds more than the DPoP key: {dump}"
        );
        for pair in dump["dpop"].as_array().into_iter().flatten() {
            anyhow::ensure!(
                pair["members"] == serde_json::json!(["privateKey", "publicKey"]),
                "not a key pair: {dump}"
            );
            anyhow::ensure!(
                pair["privateType"] == "private" && pair["privateExtractable"] == false,
                "an exportable key: {dump}"
            );
        }
        Ok(())
    }
}

impl Scenario {
    /// Every error or warning in the browser's console since the last read (hydration mismatches,
    /// panics, CSP reports, failed loads).
    pub(crate) async fn console_problems(&self) -> anyhow::Result<Vec<String>> {
        let log = self.browser.issue_cmd(BrowserLog).await.context("read the browser log")?;
        Ok(log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| matches!(entry["level"].as_str(), Some("SEVERE" | "WARNING")))
            .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
            .collect())
    }

    /// Runs `source` in every document this browser opens from now on, before the page's own scripts
    /// (Chrome DevTools `Page.addScriptToEvaluateOnNewDocument`, through ChromeDriver).
    pub(crate) async fn before_every_page(&self, source: &str) -> anyhow::Result<()> {
        let command = Cdp { cmd: "Page.addScriptToEvaluateOnNewDocument", params: json!({"source": source}) };
        self.browser.issue_cmd(command).await.context("add a script to new documents")?;
        Ok(())
    }
}

/// ChromeDriver's Chrome DevTools passthrough.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"cmd": self.cmd, "params": self.params}).to_string()))
    }
}

/// ChromeDriver's log endpoint (not part of W3C WebDriver, so fantoccini has no method for it).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}
