//! Recently confirmed live sessions, so the check behind every authenticated request is usually a
//! map lookup instead of a query. An entry lives for the TTL (1 s by default). Every revocation made
//! through this store evicts at once, so on the instance that revoked, revocation is immediate; other
//! instances sharing the database notice within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Millis;

use super::UserRecord;

/// Beyond this many sessions the cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub(super) struct SessionCache {
    ttl_ms: Millis,
    /// Bumped by every revocation. A lookup that started before one may not fill the cache, since
    /// what it read from the database may already be stale.
    epoch: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    user: UserRecord,
    /// The TTL's end, or the session's expiry when that comes first: a cached answer never outlives
    /// the session.
    valid_until: Millis,
}

impl SessionCache {
    pub(super) fn new(ttl_ms: Millis) -> Self {
        Self { ttl_ms, epoch: AtomicU64::new(0), entries: Mutex::new(HashMap::new()) }
    }

    pub(super) fn get(&self, session_id: &str, user_id: &str, now: Millis) -> Option<UserRecord> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(session_id)?;
        (entry.user.id == user_id && now < entry.valid_until).then(|| entry.user.clone())
    }

    /// What [`put`](Self::put) must be given: the epoch before the database was asked.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub(super) fn put(&self, epoch: u64, session_id: &str, user: UserRecord, now: Millis, expires_at: Millis) {
        if self.ttl_ms <= 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        // Checked under the lock, which every revocation also takes after bumping the epoch.
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let valid_until = now.saturating_add(self.ttl_ms).min(expires_at);
        entries.insert(session_id.to_owned(), Entry { user, valid_until });
    }

    /// Forgets one session.
    pub(super) fn evict(&self, session_id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(session_id);
        }
    }

    /// Forgets every session of a user.
    pub(super) fn evict_user(&self, user_id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, entry| entry.user.id != user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            username: "u".into(),
            email: "e".into(),
            password_hash: String::new(),
            role: "user".into(),
            created_at: 0,
        }
    }

    #[test]
    fn entries_expire_and_belong_to_their_user() {
        let cache = SessionCache::new(1000);
        cache.put(cache.epoch(), "s1", user("u1"), 10_000, i64::MAX);
        assert!(cache.get("s1", "u1", 10_999).is_some());
        assert!(cache.get("s1", "u1", 11_000).is_none(), "past the TTL");
        assert!(cache.get("s1", "u2", 10_500).is_none(), "another user's token naming this session");
        cache.put(cache.epoch(), "s2", user("u1"), 10_000, 10_400);
        assert!(cache.get("s2", "u1", 10_399).is_some());
        assert!(cache.get("s2", "u1", 10_400).is_none(), "the session expired within the TTL");
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_does_not_fill_the_cache() {
        let cache = SessionCache::new(1000);
        let before = cache.epoch();
        cache.evict("s1"); // revoked while the lookup's query was running
        cache.put(before, "s1", user("u1"), 0, i64::MAX);
        assert!(cache.get("s1", "u1", 1).is_none());
    }

    #[test]
    fn revocations_evict_at_once() {
        let cache = SessionCache::new(1000);
        for session in ["s1", "s2"] {
            cache.put(cache.epoch(), session, user("u1"), 0, i64::MAX);
        }
        cache.put(cache.epoch(), "s3", user("u2"), 0, i64::MAX);
        cache.evict("s1");
        assert!(cache.get("s1", "u1", 1).is_none());
        cache.evict_user("u1");
        assert!(cache.get("s2", "u1", 1).is_none());
        assert!(cache.get("s3", "u2", 1).is_some());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = SessionCache::new(0);
        cache.put(cache.epoch(), "s1", user("u1"), 0, i64::MAX);
        assert!(cache.get("s1", "u1", 0).is_none());
    }
}
