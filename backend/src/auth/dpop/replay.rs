//! Proofs already seen at resources on this instance: a bounded map from a proof's key to when it may
//! be forgotten. Bounded, so a flood of proofs cannot grow it without end; full of proofs still fresh,
//! it refuses new ones rather than forget one that could then be replayed.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::auth::error::AuthError;
use crate::clock::Millis;

/// The key a proof is remembered by: its key's thumbprint and its `jti`, hashed to a fixed size.
pub(crate) fn key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(jkt.as_bytes());
    hash.update([0]);
    hash.update(jti.as_bytes());
    hash.finalize().into()
}

/// Seen proofs, by key, with the instant each may be forgotten.
#[derive(Debug)]
pub(crate) struct SeenProofs {
    capacity: usize,
    seen: Mutex<HashMap<[u8; 32], Millis>>,
}

impl SeenProofs {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, seen: Mutex::new(HashMap::new()) }
    }

    /// Records `key` until `forget_at`; false when it was already there. When the map is full it first
    /// drops what may be forgotten; still full, the proof is refused with `DpopBusy`.
    pub(crate) fn spend(&self, key: [u8; 32], forget_at: Millis, now: Millis) -> Result<bool, AuthError> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = seen.get(&key)
            && *until > now
        {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until > now);
            if seen.len() >= self.capacity {
                return Err(AuthError::DpopBusy);
            }
        }
        seen.insert(key, forget_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_accepted_once_until_it_may_be_forgotten() {
        let seen = SeenProofs::new(10);
        let proof = key("jkt", "jti-1");
        assert!(seen.spend(proof, 1_000, 0).unwrap());
        assert!(!seen.spend(proof, 1_000, 999).unwrap());
        assert!(seen.spend(key("jkt", "jti-2"), 1_000, 0).unwrap());
        assert!(seen.spend(key("other-jkt", "jti-1"), 1_000, 0).unwrap(), "the jti of another key");
    }

    #[test]
    fn full_of_fresh_proofs_it_refuses_rather_than_forgets() {
        let seen = SeenProofs::new(2);
        assert!(seen.spend(key("k", "1"), 1_000, 0).unwrap());
        assert!(seen.spend(key("k", "2"), 1_000, 0).unwrap());
        assert!(matches!(seen.spend(key("k", "3"), 1_000, 10), Err(AuthError::DpopBusy)));
        assert!(!seen.spend(key("k", "1"), 1_000, 10).unwrap(), "still remembered");
        // Once they may be forgotten, room is made.
        assert!(seen.spend(key("k", "3"), 2_000, 1_000).unwrap());
    }
}
