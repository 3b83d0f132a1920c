//! Refresh tokens: 256 random bits, URL-safe, stored only as a SHA-256 hash.
//!
//! A rotated token's successor is not random but `HMAC(key, parent)`. That lets the grace window hand
//! the *same* successor to every racing caller that presents the parent, although the server never
//! stores a token in plain text. Without the key, a successor cannot be predicted from its parent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;
use crate::store::TokenHash;

/// Length of an encoded refresh token: 32 bytes in unpadded base64url.
const ENCODED_LEN: usize = 43;
/// Domain separation, so the successor key is never the access-token signing key itself.
const SUCCESSOR_KEY_LABEL: &[u8] = b"silent-refresh/refresh-successor/v1";

/// A refresh token in plain text: handed to the client once, never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RefreshToken(String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

impl RefreshToken {
    /// Accepts only the shape the server issues, so garbage never reaches the database.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let well_formed =
            value.len() == ENCODED_LEN && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(value.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }

    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// Mints new refresh tokens and derives successors.
#[derive(Clone)]
pub(crate) struct RefreshTokens {
    successor_key: Vec<u8>,
}

impl std::fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshTokens([redacted])")
    }
}

impl RefreshTokens {
    pub(crate) fn new(secret: &Secret) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC accepts keys of any length");
        mac.update(SUCCESSOR_KEY_LABEL);
        Self { successor_key: mac.finalize().into_bytes().to_vec() }
    }

    /// A fresh random token, the first of a session's chain.
    pub(crate) fn generate(&self) -> Result<RefreshToken, getrandom::Error> {
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw)?;
        Ok(RefreshToken(URL_SAFE_NO_PAD.encode(raw)))
    }

    /// The token that replaces `parent` when it is rotated. Deterministic by design (see module docs).
    pub(crate) fn successor(&self, parent: &RefreshToken) -> RefreshToken {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.successor_key).expect("HMAC accepts keys of any length");
        mac.update(parent.0.as_bytes());
        RefreshToken(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(key: &str) -> RefreshTokens {
        RefreshTokens::new(&key.parse().unwrap())
    }
    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = tokens(KEY).generate().unwrap();
        let b = tokens(KEY).generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(RefreshToken::parse(a.as_str()), Some(a));
    }

    #[test]
    fn successors_are_deterministic_well_formed_and_keyed() {
        let parent = tokens(KEY).generate().unwrap();
        let child = tokens(KEY).successor(&parent);
        assert_eq!(child, tokens(KEY).successor(&parent));
        assert_ne!(child, parent);
        assert!(RefreshToken::parse(child.as_str()).is_some());
        assert_ne!(child, tokens("another-key-another-key-another-key").successor(&parent));
    }

    #[test]
    fn malformed_tokens_are_rejected_before_storage() {
        for bad in ["", "short", "eyJhbGciOiJIUzI1NiJ9.e30.sig", &"a".repeat(44), &"!".repeat(43)] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hash_is_hex_sha256_and_never_the_token() {
        let token = tokens(KEY).generate().unwrap();
        let hash = token.hash();
        assert_eq!(hash.as_str().len(), 64);
        assert_ne!(hash.as_str(), token.as_str());
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing never panics, and only the issued shape gets through.
        #[test]
        fn parsing_any_string_accepts_exactly_the_issued_shape(value in ".{0,64}|[A-Za-z0-9_-]{43}") {
            let parsed = RefreshToken::parse(&value);
            let issued_shape = value.len() == ENCODED_LEN
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            proptest::prop_assert_eq!(parsed.is_some(), issued_shape);
        }
    }
}
