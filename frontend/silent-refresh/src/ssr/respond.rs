//! What the layer writes on responses: its own JSON answers (this project's envelope), the cookie,
//! and the hygiene headers that keep a user's page out of shared caches and its scripts pinned.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE, VARY};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;

/// The default policy: inline scripts only with the request's nonce, script files only from this
/// origin (Leptos preloads its module with a `<link>` that carries no nonce, which `'strict-dynamic'`
/// would block), WebAssembly compiled from them, nothing framed; no `'unsafe-inline'` anywhere.
pub(crate) const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self' 'nonce-{nonce}' \
     'wasm-unsafe-eval'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// `{"code","message","data"}` on success.
pub(crate) fn ok<T: Serialize>(status: StatusCode, message: &str, data: &T) -> Response<Body> {
    json(status, &serde_json::json!({"code": status.as_u16(), "message": message, "data": data}))
}

/// `{"code","message","data":null,"error"}` on failure; `error` is one of the auth server's codes.
pub(crate) fn failure(status: StatusCode, error: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"code": status.as_u16(), "message": message, "data": null, "error": error});
    json(status, &body)
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `Set-Cookie` for a `__Host-` cookie of the layer's (the BFF cookie, or clearing the auth server's
/// names): `HttpOnly; Secure; SameSite=Strict`, `Path=/`; `max_age` `None` is a browser-session
/// cookie, `Some(0)` clears it.
pub(crate) fn host_cookie(name: &str, value: &str, max_age: Option<u64>) -> Option<HeaderValue> {
    let max_age = max_age.map(|seconds| format!("; Max-Age={seconds}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/{max_age}; HttpOnly; Secure; SameSite=Strict")).ok()
}

/// Types a browser caches and that never hold a user's data (the app's scripts, WebAssembly, styles,
/// images, fonts); everything else under a session cookie is kept private.
fn is_static(headers: &HeaderMap) -> bool {
    let kind = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ["application/wasm", "text/javascript", "application/javascript", "text/css", "image/", "font/"]
        .iter()
        .any(|prefix| kind.starts_with(prefix))
}

fn is_html(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|kind| kind.starts_with("text/html"))
}

/// Appends `cookies`, then: `Cache-Control: private, no-store` and `Vary: Cookie` when the response
/// sets a cookie, answers a request that carried the session, or is a page (a page's HTML depends on
/// the cookie even when it shows nobody); and the CSP with `nonce` on pages that have none of their own.
pub(crate) fn finish(response: &mut Response<Body>, cookies: &[HeaderValue], with_session: bool, csp: Option<&str>) {
    let headers = response.headers_mut();
    for cookie in cookies {
        headers.append(SET_COOKIE, cookie.clone());
    }
    let html = is_html(headers);
    if !cookies.is_empty() || html || (with_session && !is_static(headers)) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        let varies = headers
            .get_all(VARY)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|name| name.trim().eq_ignore_ascii_case("cookie"))));
        if !varies {
            headers.append(VARY, HeaderValue::from_static("Cookie"));
        }
    }
    let csp = csp.and_then(|csp| HeaderValue::from_str(csp).ok());
    if let Some(value) = csp.filter(|_| html && !headers.contains_key(CONTENT_SECURITY_POLICY)) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(kind: &str) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_str(kind).unwrap());
        response
    }

    #[test]
    fn pages_and_cookie_answers_are_private_and_assets_stay_cacheable() {
        let mut page = response("text/html; charset=utf-8");
        finish(&mut page, &[], false, Some("script-src 'nonce-abc'"));
        assert_eq!(page.headers()[CACHE_CONTROL], "private, no-store");
        assert_eq!(page.headers()[VARY], "Cookie");
        assert_eq!(page.headers()[CONTENT_SECURITY_POLICY], "script-src 'nonce-abc'");

        let mut wasm = response("application/wasm");
        finish(&mut wasm, &[], true, Some("x"));
        assert!(wasm.headers().get(CACHE_CONTROL).is_none());
        assert!(wasm.headers().get(CONTENT_SECURITY_POLICY).is_none());

        let mut data = response("application/json");
        finish(&mut data, &[HeaderValue::from_static("a=b")], false, None);
        assert_eq!(data.headers()[CACHE_CONTROL], "private, no-store");
        assert_eq!(data.headers()[SET_COOKIE], "a=b");

        let mut varied = response("application/json");
        varied.headers_mut().insert(VARY, HeaderValue::from_static("Accept, cookie"));
        finish(&mut varied, &[], true, None);
        assert_eq!(varied.headers().get_all(VARY).iter().count(), 1);
    }
}
