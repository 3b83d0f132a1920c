//! The signing keys (EdDSA, ES256 or RS256; `key_material.rs` makes and reads them): which one signs now, which ones a token may name, and what the JWKS
//! publishes. Keys live in the database (`store/signing_keys.rs`), so every instance shares them; each
//! instance reloads them on a timer, and at once when a token names a key it does not know yet.
//!
//! Lifecycle: `backend keys rotate` adds a key that starts signing after `KEY_ACTIVATION_DELAY` (it is
//! published at once, so verifiers' caches have it before any token uses it), and gives the keys
//! before it an end: the successor's start plus one access-token lifetime and the leeway, after which
//! nothing they signed is still valid. Until then they stay published and accepted.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::key_material::{self, Key, KeyAlgorithm, MaterialError};
use super::key_schedule::{activation_before, at_once, first_gap, row_times, signer};
use crate::clock::Millis;
use crate::metrics::Metrics;
use crate::store::{KeyRow, Store, StoreError};

/// A token naming an unknown key makes the ring ask the database again, at most this often.
const RELOAD_ON_MISS_MS: i64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the signing keys")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Material(#[from] MaterialError),
    #[error("no signing key is active yet")]
    NoneActive,
}

/// The keys this instance knows, shared by its clones.
#[derive(Debug, Clone)]
pub(crate) struct KeyRing {
    keys: Arc<RwLock<Vec<Arc<Key>>>>,
    store: Store,
    metrics: Arc<Metrics>,
    /// When the last reload *started*, so a failed reload counts against the interval too.
    last_reload: Arc<AtomicI64>,
    /// Held for a reload and for the check before it: one reload at a time, and a token that names an
    /// unknown key during a reload waits for that reload instead of starting another.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// What a key this instance adds to close a gap is made with.
    policy: KeyPolicy,
}

/// The servers' own key settings, for the keys an instance adds itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPolicy {
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) activation_delay_ms: Millis,
}

/// Makes sure some key signs at every instant from `now` on: when the keys in the database leave a
/// gap (the last signers all retire, as after the revocation of a rotation's standby key, or two
/// commands raced), adds a key that starts signing before the gap opens. The check is repeated inside
/// the write, so instances repairing at once add one key, not one each. Returns the new key's kid.
pub(crate) async fn close_gap(store: &Store, policy: KeyPolicy, now: Millis) -> Result<Option<String>, KeyError> {
    let rows = store.signing_keys(now).await?;
    let Some(gap) = first_gap(&rows, now, row_times) else { return Ok(None) };
    let key = key_material::generate(policy.algorithm, now, activation_before(gap, now, policy.activation_delay_ms))?;
    let kid = key.kid.clone();
    let added = store.add_signing_key_if(key, move |rows| first_gap(rows, now, row_times).is_some()).await?;
    if added {
        tracing::warn!(%kid, gap_at = gap, "the signing keys left a gap; added a key to close it");
    }
    Ok(added.then_some(kid))
}

