//! The HTTP surface under `/api`. Each module owns its paths; handlers extract, validate, call the
//! store and answer with a `shared` type inside the envelope.

mod account;
mod auth;
mod demo;
mod health;
mod keys;
mod refresh;
mod sessions;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserRecord;
use crate::tokens::access::Subject;

/// Every API route (the demo's only when `demo` is on) with its OpenAPI entry, plus envelope answers
/// for unknown `/api/...` paths (which answer nothing, so they have no entry).
pub(crate) fn api(demo: bool) -> OpenApiRouter<AppState> {
    let mut api = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(refresh::router())
        .merge(account::router())
        .merge(sessions::router())
        .merge(health::router());
    if demo {
        api = api.merge(demo::router());
    }
    api.routes(routes!(crate::openapi::get_openapi)).route("/api", any(not_found)).route("/api/{*rest}", any(not_found))
}

/// `GET /metrics`: Prometheus's text format.
pub(crate) fn metrics() -> OpenApiRouter<AppState> {
    health::metrics_router()
}

/// Standard documents outside `/api`, with their own caching.
pub(crate) fn well_known() -> OpenApiRouter<AppState> {
    keys::router()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The envelope answer for a known path asked with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
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
