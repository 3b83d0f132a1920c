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
use crate::store::{Liveness, Store, UserRecord};

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

    /// What "live" means now.
    pub(crate) fn liveness(&self) -> Liveness {
        self.sessions.liveness(self.now())
    }
}

/// The session-lifetime rules, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPolicy {
    pub(crate) refresh_ttl_ms: Millis,
    pub(crate) sliding: bool,
    pub(crate) max_lifetime_ms: Millis,
    pub(crate) grace_ms: Millis,
    /// The longest a session the user did not ask to be remembered lives, whatever else says.
    pub(crate) not_remembered_ttl_ms: Millis,
    /// No authenticated request for this long ends a session (`None`: off).
    pub(crate) idle_timeout_ms: Option<Millis>,
    /// Live sessions per user (0: no cap).
    pub(crate) max_sessions: u32,
}

impl SessionPolicy {
    /// Expiry of a session created at `now`: one refresh lifetime, never past the session's cap (which
    /// is shorter for a session the user did not ask to be remembered).
    pub(crate) fn initial_expiry(&self, now: Millis, remembered: bool) -> (Millis, Millis) {
        let mut max = now.saturating_add(self.max_lifetime_ms);
        if !remembered {
            max = max.min(now.saturating_add(self.not_remembered_ttl_ms));
        }
        (now.saturating_add(self.refresh_ttl_ms).min(max), max)
    }

    /// Last use at or before this is idle.
    pub(crate) fn idle_cutoff(&self, now: Millis) -> Option<Millis> {
        self.idle_timeout_ms.map(|idle| now.saturating_sub(idle))
    }

    /// What "live" means at `now`, for every reader that asks.
    pub(crate) fn liveness(&self, now: Millis) -> Liveness {
        Liveness { now, idle_cutoff: self.idle_cutoff(now) }
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
    /// Whether the refresh token may outlive the browser session (a persistent cookie).
    pub(crate) remembered: bool,
}

/// Who an access token for `user`'s session `session_id`, opened by `client_id`, is for.
pub(crate) fn subject<'a>(user: &'a UserRecord, session_id: &'a str, client_id: Option<&'a str>) -> Subject<'a> {
    Subject { user_id: &user.id, username: &user.username, role: &user.role, session_id, client_id }
}
