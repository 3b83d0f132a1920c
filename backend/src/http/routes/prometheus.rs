//! `GET /metrics`: everything this process counts, in Prometheus's text format.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::routes;

use super::Routes;
use crate::http::state::AppState;

/// The path Prometheus scrapes.
pub(crate) const PROMETHEUS_PATH: &str = "/metrics";

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_prometheus))
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
    let text = state.auth.metrics.render(state.auth.store.pool_state());
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}
