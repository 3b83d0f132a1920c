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

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::auth::error::AuthError;
use crate::auth::tokens::millis;
use crate::clock::{Clock, Millis};
use crate::store::{Reservation, Settlement, Store};

/// An address may fail this many times more than one account, since many users can share one; waiting
/// for attempts in progress keeps a crowd of honest users behind one address from being refused.
const IP_ALLOWANCE_FACTOR: u32 = 4;
/// How often a waiting attempt asks again, for settlements on other instances.
const POLL: Duration = Duration::from_millis(50);
/// A reservation outlives any request (`REQUEST_TIMEOUT` and then some); past it, one left by a
/// crashed process no longer counts.
const LEASE: Duration = Duration::from_secs(120);

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
}

/// The places a login attempt holds while its password is checked.
#[derive(Debug)]
#[must_use = "a reserved attempt must be settled"]
pub(crate) struct LoginSlots {
    account_key: String,
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
    pub(crate) fn new(login: Limit, register: Limit, queue_timeout: Duration) -> Self {
        Self { login, register, queue_timeout, settled: Arc::default() }
    }

    /// How far back a counter can still matter (for purging).
    pub(crate) fn longest_window_ms(&self) -> Millis {
        millis(self.login.window.max(self.register.window))
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
        self.begin(store, clock, format!("account:{email}"), ip).await
    }

    /// [`begin_login`](Self::begin_login) for a resource server authenticating to introspection: its
    /// secret is guessed like a password, so it is throttled like one.
    pub(crate) async fn begin_client_auth(
        &self,
        store: &Store,
        clock: &dyn Clock,
        client_id: &str,
        ip: IpAddr,
    ) -> Result<LoginSlots, AuthError> {
        self.begin(store, clock, format!("client:{client_id}"), ip).await
    }

    async fn begin(
        &self,
        store: &Store,
        clock: &dyn Clock,
        account_key: String,
        ip: IpAddr,
    ) -> Result<LoginSlots, AuthError> {
        let slots = LoginSlots { account_key, ip_key: format!("ip:{ip}") };
        let ip_max = self.login.max.saturating_mul(IP_ALLOWANCE_FACTOR);
        let give_up = tokio::time::Instant::now() + self.queue_timeout;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let now = clock.now();
            match self.reserve(store, &slots.account_key, self.login.max, now).await? {
                Reservation::Refused { window_started_at } => return Err(self.refused(window_started_at, now)),
                Reservation::Busy => {}
                Reservation::Reserved => match self.reserve(store, &slots.ip_key, ip_max, now).await {
                    Ok(Reservation::Reserved) => return Ok(slots),
                    Ok(Reservation::Refused { window_started_at }) => {
                        self.settle(store, &slots.account_key, Settlement::Returned).await?;
                        return Err(self.refused(window_started_at, now));
                    }
                    Ok(Reservation::Busy) => self.settle(store, &slots.account_key, Settlement::Returned).await?,
                    Err(error) => {
                        self.settle(store, &slots.account_key, Settlement::Returned).await?;
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
        let settled_account = self.settle(store, &slots.account_key, account).await;
        self.settle(store, &slots.ip_key, ip).await?;
        settled_account
    }

    /// Takes a sign-up slot for the address, or answers 429. Every sign-up counts: each one costs a hash.
    pub(crate) async fn begin_registration(&self, store: &Store, ip: IpAddr, now: Millis) -> Result<(), AuthError> {
        let window_ms = millis(self.register.window);
        let window = store.count_attempt(&format!("register:{ip}"), now, now - window_ms).await?;
        if window.attempts <= i64::from(self.register.max) {
            return Ok(());
        }
        Err(retry_after(window.window_started_at, window_ms, now))
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

/// 429 with the seconds until the window that began at `window_started_at` ends (at least one).
fn retry_after(window_started_at: Millis, window_ms: Millis, now: Millis) -> AuthError {
    let window_end = window_started_at.saturating_add(window_ms);
    let retry_after = u64::try_from((window_end - now + 999) / 1000).unwrap_or(1).max(1);
    AuthError::RateLimited { retry_after }
}
