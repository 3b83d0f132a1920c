//! The HTTP surface under `/api`. Each module owns its paths; handlers extract, validate, call the
//! store and answer with a `shared` type inside the envelope.

mod account;
mod auth;
mod demo;
mod health;
mod keys;
mod refresh;
mod sessions;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserRecord;
use crate::tokens::access::Subject;

/// Every API route (the demo's only when `demo` is on), plus envelope answers for unknown `/api/...`
/// paths and wrong methods.
pub(crate) fn api(demo: bool) -> Router<AppState> {
    let mut api = Router::new()
        .merge(auth::router())
        .merge(refresh::router())
        .merge(account::router())
        .merge(sessions::router())
        .merge(health::router());
    if demo {
        api = api.merge(demo::router());
    }
    api.route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
}

/// `GET /metrics`: Prometheus's text format.
pub(crate) fn metrics() -> Router<AppState> {
    health::metrics_router()
}

/// Standard documents outside `/api`, with their own caching.
pub(crate) fn well_known() -> Router<AppState> {
    keys::router()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A success envelope.
pub(crate) fn reply<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    (status, axum::Json(shared::Envelope::success(status.as_u16(), message, data))).into_response()
}

pub(crate) fn subject<'a>(user: &'a UserRecord, session_id: &'a str) -> Subject<'a> {
    Subject { user_id: &user.id, username: &user.username, role: &user.role, session_id }
}

fn public_user(user: &UserRecord) -> shared::auth::User {
    shared::auth::User {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role.clone(),
    }
}
