//! The built SPA as the backend serves it: precompressed by `Accept-Encoding`, fingerprinted assets
//! cached for a year, everything else revalidated, and the CSP on every page.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, VARY};

use crate::helpers::{TestDatabase, spawn_app_on};

const ASSET: &str = "app-1b4c7727b87665b.js";

#[tokio::test]
async fn assets_are_served_precompressed_with_long_caching_and_pages_revalidate() {
    let db = TestDatabase::new().await;
    let dist = db.folder().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let index = format!("<html><script type=module>import init from '/{ASSET}'; await init();</script></html>");
    std::fs::write(dist.join("index.html"), index).unwrap();
    std::fs::write(dist.join(ASSET), "console.log('plain')").unwrap();
    std::fs::write(dist.join("robots.txt"), "not fingerprinted").unwrap();
    std::fs::write(dist.join(format!("{ASSET}.br")), "brotli bytes").unwrap();
    std::fs::write(dist.join(format!("{ASSET}.gz")), "gzip bytes").unwrap();
    let app = spawn_app_on(db, &["--static-dir", dist.to_str().unwrap()]).await;
    let get = |path: &str, encoding: &str| app.client.get(app.url(path)).header(ACCEPT_ENCODING, encoding).send();

    let br = get(&format!("/{ASSET}"), "gzip, br").await.unwrap();
    assert_eq!(br.headers()[CONTENT_ENCODING], "br");
    assert_eq!(br.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert!(br.headers()[VARY].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
    assert_eq!(br.bytes().await.unwrap(), "brotli bytes");
    let gz = get(&format!("/{ASSET}"), "gzip").await.unwrap();
    assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
    let plain = get(&format!("/{ASSET}"), "identity").await.unwrap();
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(plain.text().await.unwrap(), "console.log('plain')");

    let other = get("/robots.txt", "br").await.unwrap();
    assert_eq!(other.headers()[CACHE_CONTROL], "no-cache", "only what index.html loads is immutable");
    for page in ["/", "/index.html", "/some/client/route"] {
        let response = get(page, "br").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache", "{page}");
        let policy = response.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"), "{page}: {policy}");
    }
    // The API keeps its own rule.
    let api = get("/api/health", "br").await.unwrap();
    assert_eq!(api.headers()[CACHE_CONTROL], "no-store");
}
