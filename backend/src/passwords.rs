//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound for tens of milliseconds, so it runs on the blocking pool, and semaphores bound
//! how many run at once: a flood queues instead of starving the async workers or memory. Logins and
//! sign-ups have separate budgets, so a flood of sign-ups can never make a login wait behind it: a login
//! waits at most for other logins.

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
    /// Verifications (logins).
    login_permits: Arc<Semaphore>,
    /// New hashes (sign-ups, the demo user).
    hash_permits: Arc<Semaphore>,
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
    /// `login_concurrency` verifications and `hash_concurrency` new hashes may run at once.
    pub(crate) async fn new(login_concurrency: usize, hash_concurrency: usize) -> Result<Self, PasswordError> {
        let dummy = tokio::task::spawn_blocking(|| hash_blocking(b"no account has this password")).await??;
        Ok(Self {
            login_permits: Arc::new(Semaphore::new(login_concurrency.max(1))),
            hash_permits: Arc::new(Semaphore::new(hash_concurrency.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self.hash_permits.acquire().await?;
        tokio::task::spawn_blocking(move || hash_blocking(password.as_bytes())).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so an
    /// unknown email and a wrong password take the same time.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, PasswordError> {
        let _permit = self.login_permits.acquire().await?;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The bound a login gets during a sign-up flood: it waits for no queued sign-up, only for the
    /// hashing already running. Stated as an order of completion, not a time, so a loaded machine
    /// cannot make it flaky: while the login's one hash runs, at most a few sign-up hashes can finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_up_flood_does_not_queue_ahead_of_a_login() {
        let passwords = Passwords::new(1, 1).await.unwrap();
        let stored = passwords.hash("right-password".into()).await.unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let (first_done, mut flood_started) = tokio::sync::mpsc::unbounded_channel();
        let flood: Vec<_> = (0..16)
            .map(|i| {
                let (passwords, finished, first_done) = (passwords.clone(), Arc::clone(&finished), first_done.clone());
                tokio::spawn(async move {
                    passwords.hash(format!("sign-up-{i}")).await.unwrap();
                    finished.fetch_add(1, Ordering::SeqCst);
                    let _ = first_done.send(());
                })
            })
            .collect();
        // Let the whole flood queue up: the first sign-up finishing means every one has been started.
        flood_started.recv().await;
        assert!(passwords.verify("right-password".into(), Some(stored)).await.unwrap());
        let before_login_finished = finished.load(Ordering::SeqCst);
        for task in flood {
            task.await.unwrap();
        }
        assert!(before_login_finished <= 4, "the login waited for {before_login_finished} of 16 sign-ups");
    }
}
