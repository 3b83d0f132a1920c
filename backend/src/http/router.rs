//! The whole application as one service: the API, the well-known documents, optionally `/metrics`
//! and the built SPA in one `Router`, each route with its `Track` layer, inside the `Envelope`.

use axum::Router;
use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Config, MetricsExposure};
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, DPOP, DPOP_NONCE};
use crate::http::limits::RequestLimits;
use crate::http::routes;
use crate::http::spa::{self, SpaError};
use crate::http::state::AppState;
use crate::http::track::{Caching, TrackLayer};

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("invalid CORS origin {0:?}")]
    CorsOrigin(String),
    #[error(transparent)]
    Spa(#[from] SpaError),
    #[error("cannot write the OpenAPI document")]
    OpenApi(#[source] serde_json::Error),
}

/// The whole application as one service: the router inside the envelope (a service around it rather
/// than a `Router::layer`, which would wrap, and clone for every request, each route on its own).
pub(crate) type AppService = Envelope<Router>;

/// The application, and the path template of every route it registered (for the OpenAPI coverage
/// test).
pub(crate) fn router(state: &AppState, config: &Config) -> Result<(AppService, Vec<String>), RouterError> {
    let (api, api_paths) = routes::api(config.demo_routes_enabled()).merge(routes::oauth()).into_parts();
    // Token responses must never be cached (RFC 6749 §5.1); nothing else under /api should be either.
    // Only matched routes are counted, under their template (so ids never become label values).
    let mut api = api.route_layer(TrackLayer::new(&state.auth, Caching::NoStore));
    let mut paths = api_paths;
    let mut extra = routes::well_known();
    if config.metrics == MetricsExposure::Same {
        extra = extra.merge(routes::metrics());
    }
    let (extra, extra_paths) = extra.into_parts();
    paths.extend(extra_paths);
    api = api.merge(extra.route_layer(TrackLayer::new(&state.auth, Caching::RoutesOwn)));
    #[cfg(feature = "e2e")]
    let api = {
        use crate::http::test_sessions;
        paths.push(shared::paths::TEST_REFRESH_OUTAGE.to_owned());
        paths.push(test_sessions::PATH.to_owned());
        paths.push(shared::paths::TEST_DPOP_PROOFS.to_owned());
        let api = api.route(test_sessions::PATH, axum::routing::post(test_sessions::open_sessions));
        let api = api.route(shared::paths::TEST_DPOP_PROOFS, axum::routing::get(crate::http::proof_log::list));
        crate::http::fault::with_refresh_outage_switch(api)
    };
    let (api, document) = api.split_for_parts();
    let state = state.with_openapi(document.to_json().map_err(RouterError::OpenApi)?.into());
    let mut app = api.method_not_allowed_fallback(routes::method_not_allowed).with_state(state);
    if config.static_dir.is_dir() {
        app = app.merge(spa::router(&config.static_dir, &config.csp_connect_src)?);
    } else {
        app = app.fallback(|| async { ApiError::NotFound });
    }
    let cors_origins = &config.cors_origins;
    if !cors_origins.is_empty() {
        app = app.layer(cors(cors_origins)?);
    }
    // No `DefaultBodyLimit`: the envelope reads every body whole, at most `MAX_BODY_BYTES`, before
    // any extractor sees it.
    Ok((Envelope::new(app, RequestLimits::of(config)), paths))
}

/// `/metrics` alone, for a listener of its own.
pub(crate) fn metrics_only(state: AppState, limits: RequestLimits) -> AppService {
    let (router, _) = routes::metrics().into_parts();
    Envelope::new(router.with_state(state).into(), limits)
}

fn cors(origins: &[String]) -> Result<CorsLayer, RouterError> {
    let origins = origins
        .iter()
        .map(|o| o.trim().parse().map_err(|_| RouterError::CorsOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-token-delivery"), DPOP])
        // A script on another origin reads the step-up challenge (RFC 9470), the DPoP challenge and
        // nonce (RFC 9449), the server's clock (a DPoP client dates its proofs by it), and the
        // throttle's wait.
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, DPOP_NONCE, header::DATE])
        .allow_credentials(true))
}
