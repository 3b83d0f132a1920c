//! The routes, one module per area, each owning its paths and their OpenAPI entries. [`Routes`]
//! records every path as it is registered, so the OpenAPI coverage test can compare what the router
//! answers with what the document says without reading axum's internals.

mod account;
mod auth;
mod demo;
mod jwks;
mod live;
mod oauth;
mod ops;
mod password_reset;
mod prometheus;
mod refresh;
mod sessions;

use axum::routing::{MethodRouter, any};
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::http::error::ApiError;
use crate::http::state::AppState;

/// An `OpenApiRouter` that also remembers the path template of every route registered on it.
pub(crate) struct Routes {
    router: OpenApiRouter<AppState>,
    paths: Vec<String>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self { router: OpenApiRouter::new(), paths: Vec::new() }
    }
}

impl Routes {
    /// A handler with its `#[utoipa::path]` entry.
    pub(crate) fn routes(mut self, documented: UtoipaMethodRouter<AppState>) -> Self {
        self.paths.extend(documented.1.paths.keys().cloned());
        self.router = self.router.routes(documented);
        self
    }

    /// A route the document does not describe (the envelope's catch-alls).
    fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, method_router);
        self
    }

    pub(crate) fn merge(mut self, other: Self) -> Self {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }

    /// The router, and every path template registered on it.
    pub(crate) fn into_parts(self) -> (OpenApiRouter<AppState>, Vec<String>) {
        (self.router, self.paths)
    }
}

/// Every API route (the demo's only when `demo` is on) with its OpenAPI entry, plus envelope answers
/// for unknown `/api/...` paths (which answer nothing, so they have no entry).
pub(crate) fn api(demo: bool) -> Routes {
    let mut api =
        Routes { router: OpenApiRouter::with_openapi(crate::http::openapi::ApiDoc::openapi()), paths: Vec::new() }
            .merge(auth::router())
            .merge(refresh::router())
            .merge(account::router())
            .merge(password_reset::router())
            .merge(sessions::router())
            .merge(ops::router());
    if demo {
        api = api.merge(demo::router()).merge(live::router());
    }
    api.routes(routes!(crate::http::openapi::get_openapi))
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

/// `GET /metrics`: Prometheus's text format.
pub(crate) fn metrics() -> Routes {
    prometheus::router()
}

/// Standard documents outside `/api`, with their own caching.
pub(crate) fn well_known() -> Routes {
    jwks::router()
}

/// The standard OAuth endpoints (metadata, introspection, revocation), never cached.
pub(crate) fn oauth() -> Routes {
    oauth::router()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The envelope answer for a known path asked with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
