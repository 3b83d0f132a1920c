//! [`Auth`]: the handles every rule needs (clock, store, token issuers, hashing, throttle, metrics),
//! and what a login or refresh hands back.

use std::sync::Arc;

use crate::auth::dpop;
use crate::auth::error::AuthError;
use crate::auth::passwords::Passwords;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::access::{AccessTokens, Subject};
use crate::auth::tokens::refresh_token::{RefreshToken, RefreshTokens};
use crate::clock::{Millis, SharedClock};
use crate::config::ClientCredentials;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::store::{Liveness, SessionRecord, Store, UserRecord};

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
    /// Where reset links go, and for how long they work.
    pub(crate) password_reset: ResetPolicy,
    /// Sender-constrained tokens: proofs, nonces, replay.
    pub(crate) dpop: dpop::DpopPolicy,
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

    /// The DPoP key a login or refresh proved with `proof` (see [`dpop::token_endpoint_key`]).
    pub(crate) async fn token_endpoint_dpop_key(
        &self,
        proof: Option<&str>,
        target: &dpop::RequestTarget<'_>,
        request: dpop::TokenRequest,
    ) -> Result<Option<dpop::Proven>, AuthError> {
        dpop::token_endpoint_key(&self.dpop, &self.store, self.now(), proof, target, request).await
    }
}

/// Where reset mail goes and what it says.
#[derive(Debug, Clone)]
pub(crate) struct ResetPolicy {
    pub(crate) mailer: Mailer,
    /// How long a link works.
    pub(crate) ttl: std::time::Duration,
    /// The page a link opens; the token follows in the fragment, which browsers never send to a
    /// server or put in a `Referer`.
    pub(crate) page: String,
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
    /// How recently the user must have proved who they are for a sensitive request (`REAUTH_MAX_AGE`).
    pub(crate) reauth_max_age: std::time::Duration,
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

    /// A sensitive request may go on only when the user proved who they are (`auth_time`, seconds, as
    /// the access token says) within `REAUTH_MAX_AGE`; 0 means "every time": within the time a client
    /// needs to ask for the password and retry. A token without `auth_time` (issued by an earlier
    /// release) is not recent. A refresh never helps: it copies the session's time.
    pub(crate) fn require_recent_authentication(&self, auth_time: Option<i64>, now: Millis) -> Result<(), AuthError> {
        let window = if self.reauth_max_age.is_zero() { REAUTH_RETRY_TIME } else { self.reauth_max_age };
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        match auth_time {
            Some(at) if now / 1000 - at <= window => Ok(()),
            _ => Err(AuthError::ReauthenticationRequired { max_age: self.reauth_max_age.as_secs() }),
        }
    }

    /// What "live" means at `now`, for every reader that asks.
    pub(crate) fn liveness(&self, now: Millis) -> Liveness {
        Liveness { now, idle_cutoff: self.idle_cutoff(now) }
    }
}

/// How long a client may take from a re-authentication to the retry of the request that asked for it.
const REAUTH_RETRY_TIME: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// Whether the session is bound to a DPoP key (`token_type: DPoP`, `cnf` in the access token).
    pub(crate) dpop_bound: bool,
}

/// Who an access token for `user`'s `session` is for: the session's client, authentication time and
/// methods, never the time of the refresh that asks.
pub(crate) fn subject<'a>(user: &'a UserRecord, session: &'a SessionRecord) -> Subject<'a> {
    Subject {
        user_id: &user.id,
        username: &user.username,
        role: &user.role,
        session_id: &session.id,
        client_id: session.app_id.as_deref(),
        auth_time: session.auth_time,
        amr: &session.amr,
        dpop_jkt: session.dpop_jkt.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy(reauth_max_age: Duration) -> SessionPolicy {
        SessionPolicy {
            refresh_ttl_ms: 1,
            sliding: false,
            max_lifetime_ms: 1,
            grace_ms: 0,
            not_remembered_ttl_ms: 1,
            idle_timeout_ms: None,
            max_sessions: 0,
            reauth_max_age,
        }
    }

    #[test]
    fn recent_authentication_is_judged_in_whole_seconds_and_a_missing_time_is_never_recent() {
        let now: Millis = 1_000_000_999;
        let ten_minutes = policy(Duration::from_secs(600));
        assert!(ten_minutes.require_recent_authentication(Some(1_000_000 - 600), now).is_ok());
        let refused = ten_minutes.require_recent_authentication(Some(1_000_000 - 601), now);
        assert!(matches!(refused, Err(AuthError::ReauthenticationRequired { max_age: 600 })), "{refused:?}");
        // A token of an earlier release has no auth_time.
        assert!(ten_minutes.require_recent_authentication(None, now).is_err());
        // 0 asks every time, but leaves the client time to ask and retry.
        let always = policy(Duration::ZERO);
        assert!(always.require_recent_authentication(Some(1_000_000 - 30), now).is_ok());
        let three_seconds = policy(Duration::from_secs(3));
        assert!(three_seconds.require_recent_authentication(Some(1_000_000 - 3), now).is_ok());
        assert!(three_seconds.require_recent_authentication(Some(1_000_000 - 4), now).is_err());
        let refused = always.require_recent_authentication(Some(1_000_000 - 31), now);
        assert!(matches!(refused, Err(AuthError::ReauthenticationRequired { max_age: 0 })), "{refused:?}");
    }
}
