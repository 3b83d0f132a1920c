//! The session the client holds, and when it is due for a refresh.

use serde::{Deserialize, Serialize};

use crate::config::RefreshMargin;
use crate::protocol::TokenGrant;

/// Everything kept about the session. Times are Unix milliseconds on this device's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// True when the access token came from a refresh made while the one before it was still valid
    /// and not refused: it keeps its chain's schedule (plus jitter). A token from a login, a resume or a
    /// late refresh starts a new schedule and is spread wider ([`RefreshMargin::spread`]), because
    /// many clients may have got theirs at the same moment.
    #[serde(default)]
    pub on_schedule: bool,
    /// True when the access token is DPoP-bound (the grant's `token_type` was `DPoP`): it goes out with
    /// `Authorization: DPoP` and a proof, never as a Bearer token.
    #[serde(default)]
    pub dpop: bool,
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
            on_schedule: false,
            dpop: grant.is_dpop(),
        }
    }

    /// The session after a refresh: the new access token, the new refresh token (forgetting it is the
    /// classic bug that makes the second refresh fail) or the old one when the server did not rotate,
    /// and the same user. `on_schedule`: the refresh was made before this token expired or was refused.
    pub fn rotated(&self, grant: &TokenGrant, now: i64, on_schedule: bool) -> Self
    where
        U: Clone,
    {
        let mut next = Self::new(grant, self.user.clone(), now);
        next.on_schedule = on_schedule;
        if next.refresh_token.is_none() {
            next.refresh_token.clone_from(&self.refresh_token);
        }
        if next.refresh_expires_at.is_none() {
            next.refresh_expires_at = self.refresh_expires_at;
        }
        next
    }

    /// When to refresh ahead of expiry: the margin before expiry, moved earlier by this token's draw:
    /// its jitter when on schedule (never into the first half of its lifetime), its spread when it
    /// starts a new schedule (never into the first tenth).
    pub fn refresh_due_at(&self, margin: &RefreshMargin) -> i64 {
        let lifetime = (self.access_expires_at - self.access_issued_at).max(0);
        let due = self.access_expires_at - margin.before_expiry_ms(lifetime);
        let (earlier, earliest) = if self.on_schedule {
            (margin.jitter_ms(&self.access_token, lifetime), self.access_issued_at + lifetime / 2)
        } else {
            (margin.spread_ms(&self.access_token, lifetime), self.access_issued_at + lifetime / 10)
        };
        (due - earlier).max(earliest.min(due))
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
            on_schedule: true,
            dpop: false,
        }
    }

    fn no_jitter() -> RefreshMargin {
        RefreshMargin::default().without_spreading()
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
    fn a_new_schedule_is_spread_over_most_of_the_lifetime_but_never_its_first_tenth() {
        let margin = RefreshMargin::default();
        let dues: Vec<i64> = (0..500)
            .map(|token| {
                let mut s = Session { on_schedule: false, ..session(900_000) };
                s.access_token = format!("token-{token}");
                s.refresh_due_at(&margin) - 1_000_000
            })
            .collect();
        // 15 min: the margin is 90 s, so the spread (60% = 540 s) reaches back to 270 s after issue.
        assert!(dues.iter().all(|d| (270_000..=810_000).contains(d)), "{dues:?}");
        assert!(dues.iter().any(|d| *d < 400_000) && dues.iter().any(|d| *d > 700_000), "{dues:?}");
        let mut short = Session { on_schedule: false, ..session(4_000) };
        short.access_token = "token-1".into();
        assert!((1_000_400..=1_002_000).contains(&short.refresh_due_at(&margin)), "after the first tenth");
    }

    #[test]
    fn a_rotation_says_whether_the_new_token_keeps_the_schedule() {
        let grant = TokenGrant::new("a2", None, Some(60), None);
        assert!(session(1000).rotated(&grant, 5, true).on_schedule);
        assert!(!session(1000).rotated(&grant, 5, false).on_schedule);
        assert!(!Session::new(&grant, (), 5).on_schedule, "a login starts a new schedule");
    }

    #[test]
    fn a_rotation_without_a_new_refresh_token_keeps_the_old_one() {
        let grant = TokenGrant::new("a2", None, Some(60), None);
        assert_eq!(session(1000).rotated(&grant, 5, true).refresh_token.as_deref(), Some("r"));
    }
}
