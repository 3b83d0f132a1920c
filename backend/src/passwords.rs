//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound for tens of milliseconds, so it runs on the blocking pool, and a semaphore
//! bounds how many run at once: a login flood queues instead of starving the async workers or memory.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Longest password accepted; longer ones are refused before any hashing (a cheap DoS otherwise).
pub(crate) const MAX_PASSWORD_CHARS: usize = 128;
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("password hashing pool closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

#[derive(Debug, Clone)]
pub(crate) struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so both failures cost the same time.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password, &salt).map(|h| h.to_string()).map_err(PasswordError::Hash)
}

impl Passwords {
    pub(crate) async fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let dummy = tokio::task::spawn_blocking(|| hash_blocking(b"no account has this password")).await??;
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash: dummy.into() })
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(move || hash_blocking(password.as_bytes())).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so an
    /// unknown email and a wrong password take the same time.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, PasswordError> {
        let _permit = self.permits.acquire().await?;
        let account_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = tokio::task::spawn_blocking(move || {
            // A stored hash that does not parse can never match; treat it as a wrong password.
            PasswordHash::new(&stored)
                .is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await?;
        Ok(matches && account_exists)
    }
}
