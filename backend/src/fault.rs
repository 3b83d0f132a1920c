//! Fault injection for the browser suites, compiled only with the `e2e` feature (never into the
//! binary `cargo xtask run` builds): a switch that makes the refresh endpoint answer 503 while every
//! other route keeps working, which is how a failing refresh service looks to a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use shared::paths;

use crate::extract::Query;

#[derive(Debug, Deserialize)]
struct Switch {
    on: bool,
}

/// Adds the switch's route and the layer that obeys it.
pub(crate) fn with_refresh_outage_switch(app: Router) -> Router {
    let outage = Arc::new(AtomicBool::new(false));
    let switch = post(|State(outage): State<Arc<AtomicBool>>, Query(switch): Query<Switch>| async move {
        outage.store(switch.on, Ordering::SeqCst);
        StatusCode::NO_CONTENT
    });
    app.route(paths::TEST_REFRESH_OUTAGE, switch.with_state(Arc::clone(&outage)))
        .layer(middleware::from_fn_with_state(outage, refuse_refreshes))
}

async fn refuse_refreshes(State(outage): State<Arc<AtomicBool>>, request: Request, next: Next) -> Response {
    if outage.load(Ordering::SeqCst) && request.method() == Method::POST && request.uri().path() == paths::REFRESH {
        let body = shared::Envelope::failure(503, shared::ErrorCode::Internal, "refresh is down (test switch)");
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    next.run(request).await
}
