//! The four seams between the refresh logic and the outside world.
//!
//! Every future here is `!Send` on purpose: the browser is single-threaded, and so are the tests.
#![allow(async_fn_in_trait)]

use serde::Serialize;

use super::session::StoredSession;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// A request described as data, so it can be sent again byte for byte after a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    /// JSON text.
    pub body: Option<String>,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: Method::Get, path: path.into(), body: None }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self { method: Method::Delete, path: path.into(), body: None }
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self { method: Method::Post, path: path.into(), body: None }
    }

    pub fn post_json(path: impl Into<String>, body: &impl Serialize) -> Self {
        // Serialising our own wire types cannot fail; an empty object keeps the signature infallible.
        let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
        Self { method: Method::Post, path: path.into(), body: Some(body) }
    }
}

/// What came back: any status, body as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    pub body: String,
}

/// The request never got an HTTP answer (offline, DNS, connection refused, CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

/// Sends one HTTP request, with `Authorization: Bearer` when a token is given.
pub trait Transport {
    async fn send(&self, request: &ApiRequest, bearer: Option<&str>) -> Result<RawResponse, TransportError>;
}

/// Saving the session failed (storage full, disabled or blocked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

/// Where the session's tokens live (`localStorage` in the browser, shared by all tabs).
pub trait TokenStore {
    fn load(&self) -> Option<StoredSession>;
    /// A failure is not fatal: the client keeps the session in memory and keeps trying.
    fn save(&self, session: &StoredSession) -> Result<(), StorageError>;
    fn clear(&self);
}

/// Wall-clock time in Unix milliseconds, and a way to wait.
pub trait Clock {
    fn now_ms(&self) -> i64;
    async fn sleep_ms(&self, ms: u64);
}

/// Mutual exclusion across tabs. Held while refreshing; released when the guard drops.
pub trait RefreshLock {
    type Guard;
    /// Waits a bounded time. `None` means the lock could not be had; the caller refreshes anyway and
    /// relies on the server's grace window.
    async fn acquire(&self) -> Option<Self::Guard>;
}
