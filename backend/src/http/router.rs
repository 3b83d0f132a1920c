//! The whole application as one `Router`: the API, the well-known documents, optionally `/metrics`,
//! the built SPA, and the middleware stack around them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::{Config, MetricsExposure};
use crate::http::error::ApiError;
use crate::http::limits::{self, MAX_BODY_BYTES, RequestLimits};
use crate::http::openapi::Document;
use crate::http::routes;
use crate::http::spa::{self, SpaError};
use crate::http::state::AppState;
use crate::http::track::track;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("invalid CORS origin {0:?}")]
    CorsOrigin(String),
    #[error(transparent)]
    Spa(#[from] SpaError),
    #[error("cannot write the OpenAPI document")]
    OpenApi(#[source] serde_json::Error),
}

/// The application, and the path template of every route it registered (for the OpenAPI coverage
/// test).
pub(crate) fn router(state: AppState, config: &Config) -> Result<(Router, Vec<String>), RouterError> {
    // Token responses must never be cached (RFC 6749 §5.1); nothing else under /api should be either.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let metrics = Arc::clone(&state.auth.metrics);
    let (api, api_paths) = routes::api(config.demo_routes_enabled()).merge(routes::oauth()).into_parts();
    let mut api = api.layer(no_store);
    let mut paths = api_paths;
    let mut extra = routes::well_known();
    if config.metrics == MetricsExposure::Same {
        extra = extra.merge(routes::metrics());
    }
    let (extra, extra_paths) = extra.into_parts();
    paths.extend(extra_paths);
    api = api.merge(extra);
    // Only matched routes are counted, under their template (so ids never become label values).
    let api = api.route_layer(axum::middleware::from_fn_with_state(metrics, track));
    #[cfg(feature = "e2e")]
    let api = {
        use crate::http::test_sessions;
        paths.push(shared::paths::TEST_REFRESH_OUTAGE.to_owned());
        paths.push(test_sessions::PATH.to_owned());
        let api = api.route(test_sessions::PATH, axum::routing::post(test_sessions::open_sessions));
        crate::http::fault::with_refresh_outage_switch(api)
    };
    let (api, document) = api.split_for_parts();
    let document = Document(document.to_json().map_err(RouterError::OpenApi)?.into());
    let mut app =
        api.method_not_allowed_fallback(routes::method_not_allowed).layer(axum::Extension(document)).with_state(state);
    if config.static_dir.is_dir() {
        app = app.merge(spa::router(&config.static_dir, &config.csp_connect_src)?);
    } else {
        app = app.fallback(|| async { ApiError::NotFound });
    }
    let cors_origins = &config.cors_origins;
    if !cors_origins.is_empty() {
        app = app.layer(cors(cors_origins)?);
    }
    let limits = RequestLimits { body_read: config.body_read_timeout, whole_request: config.request_timeout };
    let app = app.layer(axum::middleware::from_fn_with_state(limits, limits::enforce));
    Ok((with_middleware(app), paths))
}

/// Outermost first: an id is assigned, the request is traced under it, and the id is echoed back;
/// every answer gets the security headers.
fn with_middleware(app: Router) -> Router {
    app.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).layer(
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::new()))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<_>| {
                        let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                        // Only method and path: headers and bodies carry tokens and passwords.
                        tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            // On every response: no MIME sniffing, no framing (clickjacking), no referrer leaks.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            )),
    )
}

/// Request ids: this process's random prefix and a counter. Unique like a UUID per request, without a
/// `getrandom` system call on every request.
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self { prefix: prefix.into(), next: std::sync::Arc::default() }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

/// `/metrics` alone, for a listener of its own.
pub(crate) fn metrics_only(state: AppState) -> Router {
    let (router, _) = routes::metrics().into_parts();
    router.with_state(state).into()
}

fn cors(origins: &[String]) -> Result<CorsLayer, RouterError> {
    let origins = origins
        .iter()
        .map(|o| o.trim().parse().map_err(|_| RouterError::CorsOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-token-delivery")])
        .allow_credentials(true))
}