/// The key `row` holds: the one already held when the row has not changed, so a reload that changes
/// nothing keeps every key (and what was verified with it); a new key otherwise.
fn reread(held: &[Arc<Key>], row: &KeyRow) -> Result<Arc<Key>, KeyError> {
    match held.iter().find(|key| key.is_row(row)) {
        Some(key) => Ok(Arc::clone(key)),
        None => Ok(Arc::new(Key::from_row(row)?)),
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one (active at once) on a first start, and closing any gap in
    /// the ring.
    pub(crate) async fn load(
        store: Store,
        metrics: Arc<Metrics>,
        policy: KeyPolicy,
        now: Millis,
    ) -> Result<Self, KeyError> {
        let rows = store.signing_keys(now).await?;
        if rows.is_empty() {
            store.add_signing_key(key_material::generate(policy.algorithm, now, at_once(now))?, true).await?;
        } else if let Some(earliest) = rows.first().filter(|_| rows.iter().all(|r| r.activates_at > now)) {
            // Only keys standing by (a rotation ran before the first start): there is nothing to overlap
            // with, so the earliest signs now rather than leaving the servers without a key.
            store.activate_signing_key(&earliest.kid, at_once(now)).await?;
        }
        let ring = Self {
            keys: Arc::default(),
            store,
            metrics,
            last_reload: Arc::new(AtomicI64::new(0)),
            reloading: Arc::default(),
            policy,
        };
        ring.reload(now).await?;
        Ok(ring)
    }

    /// Reads the keys again (another instance, or `backend keys rotate`, may have added one), and
    /// repairs a ring that would leave some future instant without a signer.
    pub(crate) async fn reload(&self, now: Millis) -> Result<(), KeyError> {
        let _turn = self.reloading.lock().await;
        self.read_keys(now).await?;
        let gap = {
            let keys = self.keys.read().map_err(|_| KeyError::NoneActive)?;
            first_gap(&keys, now, |k| (k.activates_at, k.retires_at, &k.kid))
        };
        if gap.is_some() && close_gap(&self.store, self.policy, now).await?.is_some() {
            self.read_keys(now).await?;
        }
        Ok(())
    }

    /// The key that signs at `now`; when there is none, the ring is read (and repaired) at once rather
    /// than at the next reload, so a gap costs one slow answer, not an outage.
    pub(crate) async fn current_signer(&self, now: Millis) -> Result<Arc<Key>, KeyError> {
        match self.signing_key(now) {
            Ok(key) => Ok(key),
            Err(_) => {
                self.reload(now).await?;
                self.signing_key(now)
            }
        }
    }

    /// One read of the key table; the caller holds `reloading`.
    async fn read_keys(&self, now: Millis) -> Result<(), KeyError> {
        self.last_reload.store(now, Ordering::SeqCst);
        let held = self.keys.read().map(|keys| keys.clone()).unwrap_or_default();
        let read = async {
            let rows = self.store.signing_keys(now).await?;
            rows.iter().map(|row| reread(&held, row)).collect::<Result<Vec<_>, _>>()
        };
        let result = read.await;
        self.metrics.key_reload(result.is_ok());
        if let (Ok(keys), Ok(mut held)) = (&result, self.keys.write()) {
            *held = keys.clone();
        }
        result.map(|_| ())
    }

    /// The key that signs at `now`: the one that activated last (ties broken by `kid`, so every
    /// instance picks the same).
    pub(crate) fn signing_key(&self, now: Millis) -> Result<Arc<Key>, KeyError> {
        let keys = self.keys.read().map_err(|_| KeyError::NoneActive)?;
        signer(keys.iter(), now, |k| (k.activates_at, k.retires_at, &k.kid)).cloned().ok_or(KeyError::NoneActive)
    }

    /// The key a token names, if it is ours and still valid; asks the database again (rate-limited)
    /// before saying no. Never a key or URL the token brings with it.
    pub(crate) async fn verifying_key(&self, kid: &str, now: Millis) -> Option<Arc<Key>> {
        if let Some(key) = self.find(kid, now) {
            return Some(key);
        }
        let _turn = self.reloading.lock().await;
        // A reload that finished while this caller waited may have brought the key.
        if let Some(key) = self.find(kid, now) {
            return Some(key);
        }
        if now - self.last_reload.load(Ordering::SeqCst) < RELOAD_ON_MISS_MS {
            return None;
        }
        if let Err(error) = self.read_keys(now).await {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "cannot reload the signing keys");
        }
        self.find(kid, now)
    }

    /// Whether `key` itself is still in the ring and valid at `now`: false once it is revoked or retired,
    /// or a reload found its row changed in any way (`reread`).
    pub(crate) fn holds(&self, key: &Arc<Key>, now: Millis) -> bool {
        self.find(&key.kid, now).is_some_and(|held| Arc::ptr_eq(&held, key))
    }

    fn find(&self, kid: &str, now: Millis) -> Option<Arc<Key>> {
        let keys = self.keys.read().ok()?;
        keys.iter().find(|k| k.kid == kid && k.valid_at(now)).cloned()
    }

    /// The JWKS document (RFC 7517): every key that is standing by, signing, or retired but still valid.
    pub(crate) fn jwks(&self, now: Millis) -> serde_json::Value {
        let keys = self.keys.read().map(|keys| keys.clone()).unwrap_or_default();
        let keys: Vec<_> = keys.iter().filter(|k| k.valid_at(now)).map(|k| k.jwk()).collect();
        serde_json::json!({ "keys": keys })
    }

    /// The algorithms of the keys a token may name now, each once.
    pub(crate) fn algorithms(&self, now: Millis) -> Vec<KeyAlgorithm> {
        let keys = self.keys.read().map(|keys| keys.clone()).unwrap_or_default();
        KeyAlgorithm::ALL
            .into_iter()
            .filter(|alg| keys.iter().any(|k| k.valid_at(now) && k.algorithm == *alg))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_keeps_an_unchanged_key_and_makes_a_changed_one_anew() {
        let row = key_material::generate(KeyAlgorithm::EdDsa, 0, 0).unwrap();
        let held = vec![Arc::new(Key::from_row(&row).unwrap())];
        assert!(Arc::ptr_eq(&reread(&held, &row).unwrap(), &held[0]), "unchanged: the same key");

        let revoked = KeyRow { retires_at: Some(5), ..row.clone() };
        let reread_revoked = reread(&held, &revoked).unwrap();
        assert!(!Arc::ptr_eq(&reread_revoked, &held[0]), "a revocation makes a new key");
        assert_eq!(reread_revoked.retires_at, Some(5));
        let moved = KeyRow { activates_at: 7, ..row.clone() };
        assert!(!Arc::ptr_eq(&reread(&held, &moved).unwrap(), &held[0]));
        let other = key_material::generate(KeyAlgorithm::EdDsa, 0, 0).unwrap();
        let substituted = KeyRow { kid: row.kid.clone(), ..other };
        assert!(!Arc::ptr_eq(&reread(&held, &substituted).unwrap(), &held[0]), "another key pair under the same kid");
    }
}
