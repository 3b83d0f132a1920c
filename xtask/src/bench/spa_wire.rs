//! What a first visit downloads, as the backend serves it, and what a repeat visit must ask again.

use std::process::Command;

use super::Row;
use super::server::Server;
use crate::{Result, fail, workspace_root};

pub(super) fn measure(database_url: &str) -> Result<Vec<Row>> {
    let dist = workspace_root().join("dist");
    let server = Server::start(database_url, &[("STATIC_DIR", dist.to_str().unwrap_or("dist"))])?;
    let (index_headers, index) = fetch(&server.base, "/")?;
    let mut total = index.len();
    let mut revalidated = vec![("/".to_owned(), cache_control(&index_headers))];
    // The served index.html is compressed; the names of what it loads come from the file itself.
    let html = std::fs::read_to_string(dist.join("index.html")).map_err(|e| format!("dist/index.html: {e}"))?;
    for asset in assets(&html) {
        let (headers, body) = fetch(&server.base, &asset)?;
        total += body.len();
        let cache = cache_control(&headers);
        if !cache.contains("immutable") {
            revalidated.push((asset, cache));
        }
    }
    let revalidated_paths: Vec<_> = revalidated.iter().map(|(path, cache)| format!("{path} ({cache})")).collect();
    Ok(vec![
        Row {
            figure: "SPA on the wire, first visit (br)".into(),
            measured: format!("{} KB", total / 1024),
            target: "≤ 150 KB".into(),
            ratio: Some(150.0 * 1024.0 / total.max(1) as f64),
        },
        Row {
            figure: "SPA, a repeat visit revalidates".into(),
            measured: revalidated_paths.join(", "),
            target: "index.html only".into(),
            ratio: Some(if revalidated.len() == 1 { 1.0 } else { 0.0 }),
        },
    ])
}

/// Headers and body of `path`, asked for as a browser would (`br, gzip`).
fn fetch(base: &str, path: &str) -> Result<(String, Vec<u8>)> {
    let output = Command::new("curl")
        .args(["-s", "-D", "-", "-H", "Accept-Encoding: br, gzip"])
        .arg(format!("{base}{path}"))
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let raw = output.stdout;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let Some(split) = split else { return fail(&format!("no answer for {path}")) };
    Ok((String::from_utf8_lossy(&raw[..split]).to_lowercase(), raw[split..].to_vec()))
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

fn cache_control(headers: &str) -> String {
    header(headers, "cache-control").unwrap_or("no cache-control").to_owned()
}

/// The same-origin files `index.html` loads (`href="/…"` and `src="/…"`).
fn assets(index: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\"", "module_or_path: '", "from '"] {
        for part in index.split(attribute).skip(1) {
            let path = part.split(['"', '\'']).next().unwrap_or_default();
            if path.starts_with('/') && !found.iter().any(|p| p == path) {
                found.push(path.to_owned());
            }
        }
    }
    found
}
