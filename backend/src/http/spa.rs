//! Serving the built single-page app, under a Content-Security-Policy that lets only its own code run.
//!
//! Trunk's build puts one inline bootstrap script into `index.html` (it imports the wasm-bindgen glue
//! and starts the wasm). Rather than allowing inline scripts in general, the policy names that script by
//! its SHA-256, computed from the `index.html` on disk when the server starts. Any other inline script,
//! injected or not, is refused by the browser.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// Why the SPA cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SpaError {
    #[error("cannot read the single-page app's {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CSP_CONNECT_SRC {0:?} is not an origin (scheme://host[:port])")]
    CspSource(String),
}

/// Serves `static_dir`, with `index.html` for unknown paths (client-side routes survive a reload), the
/// policy on every answer, the build's `.br`/`.gz` files to browsers that accept them, and caching as a
/// real site does it: fingerprinted files forever, everything else revalidated on every visit.
pub(crate) fn router(static_dir: &Path, connect_src: &[String]) -> Result<Router, SpaError> {
    let index = static_dir.join("index.html");
    let html = std::fs::read_to_string(&index).map_err(|source| SpaError::Read { path: index.clone(), source })?;
    let policy = content_security_policy(&html, connect_src)?;
    let policy = HeaderValue::from_str(&policy).map_err(|_| SpaError::CspSource(connect_src.join(",")))?;
    let fingerprinted = Arc::new(referenced_assets(&html));
    let index = ServeFile::new(index).precompressed_br().precompressed_gzip();
    let files = ServeDir::new(static_dir).precompressed_br().precompressed_gzip().fallback(index);
    Ok(Router::new()
        .fallback_service(files)
        .layer(axum::middleware::map_response_with_state(fingerprinted, cache_headers))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, policy))
        .layer(SetResponseHeaderLayer::overriding(header::VARY, HeaderValue::from_static("accept-encoding"))))
}

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Trunk names every file `index.html` loads after its content's hash (`app-1b4c7727b87665b.js`), so a
/// changed asset is a new URL and an old one never changes: those are cached for a year. `index.html`,
/// which names them, and anything else is revalidated on every visit.
async fn cache_headers(
    State(fingerprinted): State<Arc<HashSet<String>>>,
    uri: axum::http::Uri,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let fresh = response.status().is_success() || response.status() == axum::http::StatusCode::NOT_MODIFIED;
    let cache = if fresh && fingerprinted.contains(uri.path()) { IMMUTABLE } else { REVALIDATE };
    response.headers_mut().insert(header::CACHE_CONTROL, cache);
    response
}

/// The same-origin paths `index.html` loads: `href="/…"`, `src="/…"` and the bootstrap's imports.
fn referenced_assets(html: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    for opening in ["href=\"", "src=\"", "from '", "module_or_path: '"] {
        for rest in html.split(opening).skip(1) {
            let path = rest.split(['"', '\'']).next().unwrap_or_default();
            if path.starts_with('/') && !path.starts_with("//") && path.len() > 1 {
                found.insert(path.to_owned());
            }
        }
    }
    found
}

/// The policy for a page whose HTML is `html`: scripts from this origin plus the page's own inline
/// scripts by hash, wasm compilation, and nothing else that could run code or leak the page.
pub(crate) fn content_security_policy(html: &str, connect_src: &[String]) -> Result<String, SpaError> {
    let mut connect = vec!["'self'".to_owned()];
    for source in connect_src.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !is_origin(source) {
            return Err(SpaError::CspSource(source.to_owned()));
        }
        connect.push(source.to_owned());
    }
    let mut script = vec!["'self'".to_owned(), "'wasm-unsafe-eval'".to_owned()];
    script.extend(inline_scripts(html).map(|body| {
        // The HTML parser turns every CR LF and lone CR into LF before the browser hashes the text.
        let digest = Sha256::digest(body.replace("\r\n", "\n").replace('\r', "\n").as_bytes());
        format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
    }));
    Ok(format!(
        "default-src 'self'; script-src {}; style-src 'self'; img-src 'self' data:; connect-src {}; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        script.join(" "),
        connect.join(" ")
    ))
}

