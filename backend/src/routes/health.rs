//! Liveness and counters: `/api/health`, `/api/metrics` (JSON) and `/metrics` (Prometheus).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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

/// The path Prometheus scrapes.
pub(crate) const PROMETHEUS_PATH: &str = "/metrics";

pub(super) fn metrics_router() -> Router<AppState> {
    Router::new().route(PROMETHEUS_PATH, get(get_prometheus))
}

async fn get_prometheus(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.store.pool_state());
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}
