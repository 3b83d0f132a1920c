//! Throttling of password guessing and sign-ups.
//!
//! An attempt takes its slot *before* any password is hashed, with one atomic statement per key, so
//! however many requests arrive at once, on however many instances share the database, at most the
//! limit is evaluated per window. Everything past it gets 429, the right password included. A failed
//! login keeps its slot; a successful one clears the account's counter and gives its address slot back,
//! so successes never count against anyone.

use std::net::IpAddr;
use std::time::Duration;

use crate::auth::error::AuthError;
use crate::auth::tokens::millis;
use crate::clock::Millis;
use crate::store::{AttemptWindow, Store};

/// An address may fail this many times more than one account, since many users can share an address.
const IP_ALLOWANCE_FACTOR: u32 = 4;

/// At most `max` attempts per key in a fixed window of `window`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) max: u32,
    pub(crate) window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttle {
    /// Per account; an address gets `IP_ALLOWANCE_FACTOR` times as many.
    login: Limit,
    /// Per address.
    register: Limit,
}

/// The slots a login attempt holds while its password is checked.
#[derive(Debug)]
#[must_use = "a successful login must give its slots back"]
pub(crate) struct LoginSlots {
    account_key: String,
    ip_key: String,
    ip_window: AttemptWindow,
}

impl Throttle {
    pub(crate) fn new(login: Limit, register: Limit) -> Self {
        Self { login, register }
    }

    /// How far back a counter can still matter (for purging).
    pub(crate) fn longest_window_ms(&self) -> Millis {
        millis(self.login.window.max(self.register.window))
    }

    /// Takes a slot for the account and one for the address, or answers 429 without holding either.
    pub(crate) async fn begin_login(
        &self,
        store: &Store,
        email: &str,
        ip: IpAddr,
        now: Millis,
    ) -> Result<LoginSlots, AuthError> {
        let account_key = format!("account:{email}");
        let account = take(store, &account_key, self.login, 1, now).await?;
        let ip_key = format!("ip:{ip}");
        match take(store, &ip_key, self.login, IP_ALLOWANCE_FACTOR, now).await {
            Ok(ip_window) => Ok(LoginSlots { account_key, ip_key, ip_window }),
            Err(refused) => {
                store.uncount_attempt(&account_key, account).await?;
                Err(refused)
            }
        }
    }

    /// A right password: forgive the account's earlier failures and hand the address slot back.
    pub(crate) async fn login_succeeded(&self, store: &Store, slots: LoginSlots) -> Result<(), AuthError> {
        store.clear_attempts(&slots.account_key).await?;
        store.uncount_attempt(&slots.ip_key, slots.ip_window).await?;
        Ok(())
    }

    /// Takes a sign-up slot for the address, or answers 429. Every sign-up counts: each one costs a hash.
    pub(crate) async fn begin_registration(&self, store: &Store, ip: IpAddr, now: Millis) -> Result<(), AuthError> {
        take(store, &format!("register:{ip}"), self.register, 1, now).await.map(|_| ())
    }
}

/// Counts an attempt for `key`; past `limit.max * factor` in the window it is refused with the seconds
/// until the window ends (the count stays, which only matters until then).
async fn take(store: &Store, key: &str, limit: Limit, factor: u32, now: Millis) -> Result<AttemptWindow, AuthError> {
    let window_ms = millis(limit.window);
    let window = store.count_attempt(key, now, now - window_ms).await?;
    if window.attempts <= i64::from(limit.max.saturating_mul(factor)) {
        return Ok(window);
    }
    let window_end = window.window_started_at.saturating_add(window_ms);
    let retry_after = u64::try_from((window_end - now + 999) / 1000).unwrap_or(1).max(1);
    Err(AuthError::RateLimited { retry_after })
}
