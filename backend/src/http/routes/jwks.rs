//! `GET /.well-known/jwks.json`: the public keys that verify our access tokens (RFC 7517), so another
//! service can check a token without any secret. Empty with HS256, whose key must never be published.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::routes;

use super::Routes;
use crate::auth::tokens::access::Signer;
use crate::http::openapi::Jwks;
use crate::http::state::AppState;

const JWKS_PATH: &str = "/.well-known/jwks.json";

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_jwks))
}

/// The public keys that verify access tokens (JWKS).
///
/// Keys standing by, signing, and retired but still valid. Pick the key by the token's `kid`. Empty
/// with HS256.
#[utoipa::path(
    get,
    path = JWKS_PATH,
    tag = "ops",
    responses((status = 200, description = "The key set", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=` half the key activation delay, at most \
            an hour"))))
)]

async fn get_jwks(State(state): State<AppState>) -> Response {
    let document = match state.auth.access.signer() {
        Signer::Ring(ring) => ring.jwks(state.auth.now()),
        Signer::Hs256 { .. } => serde_json::json!({ "keys": [] }),
    };
    let mut response = axum::Json(document).into_response();
    let cache = format!("public, max-age={}", state.jwks_max_age);
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
