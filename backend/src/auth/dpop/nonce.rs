//! Server nonces (RFC 9449 §8, §9), stateless: a nonce is a time window's number and a MAC over it,
//! keyed by a secret every instance reads from the shared database, so any instance accepts what any
//! other issued and none keeps a list.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::clock::Millis;

/// How long one window lasts. A nonce is handed out half a window ahead and accepted for the window
/// before and after its own, so a client that got one keeps it for at least a window and a half.
const WINDOW_MS: Millis = 5 * 60 * 1000;

/// Issues and checks nonces.
#[derive(Clone)]
pub(crate) struct Nonces {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    pub(crate) fn new(secret: &[u8]) -> Self {
        // HMAC takes a key of any length; this cannot fail.
        let key = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
        Self { key }
    }

    /// The nonce to hand out at `now`: the next window's once the current one is half over.
    pub(crate) fn current(&self, now: Millis) -> String {
        self.for_window(window_of(now.saturating_add(WINDOW_MS / 2)))
    }

    /// Whether `nonce` was issued by an instance sharing the secret, for a window next to `now`'s.
    pub(crate) fn accepts(&self, nonce: &str, now: Millis) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let Some((window, _)) = bytes.split_first_chunk::<8>() else { return false };
        let window = u64::from_be_bytes(*window);
        let current = window_of(now);
        if window.abs_diff(current) > 1 {
            return false;
        }
        let expected = self.for_window(window);
        bool::from(expected.as_bytes().ct_eq(nonce.as_bytes()))
    }

    fn for_window(&self, window: u64) -> String {
        let mut mac = self.key.clone();
        mac.update(b"dpop-nonce");
        mac.update(&window.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag[..16]);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

fn window_of(now: Millis) -> u64 {
    u64::try_from(now.max(0) / WINDOW_MS).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_from_its_issue_to_the_end_of_the_window_after_its_own() {
        let nonces = Nonces::new(b"secret");
        let issued_at = 10 * WINDOW_MS + WINDOW_MS / 2 + 1;
        let nonce = nonces.current(issued_at);
        for later in [issued_at, 11 * WINDOW_MS, 12 * WINDOW_MS + WINDOW_MS - 1] {
            assert!(nonces.accepts(&nonce, later), "at {later}");
        }
        assert!(!nonces.accepts(&nonce, 13 * WINDOW_MS), "two windows on");
        assert!(nonces.accepts(&nonce, 10 * WINDOW_MS), "an instance a little behind");
        assert!(!nonces.accepts(&nonce, 9 * WINDOW_MS + WINDOW_MS - 1));
    }

    #[test]
    fn another_secret_a_forged_window_or_garbage_is_refused() {
        let nonces = Nonces::new(b"secret");
        let now = 7 * WINDOW_MS;
        let nonce = nonces.current(now);
        assert!(!Nonces::new(b"other").accepts(&nonce, now));
        let mut forged = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        forged[7] ^= 1;
        assert!(!nonces.accepts(&URL_SAFE_NO_PAD.encode(forged), now));
        for garbage in ["", "a", "!!!!", "AAAAAAAAAAA"] {
            assert!(!nonces.accepts(garbage, now), "{garbage}");
        }
    }
}
