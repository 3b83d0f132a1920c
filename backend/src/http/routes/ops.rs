//! Liveness and this process's counters as JSON: `/api/health` and `/api/metrics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::ops::{Health, Metrics};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::http::error::ApiError;
use crate::http::openapi::Failure;
use crate::http::reply::reply;
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_health)).routes(routes!(get_metrics))
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
    state.auth.store.ping().await.map_err(ApiError::Unavailable)?;
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
    reply(StatusCode::OK, "ok", state.auth.metrics.snapshot())
}
