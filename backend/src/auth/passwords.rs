//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound for tens of milliseconds, so it runs on small dedicated thread pools
//! (`pool.rs`), each worker reusing one memory block: a flood queues instead of starving the async
//! workers or growing memory. Logins and sign-ups have separate pools, so a flood of sign-ups can never
//! make a login wait behind it: a login waits at most for other logins.

mod pool;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use pool::HashPool;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing failed: {0}")]
    Argon2(argon2::Error),
    #[error("cannot start a hashing thread")]
    Thread(#[source] std::io::Error),
    #[error("password hashing pool closed")]
    Closed,
}

/// OWASP's argon2id cost: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid")
}

#[derive(Debug, Clone)]
pub(crate) struct Passwords {
    /// Verifications (logins).
    logins: HashPool,
    /// New hashes (sign-ups, the demo user).
    sign_ups: HashPool,
    /// Verified against when the email is unknown, so both failures cost the same time.
    dummy_hash: std::sync::Arc<str>,
}

impl Passwords {
    /// `login_workers` threads verify and `sign_up_workers` threads hash new passwords, each with its
    /// own reused 19 MiB.
    pub(crate) async fn new(login_workers: usize, sign_up_workers: usize) -> Result<Self, PasswordError> {
        let blocks = params().block_count();
        let sign_ups = HashPool::new("hash-sign-up", sign_up_workers, blocks)?;
        let logins = HashPool::new("hash-login", login_workers, blocks)?;
        let dummy = sign_ups.run(|memory| hash(b"no account has this password", memory)).await??;
        Ok(Self { logins, sign_ups, dummy_hash: dummy.into() })
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.sign_ups.run(move |memory| hash(password.as_bytes(), memory)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so an
    /// unknown email and a wrong password take the same time.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, PasswordError> {
        let account_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        // A stored hash that does not parse can never match; treat it as a wrong password.
        let matches =
            self.logins.run(move |memory| verify(password.as_bytes(), &stored, memory).unwrap_or(false)).await?;
        Ok(matches && account_exists)
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), as `PasswordHasher` writes it.
fn hash(password: &[u8], memory: &mut [Block]) -> Result<String, PasswordError> {
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(PasswordError::Hash)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        .map_err(PasswordError::Argon2)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(PasswordError::Hash)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(PasswordError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Recomputes `stored`'s hash of `password` with its own parameters and compares in constant time.
fn verify(password: &[u8], stored: &str, memory: &mut [Block]) -> Result<bool, PasswordError> {
    let stored = PasswordHash::new(stored).map_err(PasswordError::Hash)?;
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(PasswordError::Hash)?;
    let version = stored.version.map_or(Ok(Version::V0x13), Version::try_from).map_err(PasswordError::Argon2)?;
    let params = Params::try_from(&stored).map_err(PasswordError::Hash)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return Ok(false) };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(PasswordError::Hash)?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    // Hashes made with other parameters than ours may need more memory than a worker owns.
    let mut larger = Vec::new();
    let blocks = if params.block_count() <= memory.len() {
        memory
    } else {
        larger.resize(params.block_count(), Block::default());
        &mut larger[..]
    };
    argon2.hash_password_into_with_memory(password, salt_bytes, &mut out, blocks).map_err(PasswordError::Argon2)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(PasswordError::Hash)? == expected)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        let passwords = Passwords::new(1, 1).await.unwrap();
        let ours = passwords.hash("correct horse".into()).await.unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        // The reference implementation accepts ours, and we accept hashes it (or an older version of
        // this server) made, including with other parameters.
        assert!(reference.verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap()).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = reference.hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(passwords.verify("battery staple".into(), Some(theirs.clone())).await.unwrap());
        assert!(!passwords.verify("battery stapler".into(), Some(theirs)).await.unwrap());
        let heavier = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(32 * 1024, 1, 1, None).unwrap());
        let heavier = heavier.hash_password(b"x-password", &salt).unwrap().to_string();
        assert!(passwords.verify("x-password".into(), Some(heavier)).await.unwrap());
        assert!(!passwords.verify("anything".into(), Some("not a phc string".into())).await.unwrap());
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }

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
