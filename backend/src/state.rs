//! Shared handles every handler reads through `State`.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::store::Store;
use crate::throttle::Throttle;
use crate::tokens::{AccessTokens, Millis, RefreshTokens};

/// Cheap to clone: every field is a handle or an `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// Every time-dependent rule reads now from here.
    pub(crate) clock: SharedClock,
    pub(crate) store: Store,
    pub(crate) access: AccessTokens,
    pub(crate) refresh: RefreshTokens,
    pub(crate) passwords: Passwords,
    pub(crate) throttle: Throttle,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sessions: SessionPolicy,
    /// Whether the client address comes from `X-Forwarded-For` (behind a trusted proxy).
    pub(crate) trust_forwarded_for: bool,
    /// Origins besides this server's own that may make cookie-mode requests (`CORS_ORIGINS`).
    pub(crate) cors_origins: Arc<[String]>,
    /// How long the JWKS may be cached, in seconds.
    pub(crate) jwks_max_age: u64,
}

impl AppState {
    /// Now, by the state's clock.
    pub(crate) fn now(&self) -> Millis {
        self.clock.now()
    }
}

/// The session-lifetime rules, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPolicy {
    pub(crate) refresh_ttl_ms: Millis,
    pub(crate) sliding: bool,
    pub(crate) max_lifetime_ms: Millis,
    pub(crate) grace_ms: Millis,
}

impl SessionPolicy {
    /// Expiry of a session created at `now`: one refresh lifetime, never past the session cap.
    pub(crate) fn initial_expiry(&self, now: Millis) -> (Millis, Millis) {
        let max = now.saturating_add(self.max_lifetime_ms);
        (now.saturating_add(self.refresh_ttl_ms).min(max), max)
    }
}