/// `scheme://host[:port]` and nothing else: a policy source list must not be able to smuggle in a
/// directive separator or a wildcard.
fn is_origin(source: &str) -> bool {
    let Some((scheme, rest)) = source.split_once("://") else { return false };
    matches!(scheme, "http" | "https" | "ws" | "wss")
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The bodies of `<script>` elements without a `src` attribute, exactly as the browser hashes them.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = find_ignore_case(rest, "<script")?;
            let after_name = &rest[start + "<script".len()..];
            let open_end = after_name.find('>')?;
            let attributes = &after_name[..open_end];
            let body_and_rest = &after_name[open_end + 1..];
            let close = find_ignore_case(body_and_rest, "</script")?;
            rest = &body_and_rest[close..];
            if !has_src(attributes) {
                return Some(&body_and_rest[..close]);
            }
        }
    })
}

fn has_src(attributes: &str) -> bool {
    attributes
        .split(|c: char| c.is_ascii_whitespace())
        .any(|attribute| attribute.to_ascii_lowercase().split('=').next() == Some("src"))
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.as_bytes().windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK_LIKE: &str = "<html><head><script src=\"/x.js\"></script>\
        <script type=\"module\">import init from '/app.js';\nawait init();\n</script></head></html>";

    fn hash_of(body: &str) -> String {
        format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())))
    }

    #[test]
    fn the_inline_bootstrap_is_allowed_by_its_hash_and_nothing_inline_by_default() {
        let policy = content_security_policy(TRUNK_LIKE, &[]).unwrap();
        let script_src = policy.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
        assert!(script_src.contains(&hash_of("import init from '/app.js';\nawait init();\n")), "{policy}");
        assert_eq!(script_src.matches("'sha256-").count(), 1, "the src script is not hashed: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        for directive in ["'wasm-unsafe-eval'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(policy.contains(directive), "{directive} missing: {policy}");
        }
    }

    #[test]
    fn configured_api_origins_join_connect_src_and_anything_else_is_refused() {
        let policy = content_security_policy("", &["https://api.example.com".into()]).unwrap();
        assert!(policy.contains("connect-src 'self' https://api.example.com;"), "{policy}");
        for bad in ["*", "https://a.example; script-src *", "'unsafe-inline'", "javascript:alert(1)", "https://"] {
            assert!(content_security_policy("", &[bad.into()]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_files_index_html_loads_are_the_fingerprinted_ones() {
        let html = r#"<link rel="stylesheet" href="/style-bf640b57f730453b.css"><link rel="modulepreload"
            href="/app-1b4c7727b87665b.js"><script type="module">import init from '/app-1b4c7727b87665b.js';
            await init({ module_or_path: '/app-1b4c7727b87665b_bg.wasm' });</script><a href="https://x.example/">"#;
        let found = referenced_assets(html);
        let expected = ["/style-bf640b57f730453b.css", "/app-1b4c7727b87665b.js", "/app-1b4c7727b87665b_bg.wasm"];
        assert_eq!(found, expected.into_iter().map(String::from).collect());
    }

    #[test]
    fn script_tags_are_found_whatever_their_case_and_attributes() {
        let html = "<SCRIPT>a()</SCRIPT><script defer src='/b.js'></script><script\ttype=module>c()</script>";
        assert_eq!(inline_scripts(html).collect::<Vec<_>>(), ["a()", "c()"]);
    }

    proptest::proptest! {
        #[test]
        fn any_html_gives_a_policy_without_unsafe_inline(html in ".*") {
            let policy = content_security_policy(&html, &[]).unwrap();
            proptest::prop_assert!(!policy.contains("unsafe-inline"));
            proptest::prop_assert!(HeaderValue::from_str(&policy).is_ok());
        }
    }
}
