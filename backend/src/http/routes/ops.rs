//! Liveness and this process's counters as JSON: `/api/health` and `/api/metrics`.

use std::sync::LazyLock;

use axum::body::Bytes;
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
use crate::http::reply::{json_bytes, reply};
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
    // Probes call this many times a second and the healthy answer never changes: rendered once.
    static HEALTHY: LazyLock<Bytes> = LazyLock::new(|| {
        let healthy = Envelope::success(StatusCode::OK.as_u16(), "ok", Health { status: "ok".into() });
        serde_json::to_vec(&healthy).unwrap_or_default().into()
    });
    Ok(json_bytes(StatusCode::OK, HEALTHY.clone()))
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
