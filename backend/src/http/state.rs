//! The state every handler reads through `State`: the rules' handles plus what only HTTP needs.

use std::sync::Arc;

use axum::body::Bytes;

use crate::auth::service::Auth;

/// What every handler reads, behind one `Arc`: axum clones the state for every request (twice on some
/// paths), and one reference count is cheaper than a count per handle, each a cache line the request
/// threads would pass back and forth.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) auth: Arc<Auth>,
    /// Whether the client address comes from `X-Forwarded-For` (behind a trusted proxy).
    pub(crate) trust_forwarded_for: bool,
    /// Origins besides this server's own that may make cookie-mode requests (`CORS_ORIGINS`).
    pub(crate) cors_origins: Arc<[String]>,
    /// The refresh cookie's name prefix (`REFRESH_COOKIE_PREFIX`).
    pub(crate) cookie_prefix: crate::config::CookiePrefix,
    /// How long the JWKS may be cached, in seconds.
    pub(crate) jwks_max_age: u64,
    /// Demo echo calls in progress, which each echo reports (overlap, seen from the server).
    pub(crate) echoes_in_flight: Arc<std::sync::atomic::AtomicU32>,
    /// The OpenAPI document, serialised once the router that it describes is built.
    pub(crate) openapi: Bytes,
}

impl AppState {
    pub(crate) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// The same state with the OpenAPI document set (the router writes it once it has every route).
    pub(crate) fn with_openapi(&self, openapi: Bytes) -> Self {
        Self::new(Shared { openapi, ..(*self.0).clone() })
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
