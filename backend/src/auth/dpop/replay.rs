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

/// Seen proofs, by key, with the instant each may be forgotten, and how many each signing key has
/// recorded lately: no one key may take more than its share, so one session's flood of proofs cannot
/// fill the memory and turn everyone else away.
#[derive(Debug)]
pub(crate) struct SeenProofs {
    capacity: usize,
    per_key: u32,
    window_ms: Millis,
    state: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    proofs: HashMap<[u8; 32], Millis>,
    /// By the signing key's thumbprint: when its current window started, and its proofs in it.
    shares: HashMap<String, (Millis, u32)>,
}

impl SeenProofs {
    /// At most `capacity` proofs remembered, and at most `per_key` from one signing key per `window_ms`.
    pub(crate) fn new(capacity: usize, per_key: u32, window_ms: Millis) -> Self {
        Self { capacity, per_key, window_ms, state: Mutex::new(Seen::default()) }
    }

    /// Records `key` (a proof by the key whose thumbprint is `jkt`) until `forget_at`; false when it
    /// was already there. A key past its share is refused with `RateLimited`. When the memory is full
    /// it first drops what may be forgotten; still full, the proof is refused with `DpopBusy`.
    pub(crate) fn spend(&self, jkt: &str, key: [u8; 32], forget_at: Millis, now: Millis) -> Result<bool, AuthError> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = state.proofs.get(&key)
            && *until > now
        {
            return Ok(false);
        }
        if state.proofs.len() >= self.capacity {
            let window_ms = self.window_ms;
            state.proofs.retain(|_, until| *until > now);
            state.shares.retain(|_, (started, _)| now.saturating_sub(*started) < window_ms);
            if state.proofs.len() >= self.capacity {
                return Err(AuthError::DpopBusy);
            }
        }
        let share = state.shares.entry(jkt.to_owned()).or_insert((now, 0));
        if now.saturating_sub(share.0) >= self.window_ms {
            *share = (now, 0);
        }
        if share.1 >= self.per_key {
            let retry_after = u64::try_from((share.0 + self.window_ms - now).max(1000) / 1000).unwrap_or(1);
            return Err(AuthError::RateLimited { retry_after });
        }
        share.1 += 1;
        state.proofs.insert(key, forget_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_accepted_once_until_it_may_be_forgotten() {
        let seen = SeenProofs::new(10, 10, 1_000);
        let proof = key("jkt", "jti-1");
        assert!(seen.spend("jkt", proof, 1_000, 0).unwrap());
        assert!(!seen.spend("jkt", proof, 1_000, 999).unwrap());
        assert!(seen.spend("jkt", key("jkt", "jti-2"), 1_000, 0).unwrap());
        assert!(seen.spend("other-jkt", key("other-jkt", "jti-1"), 1_000, 0).unwrap(), "the jti of another key");
    }

    #[test]
    fn full_of_fresh_proofs_it_refuses_rather_than_forgets() {
        let seen = SeenProofs::new(2, 10, 1_000);
        assert!(seen.spend("a", key("a", "1"), 1_000, 0).unwrap());
        assert!(seen.spend("b", key("b", "2"), 1_000, 0).unwrap());
        assert!(matches!(seen.spend("c", key("c", "3"), 1_000, 10), Err(AuthError::DpopBusy)));
        assert!(!seen.spend("a", key("a", "1"), 1_000, 10).unwrap(), "still remembered");
        // Once they may be forgotten, room is made.
        assert!(seen.spend("c", key("c", "3"), 2_000, 1_000).unwrap());
    }

    #[test]
    fn one_key_past_its_share_is_slowed_and_the_others_go_on() {
        let seen = SeenProofs::new(100, 3, 60_000);
        for jti in ["1", "2", "3"] {
            assert!(seen.spend("flood", key("flood", jti), 70_000, 0).unwrap());
        }
        let refused = seen.spend("flood", key("flood", "4"), 70_000, 10_000);
        assert!(matches!(refused, Err(AuthError::RateLimited { retry_after: 50 })), "{refused:?}");
        assert!(seen.spend("honest", key("honest", "1"), 70_000, 10_000).unwrap(), "another key is not slowed");
        // The next window gives the key its share again.
        assert!(seen.spend("flood", key("flood", "4"), 130_000, 60_000).unwrap());
    }
}
