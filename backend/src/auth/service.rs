//! [`Auth`]: the handles every rule needs (clock, store, token issuers, hashing, throttle, metrics),
//! and what a login or refresh hands back.

use std::sync::Arc;

use crate::auth::passwords::Passwords;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::access::{AccessTokens, Subject};
use crate::auth::tokens::refresh_token::{RefreshToken, RefreshTokens};
use crate::clock::{Millis, SharedClock};
use crate::config::ClientCredentials;
use crate::metrics::Metrics;
use crate::store::{Store, UserRecord};

/// Cheap to clone: every field is a handle or an `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// Every time-dependent rule reads now from here.
    pub(crate) clock: SharedClock,
    pub(crate) store: Store,
    pub(crate) access: AccessTokens,
    pub(crate) refresh: RefreshTokens,
    pub(crate) passwords: Passwords,
    pub(crate) throttle: Throttle,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sessions: SessionPolicy,
    /// Resource servers that may introspect tokens.
    pub(crate) introspection_clients: Arc<[ClientCredentials]>,
}

impl Auth {
    /// Now, by the clock.
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

/// Tokens just issued by a login or a refresh, and whose they are.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) refresh: RefreshToken,
    pub(crate) refresh_expires_in: u64,
    pub(crate) user: UserRecord,
}

/// Who an access token for `user`'s session `session_id`, opened by `client_id`, is for.
pub(crate) fn subject<'a>(user: &'a UserRecord, session_id: &'a str, client_id: Option<&'a str>) -> Subject<'a> {
    Subject { user_id: &user.id, username: &user.username, role: &user.role, session_id, client_id }
}
