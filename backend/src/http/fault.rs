//! Fault injection for the browser suites, compiled only with the `e2e` feature (never into the
//! binary `cargo xtask run` builds): a switch that makes the refresh endpoint answer 503 while every
//! other route keeps working, which is how a failing refresh service looks to a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::paths;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::Query;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Switch {
    /// `true` makes every refresh answer 503 until it is turned off again.
    on: bool,
}

/// Adds the switch's route and the layer that obeys it.
pub(crate) fn with_refresh_outage_switch(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let outage = Arc::new(AtomicBool::new(false));
    let switch = OpenApiRouter::new().routes(routes!(set_refresh_outage)).with_state(Arc::clone(&outage));
    api.merge(switch).layer(middleware::from_fn_with_state(outage, refuse_refreshes))
}

/// Test builds only (the `e2e` feature): turns the refresh outage on or off.
#[utoipa::path(
    post,
    path = paths::TEST_REFRESH_OUTAGE,
    tag = "test builds only",
    params(Switch),
    responses(
        (status = 204, description = "Switched"),
        (status = 400, description = "`validation_failed`: `on` is missing or not a boolean",
            body = crate::http::openapi::Failure),
    )
)]
async fn set_refresh_outage(State(outage): State<Arc<AtomicBool>>, Query(switch): Query<Switch>) -> StatusCode {
    outage.store(switch.on, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

async fn refuse_refreshes(State(outage): State<Arc<AtomicBool>>, request: Request, next: Next) -> Response {
    if outage.load(Ordering::SeqCst) && request.method() == Method::POST && request.uri().path() == paths::REFRESH {
        let body = shared::Envelope::failure(503, shared::ErrorCode::Internal, "refresh is down (test switch)");
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    next.run(request).await
}
