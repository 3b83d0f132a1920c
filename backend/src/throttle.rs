//! Login throttling: after too many failures in a window, an account (or an IP) gets 429 until the
//! window ends. Only failures count, so successful logins are never throttled. Counters live in the
//! database, so every instance sharing it enforces the same limit.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::{Store, StoreError};
use crate::tokens::{Millis, millis};

/// An IP may fail this many times more than one account, since many users can share an address.
const IP_ALLOWANCE_FACTOR: u32 = 4;

#[derive(Debug, Clone)]
pub(crate) struct LoginThrottle {
    max_failures: u32,
    window: Duration,
}

impl LoginThrottle {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Self { max_failures, window }
    }

    pub(crate) fn window_ms(&self) -> Millis {
        millis(self.window)
    }

    fn keys(email: &str, ip: IpAddr) -> [(String, u32); 2] {
        [(format!("account:{email}"), 1), (format!("ip:{ip}"), IP_ALLOWANCE_FACTOR)]
    }

    /// Seconds until the caller may try again, or `None` when not throttled.
    pub(crate) async fn retry_after(
        &self,
        store: &Store,
        email: &str,
        ip: IpAddr,
        now: Millis,
    ) -> Result<Option<u64>, StoreError> {
        let mut wait = None;
        for (key, factor) in Self::keys(email, ip) {
            let Some(window) = store.login_failures(&key).await? else { continue };
            let window_end = window.window_started_at.saturating_add(self.window_ms());
            let limit = i64::from(self.max_failures.saturating_mul(factor));
            if window.failures >= limit && window_end > now {
                let seconds = u64::try_from((window_end - now + 999) / 1000).unwrap_or(1).max(1);
                wait = wait.max(Some(seconds));
            }
        }
        Ok(wait)
    }

    pub(crate) async fn record_failure(
        &self,
        store: &Store,
        email: &str,
        ip: IpAddr,
        now: Millis,
    ) -> Result<(), StoreError> {
        for (key, _) in Self::keys(email, ip) {
            store.record_login_failure(&key, now, now - self.window_ms()).await?;
        }
        Ok(())
    }

    /// A successful login forgives the account's earlier failures (not the IP's).
    pub(crate) async fn record_success(&self, store: &Store, email: &str) -> Result<(), StoreError> {
        store.clear_login_failures(&format!("account:{email}")).await
    }
}
