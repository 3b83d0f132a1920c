//! `GET /.well-known/jwks.json`: the public keys that verify our access tokens (RFC 7517), so another
//! service can check a token without any secret. Empty with HS256, whose key must never be published.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;
use crate::tokens::Signer;

pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

pub(super) fn router() -> Router<AppState> {
    Router::new().route(JWKS_PATH, get(get_jwks))
}

async fn get_jwks(State(state): State<AppState>) -> Response {
    let document = match state.access.signer() {
        Signer::EdDsa(ring) => ring.jwks(state.now()),
        Signer::Hs256 { .. } => serde_json::json!({ "keys": [] }),
    };
    let mut response = axum::Json(document).into_response();
    let cache = format!("public, max-age={}", state.jwks_max_age);
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
