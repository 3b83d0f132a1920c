//! Throttling of password guessing and sign-ups.
//!
//! A login *reserves* a place for its account and for its address before any password is hashed, with
//! one atomic statement per key, so however many requests arrive at once, on however many instances
//! share the database, failures plus attempts in progress never exceed the limit. Only a failure stays
//! counted: a wrong password turns its reservation into a failure, a right one gives its places back
//! (and forgives the account's failures).
//!
//! An attempt that finds the limit filled by attempts *still in progress* waits for their outcome
//! (woken at once by a settlement on this instance, re-asking every `POLL` for the others) instead of
//! being refused, so honest concurrent logins all go through, while N parallel wrong guesses still get
//! exactly the limit evaluated: the rest are refused once the failures are counted. An attempt waits at
//! most `LOGIN_QUEUE_TIMEOUT`, then gets 429. Sign-ups are counted, not reserved: each one costs a hash.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::auth::error::AuthError;
use crate::clock::{Clock, Millis, millis};
use crate::store::{Reservation, Settlement, Store};

/// An address may fail this many times more than one account, since many users can share one; waiting
/// for attempts in progress keeps a crowd of honest users behind one address from being refused.
const IP_ALLOWANCE_FACTOR: u32 = 4;
/// How often a waiting attempt asks again, for settlements on other instances.
const POLL: Duration = Duration::from_millis(50);
/// A reservation outlives any request (`REQUEST_TIMEOUT` and then some); past it, one left by a
/// crashed process no longer counts.
const LEASE: Duration = Duration::from_secs(120);

/// Password-reset requests an address may make per window: enough for a family behind one router.
const RESET_PER_ADDRESS: Limit = Limit { max: 10, window: Duration::from_secs(3600) };
/// Reset mails one account gets per window, however many addresses ask: a mailbox is not flooded.
const RESET_PER_ACCOUNT: Limit = Limit { max: 3, window: Duration::from_secs(3600) };

/// At most `max` attempts per key in a fixed window of `window`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) max: u32,
    pub(crate) window: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    /// Per account; an address gets `IP_ALLOWANCE_FACTOR` times as many.
    login: Limit,
    /// Per address.
    register: Limit,
    /// How long a login waits for attempts in progress before it is refused.
    queue_timeout: Duration,
    /// Woken by every settlement on this instance.
    settled: Arc<Notify>,
    /// Leading bits of an IPv6 address that name one client.
    ipv6_prefix: u8,
}

