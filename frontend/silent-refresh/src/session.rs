//! The session the client holds, and when it is due for a refresh.

use serde::{Deserialize, Serialize};

use crate::config::RefreshMargin;
use crate::protocol::TokenGrant;

/// Everything kept about the session. Times are Unix milliseconds on this device's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session<U> {
    /// The bearer token sent with every request.
    pub access_token: String,
    /// The refresh token, when the client holds it. `None` when the server keeps it out of the page's
    /// reach (an `HttpOnly` cookie).
    pub refresh_token: Option<String>,
    /// When the access token was received.
    pub access_issued_at: i64,
    /// When the access token expires.
    pub access_expires_at: i64,
    /// When the refresh token expires, if the server said.
    pub refresh_expires_at: Option<i64>,
    /// Who is logged in, as the protocol read it from the login answer.
    pub user: U,
}

impl<U> Session<U> {
    /// A session from a fresh grant.
    pub fn new(grant: &TokenGrant, user: U, now: i64) -> Self {
        Self {
            access_token: grant.access_token.clone(),
            refresh_token: grant.refresh_token.clone(),
            access_issued_at: now,
            access_expires_at: now.saturating_add(seconds(grant.expires_in)),
            refresh_expires_at: grant.refresh_expires_in.map(|s| now.saturating_add(seconds(Some(s)))),
            user,
        }
    }

    /// The session after a refresh: the new access token, the new refresh token (forgetting it is the
    /// classic bug that makes the second refresh fail) or the old one when the server did not rotate,
    /// and the same user.
    pub fn rotated(&self, grant: &TokenGrant, now: i64) -> Self
    where
        U: Clone,
    {
        let mut next = Self::new(grant, self.user.clone(), now);
        if next.refresh_token.is_none() {
            next.refresh_token.clone_from(&self.refresh_token);
        }
        if next.refresh_expires_at.is_none() {
            next.refresh_expires_at = self.refresh_expires_at;
        }
        next
    }

    /// When to refresh ahead of expiry: the margin before expiry, moved earlier by this token's
    /// jitter, but never into the first half of its lifetime.
    pub fn refresh_due_at(&self, margin: &RefreshMargin) -> i64 {
        let lifetime = (self.access_expires_at - self.access_issued_at).max(0);
        let due = self.access_expires_at - margin.before_expiry_ms(lifetime);
        let earliest = self.access_issued_at + lifetime / 2;
        (due - margin.jitter_ms(&self.access_token, lifetime)).max(earliest.min(due))
    }

    /// True once the access token has expired by this device's clock.
    pub fn access_expired(&self, now: i64) -> bool {
        now >= self.access_expires_at
    }

    /// The same tokens: what compare-and-set writes check.
    pub(crate) fn same_tokens(&self, other: &Self) -> bool {
        self.access_token == other.access_token && self.refresh_token == other.refresh_token
    }
}

/// Seconds to milliseconds; an unknown lifetime counts as one minute, short enough to be refreshed soon.
fn seconds(value: Option<u64>) -> i64 {
    const UNKNOWN_LIFETIME_S: u64 = 60;
    i64::try_from(value.unwrap_or(UNKNOWN_LIFETIME_S)).unwrap_or(i64::MAX / 2_000).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(lifetime_ms: i64) -> Session<()> {
        Session {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            access_issued_at: 1_000_000,
            access_expires_at: 1_000_000 + lifetime_ms,
            refresh_expires_at: None,
            user: (),
        }
    }

    fn no_jitter() -> RefreshMargin {
        RefreshMargin { jitter: 0.0, ..RefreshMargin::default() }
    }

    #[test]
    fn the_default_margin_is_ten_percent_of_a_long_lifetime() {
        assert_eq!(session(900_000).refresh_due_at(&no_jitter()), 1_000_000 + 900_000 - 90_000);
    }

    #[test]
    fn the_default_margin_is_at_least_five_seconds() {
        assert_eq!(session(20_000).refresh_due_at(&no_jitter()), 1_000_000 + 20_000 - 5_000);
    }

    #[test]
    fn the_margin_never_exceeds_half_the_lifetime() {
        assert_eq!(session(4_000).refresh_due_at(&no_jitter()), 1_000_000 + 2_000);
    }

    #[test]
    fn jitter_only_moves_the_refresh_earlier_and_never_into_the_first_half() {
        let margin = RefreshMargin::default();
        for token in 0..200 {
            let mut s = session(900_000);
            s.access_token = format!("token-{token}");
            let due = s.refresh_due_at(&margin);
            assert!((1_000_000 + 900_000 - 90_000 - 90_000..=1_000_000 + 900_000 - 90_000).contains(&due), "{due}");
            let mut short = session(4_000);
            short.access_token = format!("token-{token}");
            assert_eq!(short.refresh_due_at(&margin), 1_000_000 + 2_000, "no earlier than halfway");
        }
    }

    #[test]
    fn a_rotation_without_a_new_refresh_token_keeps_the_old_one() {
        let grant = TokenGrant::new("a2", None, Some(60), None);
        assert_eq!(session(1000).rotated(&grant, 5).refresh_token.as_deref(), Some("r"));
    }
}
