//! Liveness and counters.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use shared::ops::Health;
use shared::paths;

use super::reply;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(paths::HEALTH, get(get_health)).route(paths::METRICS, get(get_metrics))
}

/// 200 when the database answers, 503 when it does not.
async fn get_health(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(reply(StatusCode::OK, "ok", Health { status: "ok".into() }))
}

async fn get_metrics(State(state): State<AppState>) -> Response {
    reply(StatusCode::OK, "ok", state.metrics.snapshot())
}
