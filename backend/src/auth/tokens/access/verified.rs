//! The access tokens this instance verified lately, so that a client presenting the same token again
//! does not pay for a second signature check (an Ed25519 or P-256 verification costs more than the
//! rest of an authenticated request). An entry is found by the SHA-256 of the exact token bytes, so only
//! those bytes, already checked, can hit it; it remembers the key that verified them and counts only
//! while the ring still holds that same key, unchanged. Every check that depends on the time (`exp`,
//! the previous issuer's end) still runs on every use, outside this cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::AccessClaims;
use crate::auth::tokens::key_material::Key;

/// Independent locks, so the workers rarely wait on one another.
const SHARDS: usize = 8;

pub(super) type Digest = [u8; 32];

pub(super) fn digest(token: &str) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// What one verification established.
#[derive(Clone)]
pub(super) struct Verified {
    pub(super) claims: AccessClaims,
    /// The ring's key that verified the signature; `None` for the shared secret (HS256), which never
    /// changes while the process runs.
    pub(super) key: Option<Arc<Key>>,
}

pub(super) struct VerifiedTokens {
    shards: [Mutex<HashMap<Digest, Verified>>; SHARDS],
    per_shard: usize,
}

impl VerifiedTokens {
    /// Holds at most about `capacity` tokens.
    pub(super) fn new(capacity: usize) -> Self {
        Self { shards: Default::default(), per_shard: capacity.div_ceil(SHARDS).max(1) }
    }

    fn shard(&self, digest: &Digest) -> &Mutex<HashMap<Digest, Verified>> {
        &self.shards[usize::from(digest[0]) % SHARDS]
    }

    /// What the token with this digest was verified as, if `trusted` still accepts the key that
    /// verified it.
    pub(super) fn get(&self, digest: &Digest, trusted: impl FnOnce(&Arc<Key>) -> bool) -> Option<AccessClaims> {
        let found = self.shard(digest).lock().ok()?.get(digest).cloned()?;
        match &found.key {
            Some(key) if !trusted(key) => {
                // The key was revoked, retired or reloaded since: this entry can never count again.
                if let Ok(mut shard) = self.shard(digest).lock() {
                    shard.remove(digest);
                }
                None
            }
            _ => Some(found.claims),
        }
    }

    /// Remembers a verified token. A full shard first drops the tokens expired at `now_secs` (their
    /// `exp` plus `leeway_secs`), and is emptied if that frees nothing: the bound holds whoever sends
    /// the tokens.
    pub(super) fn insert(&self, digest: Digest, verified: Verified, now_secs: i64, leeway_secs: i64) {
        let Ok(mut shard) = self.shard(&digest).lock() else { return };
        if shard.len() >= self.per_shard {
            shard.retain(|_, entry| entry.claims.exp.saturating_add(leeway_secs) >= now_secs);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(digest, verified);
    }

    /// How many tokens are held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().map_or(0, |shard| shard.len())).sum()
    }
}
