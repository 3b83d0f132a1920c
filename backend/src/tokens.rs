//! Token rules: what an access token and a refresh token are, and how each is checked.
//!
//! Both kinds are derived from the one configured secret, so every instance that shares `JWT_SECRET`
//! issues and accepts the same tokens.

pub(crate) mod access;
pub(crate) mod refresh;

pub(crate) use access::{AccessClaims, AccessError, AccessTokens};
pub(crate) use refresh::{RefreshToken, RefreshTokens, TokenHash};

/// Milliseconds since the Unix epoch: the one time unit stored and compared server-side.
pub(crate) type Millis = i64;

/// Now, in [`Millis`].
pub(crate) fn now_millis() -> Millis {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in [`Millis`], saturating rather than wrapping for absurd configured values.
pub(crate) fn millis(duration: std::time::Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whole seconds from `now` until `deadline`, never negative.
pub(crate) fn seconds_until(deadline: Millis, now: Millis) -> u64 {
    u64::try_from(deadline.saturating_sub(now) / 1000).unwrap_or(0)
}
