//! The layer's own routes under its mount: the snapshot, login, logout and (BFF) the upstream proxy.

use std::net::IpAddr;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::bff::{Refusal, upstream_url};
use super::config::Mode;
use super::layer::{Shared, changes_state, csrf_refusal};
use super::respond::{self, failure, ok};
use crate::snapshot::{Presence, SessionSnapshot};

/// A login's body and an upstream call's body are small; anything larger is refused unread.
const MAX_BODY: usize = 1 << 20;
/// Headers of a browser's upstream call that the upstream may need; no cookie, no authorization.
const FORWARDED_HEADERS: [&str; 3] = ["content-type", "accept", "accept-language"];

/// The part of `path` after the mount, if the path is the mount or under it.
pub(crate) fn own_route<'p>(mount: &str, path: &'p str) -> Option<&'p str> {
    let rest = path.strip_prefix(mount)?;
    if rest.is_empty() || rest.starts_with('/') { Some(rest.trim_start_matches('/')) } else { None }
}

pub(crate) async fn answer(
    shared: &Shared,
    request: Request<Body>,
    rest: &str,
    client: Option<IpAddr>,
) -> Response<Body> {
    let method = request.method().clone();
    // Every state-changing call here needs the custom header, in both modes: a login forced on a
    // user by another site is an attack too (login CSRF).
    if changes_state(&method) && !request.headers().contains_key(shared.config.csrf_header.as_str()) {
        return csrf_refusal(&shared.config.csrf_header);
    }
    match (rest, &method) {
        ("", &Method::GET) => snapshot(shared, request.headers(), client).await,
        ("login", &Method::POST) => login(shared, request, client).await,
        ("logout", &Method::POST) => logout(shared, request.headers(), client).await,
        (upstream, _) if upstream.starts_with("upstream/") => {
            let rest = upstream.trim_start_matches("upstream/").to_owned();
            let rest = match request.uri().query() {
                Some(query) => format!("{rest}?{query}"),
                None => rest,
            };
            proxy(shared, request, &rest, client).await
        }
        ("" | "login" | "logout", _) => {
            failure(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed")
        }
        _ => failure(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}

async fn snapshot(shared: &Shared, headers: &HeaderMap, client: Option<IpAddr>) -> Response<Body> {
    let resolved = shared.resolve(headers, client).await;
    let mut response = ok(StatusCode::OK, "session", resolved.session.snapshot());
    respond::finish(&mut response, &resolved.set_cookie, true, None);
    response
}

async fn login(shared: &Shared, request: Request<Body>, client: Option<IpAddr>) -> Response<Body> {
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok((answer, grant)) = shared.auth.login(&shared.config, body, client).await else {
        return failure(StatusCode::BAD_GATEWAY, "internal", "the auth server did not answer");
    };
    if answer.status.is_success() && grant.is_none() {
        // Never relayed: a success this layer cannot read may hold a token the page must not see.
        return failure(StatusCode::BAD_GATEWAY, "internal", "the auth server's answer could not be read");
    }
    let Some(mut grant) = grant else {
        // A refusal (wrong password, throttled, malformed) is relayed as the auth server wrote it:
        // its body is an error envelope and holds no token.
        let mut response = Response::new(Body::from(answer.body));
        *response.status_mut() = answer.status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(retry_after) = answer.retry_after {
            response.headers_mut().insert(RETRY_AFTER, retry_after);
        }
        respond::finish(&mut response, &[], false, None);
        return response;
    };
    let Some(successor) = grant.successor.take() else {
        return failure(StatusCode::BAD_GATEWAY, "internal", "the auth server set no refresh cookie");
    };
    let snapshot = SessionSnapshot::logged_in(grant.user.clone(), grant.expires_at_unix);
    let cookies = shared.successor_cookies(&successor);
    shared.flights.adopt(&successor.token, grant, shared.config.refresh_ahead);
    let mut response = ok(StatusCode::OK, "logged in", &snapshot);
    respond::finish(&mut response, &cookies, true, None);
    response
}

async fn logout(shared: &Shared, headers: &HeaderMap, client: Option<IpAddr>) -> Response<Body> {
    let presented = shared.presented(headers).ok().flatten();
    if let Some(token) = &presented {
        shared.flights.end(token);
        shared.auth.logout(&shared.config, token, client).await;
    }
    let mut response = ok(StatusCode::OK, "logged out", &SessionSnapshot::logged_out());
    respond::finish(&mut response, &shared.clearing_cookies(&[]), true, None);
    response
}

/// BFF: the browser's call to an allowlisted upstream, made with the session's access token.
async fn proxy(shared: &Shared, request: Request<Body>, rest: &str, client: Option<IpAddr>) -> Response<Body> {
    let Mode::Bff(bff) = &shared.config.mode else {
        return failure(StatusCode::NOT_FOUND, "not_found", "no such route");
    };
    let url = match upstream_url(bff, request.method(), rest) {
        Ok(url) => url,
        Err(Refusal::UnknownUpstream) => return failure(StatusCode::NOT_FOUND, "not_found", "no such upstream"),
        Err(Refusal::MethodNotAllowed) => {
            return failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this upstream",
            );
        }
        Err(Refusal::BadPath) => {
            return failure(StatusCode::BAD_REQUEST, "validation_failed", "path leaves the upstream");
        }
    };
    let resolved = shared.resolve(request.headers(), client).await;
    if resolved.session.presence() != Presence::LoggedIn {
        let mut response = failure(StatusCode::UNAUTHORIZED, "missing_token", "no live session");
        respond::finish(&mut response, &resolved.set_cookie, true, None);
        return response;
    }
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut call = resolved.session.http().request(method, url);
    for name in FORWARDED_HEADERS {
        if let Some(value) = request.headers().get(name) {
            call = call.header(name, value.as_bytes());
        }
    }
    if let Some(ip) = client {
        call = call.header("x-forwarded-for", ip.to_string());
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(answer) = resolved.session.send(call.body(body.to_vec())).await else {
        return failure(StatusCode::BAD_GATEWAY, "internal", "the upstream did not answer");
    };
    // Only the status, the type and the body come back: never an upstream's cookies or auth headers.
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let kind = answer.headers().get("content-type").and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let Ok(bytes) = answer.bytes().await else {
        return failure(StatusCode::BAD_GATEWAY, "internal", "the upstream's answer broke off");
    };
    let mut response = Response::new(Body::from(Bytes::from(bytes.to_vec())));
    *response.status_mut() = status;
    if let Some(kind) = kind {
        response.headers_mut().insert(CONTENT_TYPE, kind);
    }
    respond::finish(&mut response, &resolved.set_cookie, true, None);
    response
}

async fn read_body(request: Request<Body>) -> Result<Bytes, Response<Body>> {
    axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| failure(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is too large or broke off"))
}
