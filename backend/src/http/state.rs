//! The state every handler reads through `State`: the rules' handles plus what only HTTP needs.

use std::sync::Arc;

use axum::body::Bytes;

use crate::auth::service::Auth;

/// Cheap to clone: every field is a handle or an `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// Behind an `Arc`: the state is cloned for every request, and the rules' handles are not all cheap.
    pub(crate) auth: Arc<Auth>,
    /// Whether the client address comes from `X-Forwarded-For` (behind a trusted proxy).
    pub(crate) trust_forwarded_for: bool,
    /// Origins besides this server's own that may make cookie-mode requests (`CORS_ORIGINS`).
    pub(crate) cors_origins: Arc<[String]>,
    /// How long the JWKS may be cached, in seconds.
    pub(crate) jwks_max_age: u64,
    /// Demo echo calls in progress, which each echo reports (overlap, seen from the server).
    pub(crate) echoes_in_flight: Arc<std::sync::atomic::AtomicU32>,
    /// The OpenAPI document, serialised once the router that it describes is built.
    pub(crate) openapi: Bytes,
}
