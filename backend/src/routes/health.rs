//! Liveness and counters: `/api/health`, `/api/metrics` (JSON) and `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Envelope;
use shared::ops::{Health, Metrics};
use shared::paths;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reply;
use crate::error::ApiError;
use crate::openapi::Failure;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_health)).routes(routes!(get_metrics))
}

/// Liveness: 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get,
    path = paths::HEALTH,
    tag = "ops",
    responses(
        (status = 200, description = "Serving, and the database answers", body = Envelope<Health>),
        (status = 503, description = "`internal`: the database does not answer", body = Failure),
    )
)]
async fn get_health(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(reply(StatusCode::OK, "ok", Health { status: "ok".into() }))
}

/// This process's counters since it started, for the demo; operators scrape `/metrics`.
#[utoipa::path(
    get,
    path = paths::METRICS,
    tag = "ops",
    responses((status = 200, description = "Counters", body = Envelope<Metrics>))
)]
async fn get_metrics(State(state): State<AppState>) -> Response {
    reply(StatusCode::OK, "ok", state.metrics.snapshot())
}

/// The path Prometheus scrapes.
pub(crate) const PROMETHEUS_PATH: &str = "/metrics";

pub(super) fn metrics_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_prometheus))
}

/// Metrics in Prometheus's text exposition format.
///
/// Requests and latency by route and status class, refresh and login outcomes, live sessions, the
/// database pool. Here when `METRICS=same`; on a listener of its own (and then not in this document)
/// when `METRICS` is an address.
#[utoipa::path(
    get,
    path = PROMETHEUS_PATH,
    tag = "ops",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain; version=0.0.4"))
)]

async fn get_prometheus(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.store.pool_state());
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}
