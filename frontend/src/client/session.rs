//! The stored session and when it should be refreshed.

use serde::{Deserialize, Serialize};
use shared::auth::{LoginResponse, TokenPair};

/// Lower bound of the proactive-refresh margin.
const MIN_MARGIN_MS: i64 = 5_000;

/// Who is logged in, as the login answer said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub username: String,
    pub email: String,
    pub role: String,
}

/// Everything persisted about the session. Times are Unix milliseconds on this device's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub access_token: String,
    pub refresh_token: String,
    pub access_issued_at: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    pub user: SessionUser,
}

impl StoredSession {
    pub fn from_login(login: &LoginResponse, now: i64) -> Self {
        let user =
            SessionUser { username: login.username.clone(), email: login.email.clone(), role: login.role.clone() };
        Self::from_pair(&login.tokens, user, now)
    }

    /// The session after a refresh: both new tokens (forgetting the new refresh token is the classic
    /// bug that makes the second refresh fail), same user.
    pub fn rotated(&self, pair: &TokenPair, now: i64) -> Self {
        Self::from_pair(pair, self.user.clone(), now)
    }

    fn from_pair(pair: &TokenPair, user: SessionUser, now: i64) -> Self {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 2_000).saturating_mul(1000);
        Self {
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.clone(),
            access_issued_at: now,
            access_expires_at: now.saturating_add(secs(pair.expires_in)),
            refresh_expires_at: now.saturating_add(secs(pair.refresh_expires_in)),
            user,
        }
    }

    /// When to refresh ahead of expiry: 10% of the lifetime before it, at least 5 s, but never more
    /// than half the lifetime (so a 4-second token is refreshed after 2 s, not in a loop).
    pub fn refresh_due_at(&self) -> i64 {
        let lifetime = (self.access_expires_at - self.access_issued_at).max(0);
        let margin = (lifetime / 10).max(MIN_MARGIN_MS).min(lifetime / 2);
        self.access_expires_at - margin
    }

    pub fn access_expired(&self, now: i64) -> bool {
        now >= self.access_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(lifetime_ms: i64) -> StoredSession {
        StoredSession {
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_issued_at: 1_000_000,
            access_expires_at: 1_000_000 + lifetime_ms,
            refresh_expires_at: 2_000_000,
            user: SessionUser { username: "u".into(), email: "e".into(), role: "user".into() },
        }
    }

    #[test]
    fn margin_is_ten_percent_of_a_long_lifetime() {
        assert_eq!(session(900_000).refresh_due_at(), 1_000_000 + 900_000 - 90_000);
    }

    #[test]
    fn margin_is_at_least_five_seconds() {
        assert_eq!(session(20_000).refresh_due_at(), 1_000_000 + 20_000 - 5_000);
    }

    #[test]
    fn margin_never_exceeds_half_the_lifetime() {
        assert_eq!(session(4_000).refresh_due_at(), 1_000_000 + 2_000);
    }
}
