//! Token rules: what an access token and a refresh token are, and how each is checked.
//!
//! Access tokens are signed with the key ring every instance shares through the database (EdDSA, the
//! default) or with `JWT_SECRET` (HS256); refresh-token successors are derived from `JWT_SECRET`. So
//! every instance that shares the database and the secret issues and accepts the same tokens.

pub(crate) mod access;
pub(crate) mod key_material;
pub(crate) mod key_ring;
pub(crate) mod key_schedule;
pub(crate) mod refresh_token;

use crate::clock::Millis;

/// Whole seconds from `now` until `deadline`, never negative.
pub(crate) fn seconds_until(deadline: Millis, now: Millis) -> u64 {
    u64::try_from(deadline.saturating_sub(now) / 1000).unwrap_or(0)
}
