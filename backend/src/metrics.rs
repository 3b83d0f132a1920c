//! Counters of this process, served at `/api/metrics` (tests and the demo read the refresh count there).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    logins: AtomicU64,
    refreshes: AtomicU64,
    grace_refreshes: AtomicU64,
    reuse_detected: AtomicU64,
}

impl Metrics {
    pub(crate) fn login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh(&self, from_grace: bool) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        if from_grace {
            self.grace_refreshes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn reuse(&self) {
        self.reuse_detected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> shared::ops::Metrics {
        shared::ops::Metrics {
            logins: self.logins.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            grace_refreshes: self.grace_refreshes.load(Ordering::Relaxed),
            reuse_detected: self.reuse_detected.load(Ordering::Relaxed),
        }
    }
}
