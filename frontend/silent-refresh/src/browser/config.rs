//! The settings only a browser has: the Web Lock, the storage key and the idle policy. They live here,
//! not in the core [`Config`](crate::Config), because a native or server-side client has none of them.

use std::time::Duration;

use crate::protocol::Protocol;
use crate::{ClientBuilder, Config, RefreshClient};

use super::{BroadcastStore, BrowserClock, Driver, FetchTransport, LocalStorageStore, WebLock};

/// The browser's settings, given once to build the client ([`BrowserConfig::client`],
/// [`BrowserConfig::cookie_client`]) and to drive it ([`BrowserConfig::start_driver`], or
/// [`provide_refresh_client_with`](crate::leptos::provide_refresh_client_with)), so the driver listens
/// on the key the store writes.
///
/// ```
/// use std::time::Duration;
/// use silent_refresh::browser::{BrowserConfig, IdlePolicy};
///
/// let browser = BrowserConfig::default()
///     .storage_key("my-app.session")
///     .idle(IdlePolicy { after: Duration::from_secs(900), warning: Duration::from_secs(60) });
/// assert_eq!(browser.lock_name, "silent-refresh.refresh");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BrowserConfig {
    /// The Web Lock's name; every tab of an app must agree. Default `silent-refresh.refresh`.
    pub lock_name: String,
    /// How long a tab waits for another tab's refresh before going on without the lock. Default 10 s.
    pub lock_timeout: Duration,
    /// The `localStorage` key (or `BroadcastChannel` name, in cookie mode) of the session. Default
    /// `silent-refresh.session`.
    pub storage_key: String,
    /// Ending a session nobody uses. Default `None`: off.
    pub idle: Option<IdlePolicy>,
}

/// The driver's idle policy: after `after` with no user input (or with the page hidden), it stops
/// refreshing ahead of expiry and emits [`ClientEvent::SessionEndingSoon`](crate::ClientEvent);
/// `warning` later, still without input, it logs the user out. Input meanwhile cancels it
/// ([`ClientEvent::IdleWarningCleared`](crate::ClientEvent)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// Quiet time before the warning.
    pub after: Duration,
    /// Time between the warning and the logout.
    pub warning: Duration,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            lock_name: "silent-refresh.refresh".into(),
            lock_timeout: Duration::from_secs(10),
            storage_key: "silent-refresh.session".into(),
            idle: None,
        }
    }
}

impl BrowserConfig {
    /// See [`BrowserConfig::lock_name`] and [`BrowserConfig::lock_timeout`].
    #[must_use]
    pub fn lock(mut self, name: impl Into<String>, timeout: Duration) -> Self {
        self.lock_name = name.into();
        self.lock_timeout = timeout;
        self
    }

    /// See [`BrowserConfig::storage_key`].
    #[must_use]
    pub fn storage_key(mut self, key: impl Into<String>) -> Self {
        self.storage_key = key.into();
        self
    }

    /// See [`BrowserConfig::idle`].
    #[must_use]
    pub fn idle(mut self, policy: IdlePolicy) -> Self {
        self.idle = Some(policy);
        self
    }

    /// The lock these settings name.
    pub fn web_lock(&self) -> WebLock {
        WebLock::new(&self.lock_name, u32::try_from(self.lock_timeout.as_millis()).unwrap_or(u32::MAX))
    }

    /// A client for the API at `base_url` (`""` for the page's own origin), with the session in
    /// `localStorage` under [`storage_key`](Self::storage_key) and refreshes serialised by the Web Lock.
    /// For an API on another site, whose refresh token must travel in the body.
    pub fn client<P: Protocol + 'static>(&self, protocol: P, base_url: &str, config: Config) -> RefreshClient<P> {
        let store = LocalStorageStore::new(&self.storage_key);
        RefreshClient::new(protocol, FetchTransport::new(base_url), store, BrowserClock, self.web_lock(), config)
    }

    /// A client for a protocol whose refresh token is an `HttpOnly` cookie (such as
    /// [`EnvelopeProtocol::cookie_delivery`](crate::EnvelopeProtocol::cookie_delivery)): the session
    /// lives in memory only, shared between tabs over a `BroadcastChannel` named
    /// [`storage_key`](Self::storage_key), and requests carry cookies (also to an API on another origin
    /// of the same site).
    pub fn cookie_client<P: Protocol + 'static>(
        &self,
        protocol: P,
        base_url: &str,
        config: Config,
    ) -> RefreshClient<P> {
        self.cookie_client_builder(protocol, base_url).config(config).build()
    }

    /// What [`cookie_client`](Self::cookie_client) builds, as a builder still open for more (a DPoP
    /// signer, say).
    pub fn cookie_client_builder<P: Protocol + 'static>(&self, protocol: P, base_url: &str) -> ClientBuilder<P> {
        let transport = FetchTransport::new(base_url).include_credentials();
        RefreshClient::builder(protocol, transport, BrowserClock)
            .store(BroadcastStore::new(&self.storage_key))
            .lock(self.web_lock())
    }

    /// Starts a [`Driver`] for `client` with this idle policy, listening for other tabs' changes
    /// under this storage key.
    pub fn start_driver<P: Protocol + 'static>(
        &self,
        client: RefreshClient<P>,
        tick: Duration,
        on_change: impl Fn() + 'static,
    ) -> Driver {
        Driver::start_with(client, self, tick, on_change)
    }
}