/// The name one client address goes by in per-address limits: an IPv4 address as it is (an IPv4-mapped
/// IPv6 address too), an IPv6 address by its first `ipv6_prefix` bits, since one IPv6 client holds a
/// whole prefix (a /64 at least: RFC 6177, and RFC 8981 has it pick new addresses in it at will).
pub(crate) fn address_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let bits = u32::from(ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                format!("{}/{bits}", Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// The places a login attempt holds while its password is checked.
#[derive(Debug)]
#[must_use = "a reserved attempt must be settled"]
pub(crate) struct LoginSlots {
    /// None for a client authentication, which is limited by address alone.
    account_key: Option<String>,
    ip_key: String,
}

/// What the password check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordCheck {
    Succeeded,
    /// Counted against the account and the address.
    Failed,
    /// Neither: the check could not be made (the server failed).
    Abandoned,
}

impl Throttle {
    pub(crate) fn new(login: Limit, register: Limit, queue_timeout: Duration, ipv6_prefix: u8) -> Self {
        Self { login, register, queue_timeout, settled: Arc::default(), ipv6_prefix }
    }

    fn address(&self, ip: IpAddr) -> String {
        address_key(ip, self.ipv6_prefix)
    }

    /// How far back a counter can still matter (for purging).
    pub(crate) fn longest_window_ms(&self) -> Millis {
        millis(self.login.window.max(self.register.window).max(RESET_PER_ADDRESS.window).max(RESET_PER_ACCOUNT.window))
    }

    /// Reserves a place for the account and one for the address, waiting while attempts in progress
    /// fill either; answers 429 without holding either once failures fill one, or after the queue
    /// timeout. A place is never held while waiting for the other, so waiters cannot block each other.
    pub(crate) async fn begin_login(
        &self,
        store: &Store,
        clock: &dyn Clock,
        email: &str,
        ip: IpAddr,
    ) -> Result<LoginSlots, AuthError> {
        let slots =
            LoginSlots { account_key: Some(format!("account:{email}")), ip_key: format!("ip:{}", self.address(ip)) };
        self.begin(store, clock, slots).await
    }

    /// [`begin_login`](Self::begin_login) for a resource server authenticating to introspection: its
    /// secret is guessed like a password, so failures count against the address that sent them, and
    /// never against the client id, which is not secret: other addresses' failures cannot lock a client
    /// with the right secret out.
    pub(crate) async fn begin_client_auth(
        &self,
        store: &Store,
        clock: &dyn Clock,
        ip: IpAddr,
    ) -> Result<LoginSlots, AuthError> {
        let slots = LoginSlots { account_key: None, ip_key: format!("client-ip:{}", self.address(ip)) };
        self.begin(store, clock, slots).await
    }

    async fn begin(&self, store: &Store, clock: &dyn Clock, slots: LoginSlots) -> Result<LoginSlots, AuthError> {
        let ip_max = self.login.max.saturating_mul(IP_ALLOWANCE_FACTOR);
        let give_up = tokio::time::Instant::now() + self.queue_timeout;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let now = clock.now();
            let account = match &slots.account_key {
                Some(key) => self.reserve(store, key, self.login.max, now).await?,
                None => Reservation::Reserved,
            };
            match account {
                Reservation::Refused { window_started_at } => return Err(self.refused(window_started_at, now)),
                Reservation::Busy => {}
                Reservation::Reserved => match self.reserve(store, &slots.ip_key, ip_max, now).await {
                    Ok(Reservation::Reserved) => return Ok(slots),
                    Ok(Reservation::Refused { window_started_at }) => {
                        self.give_back_account(store, &slots).await?;
                        return Err(self.refused(window_started_at, now));
                    }
                    Ok(Reservation::Busy) => self.give_back_account(store, &slots).await?,
                    Err(error) => {
                        self.give_back_account(store, &slots).await?;
                        return Err(error);
                    }
                },
            }
            if tokio::time::Instant::now() >= give_up {
                tracing::warn!("a login waited the whole queue timeout for attempts in progress");
                return Err(AuthError::RateLimited { retry_after: 1 });
            }
            let _ = tokio::time::timeout(POLL, settled).await;
        }
    }

    /// Settles both places: a failure counts against both, a success clears the account's failures
    /// and gives the address its place back, an abandoned attempt counts nothing.
    pub(crate) async fn end_login(
        &self,
        store: &Store,
        slots: LoginSlots,
        outcome: PasswordCheck,
    ) -> Result<(), AuthError> {
        let (account, ip) = match outcome {
            PasswordCheck::Succeeded => (Settlement::Cleared, Settlement::Returned),
            PasswordCheck::Failed => (Settlement::Failed, Settlement::Failed),
            PasswordCheck::Abandoned => (Settlement::Returned, Settlement::Returned),
        };
        let settled_account = match &slots.account_key {
            Some(key) => self.settle(store, key, account).await,
            None => Ok(()),
        };
        self.settle(store, &slots.ip_key, ip).await?;
        settled_account
    }

    async fn give_back_account(&self, store: &Store, slots: &LoginSlots) -> Result<(), AuthError> {
        match &slots.account_key {
            Some(key) => self.settle(store, key, Settlement::Returned).await,
            None => Ok(()),
        }
    }

    /// Takes a sign-up slot for the address, or answers 429. Every sign-up counts: each one costs a hash.
    pub(crate) async fn begin_registration(&self, store: &Store, ip: IpAddr, now: Millis) -> Result<(), AuthError> {
        within(store, &format!("register:{}", self.address(ip)), self.register, now).await
    }

    /// Counts a password-reset request from the address, or answers 429 (which says nothing about any
    /// account).
    pub(crate) async fn begin_reset_request(&self, store: &Store, ip: IpAddr, now: Millis) -> Result<(), AuthError> {
        let key = format!("reset-ip:{}", self.address(ip));
        within(store, &key, RESET_PER_ADDRESS, now).await
    }

    /// Counts a reset mail to the account `user_id`; refused past the account's share.
    pub(crate) async fn begin_reset_mail(&self, store: &Store, user_id: &str, now: Millis) -> Result<(), AuthError> {
        within(store, &format!("reset-account:{user_id}"), RESET_PER_ACCOUNT, now).await
    }

    async fn reserve(&self, store: &Store, key: &str, max: u32, now: Millis) -> Result<Reservation, AuthError> {
        let window_ms = millis(self.login.window);
        Ok(store.reserve_attempt(key, now, now - window_ms, i64::from(max), now + millis(LEASE)).await?)
    }

    async fn settle(&self, store: &Store, key: &str, settlement: Settlement) -> Result<(), AuthError> {
        let settled = store.settle_attempt(key, settlement).await;
        self.settled.notify_waiters();
        Ok(settled?)
    }

    fn refused(&self, window_started_at: Millis, now: Millis) -> AuthError {
        retry_after(window_started_at, millis(self.login.window), now)
    }
}

/// Counts one attempt at `key`: fine while the window holds at most `limit.max`, else 429.
async fn within(store: &Store, key: &str, limit: Limit, now: Millis) -> Result<(), AuthError> {
    let window_ms = millis(limit.window);
    let window = store.count_attempt(key, now, now - window_ms).await?;
    if window.attempts <= i64::from(limit.max) {
        return Ok(());
    }
    Err(retry_after(window.window_started_at, window_ms, now))
}

/// 429 with the seconds until the window that began at `window_started_at` ends (at least one).
fn retry_after(window_started_at: Millis, window_ms: Millis, now: Millis) -> AuthError {
    let window_end = window_started_at.saturating_add(window_ms);
    let retry_after = u64::try_from((window_end - now + 999) / 1000).unwrap_or(1).max(1);
    AuthError::RateLimited { retry_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_prefix_and_ipv4_is_itself() {
        let key = |ip: &str, prefix| address_key(ip.parse().unwrap(), prefix);
        assert_eq!(key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb:cccc:dddd:eeee", 64), key("2001:db8:1:2::9", 64));
        assert_ne!(key("2001:db8:1:3::1", 64), key("2001:db8:1:2::1", 64));
        assert_eq!(key("2001:db8:1:2::1", 128), "2001:db8:1:2::1/128");
        assert_eq!(key("2001:db8:ffff::1", 48), "2001:db8:ffff::/48");
        assert_eq!(key("192.0.2.7", 64), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7", 64), "192.0.2.7", "an IPv4-mapped address is its IPv4 address");
    }
}
