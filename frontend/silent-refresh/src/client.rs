//! [`RefreshClient`]: one refresh for any number of 401s, replay at most once, no hangs, no false
//! logouts, and a session that a logout or a newer login always wins.

mod refresh;
mod state;
mod wire;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ClientError, TransportError};
use crate::events::{ClientEvent, Counters, LogoutReason, RefreshReason};
use crate::http::{Request, Response};
use crate::ports::{Clock, DynLock, DynTransport, RefreshLock, TokenStore, Transport};
use crate::protocol::{Protocol, RefreshOutcome};
use crate::session::Session;
use refresh::{Backoff, InFlight};
use state::{InFlightRequest, Unsaved};
pub(crate) use wire::Credential;

type Listener = Rc<dyn Fn(&ClientEvent)>;

/// The refresh-aware HTTP client for a server that speaks [`Protocol`] `P`. The ports (transport,
/// token store, clock, lock) are chosen when it is built and held behind pointers, so `P` is the only
/// type a user names. Cheap to clone; clones share one state (one refresh in flight per tab).
pub struct RefreshClient<P: Protocol> {
    inner: Rc<Inner<P>>,
}

impl<P: Protocol> Clone for RefreshClient<P> {
    fn clone(&self) -> Self {
        Self { inner: Rc::clone(&self.inner) }
    }
}

impl<P: Protocol> std::fmt::Debug for RefreshClient<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshClient").field("counters", &self.inner.counters.get()).finish_non_exhaustive()
    }
}

struct Inner<P: Protocol> {
    protocol: P,
    transport: Box<dyn DynTransport>,
    store: Box<dyn TokenStore<P::User>>,
    clock: Box<dyn Clock>,
    lock: Box<dyn DynLock>,
    config: Config,
    listeners: RefCell<Vec<Listener>>,
    counters: Cell<Counters>,
    in_flight: RefCell<Option<InFlight<P::User>>>,
    backoff: Cell<Backoff>,
    /// A session storage refused to take. Kept here, and offered to storage again at every use, so a
    /// rotated refresh token is never lost: presenting its retired parent later would count as reuse.
    unsaved: RefCell<Option<Unsaved<P::User>>>,
    /// The access token the server last answered 401 for: known stale, so never sent again.
    rejected_access: RefCell<Option<String>>,
    /// The number of the last request sent.
    last_request_id: Cell<u64>,
    /// The DPoP key and nonce, when the client sends proofs.
    #[cfg(feature = "dpop")]
    dpop: Option<crate::dpop::Dpop>,
}

/// Builds a [`RefreshClient`]: the protocol, transport and clock are required; the rest have defaults.
///
/// | port | default |
/// |---|---|
/// | token store | [`MemoryStore`](crate::MemoryStore): this process's memory only |
/// | lock | [`NoLock`](crate::NoLock): granted at once (one client alone) |
/// | config | [`Config::default`] |
#[must_use = "a builder does nothing until `build`"]
pub struct ClientBuilder<P: Protocol> {
    protocol: P,
    transport: Box<dyn DynTransport>,
    clock: Box<dyn Clock>,
    store: Option<Box<dyn TokenStore<P::User>>>,
    lock: Box<dyn DynLock>,
    config: Config,
    #[cfg(feature = "dpop")]
    dpop: Option<crate::dpop::Dpop>,
}

impl<P: Protocol> std::fmt::Debug for ClientBuilder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<P: Protocol + 'static> ClientBuilder<P>
where
    P::User: Clone + 'static,
{
    /// Where the session is kept.
    pub fn store(mut self, store: impl TokenStore<P::User> + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// What serialises refreshes, logins and logouts with other clients sharing the store.
    pub fn lock<L: RefreshLock + 'static>(mut self, lock: L) -> Self
    where
        L::Guard: 'static,
    {
        self.lock = Box::new(lock);
        self
    }

    /// The settings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sends a DPoP proof (RFC 9449) signed by `signer` with every request; a relative path is taken
    /// under `base_url` for the proof's `htu` (the page's origin in a browser). The server binds the
    /// session to the key at login; a token it answers with `token_type: DPoP` then goes out only with
    /// the `DPoP` scheme and a proof.
    #[cfg(feature = "dpop")]
    pub fn dpop(mut self, signer: impl crate::dpop::DpopSigner + 'static, base_url: impl Into<String>) -> Self {
        self.dpop = Some(crate::dpop::Dpop::new(Box::new(signer), &base_url.into()));
        self
    }

    /// The client.
    pub fn build(self) -> RefreshClient<P> {
        let store = self.store.unwrap_or_else(|| Box::new(crate::ports::MemoryStore::<P::User>::new()));
        RefreshClient {
            inner: Rc::new(Inner {
                protocol: self.protocol,
                transport: self.transport,
                store,
                clock: self.clock,
                lock: self.lock,
                config: self.config,
                listeners: RefCell::new(Vec::new()),
                counters: Cell::new(Counters::default()),
                in_flight: RefCell::new(None),
                backoff: Cell::new(Backoff::default()),
                unsaved: RefCell::new(None),
                rejected_access: RefCell::new(None),
                last_request_id: Cell::new(0),
                #[cfg(feature = "dpop")]
                dpop: self.dpop,
            }),
        }
    }
}

impl<P: Protocol + 'static> RefreshClient<P>
where
    P::User: Clone + 'static,
{
    /// Starts building a client for `protocol` that sends through `transport` and reads time from
    /// `clock`.
    pub fn builder(protocol: P, transport: impl Transport + 'static, clock: impl Clock + 'static) -> ClientBuilder<P> {
        ClientBuilder {
            protocol,
            transport: Box::new(transport),
            clock: Box::new(clock),
            store: None,
            lock: Box::new(crate::ports::NoLock),
            config: Config::default(),
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

    /// A client with every port given: the same as the [builder](Self::builder) with all of them set.
    pub fn new<L: RefreshLock + 'static>(
        protocol: P,
        transport: impl Transport + 'static,
        store: impl TokenStore<P::User> + 'static,
        clock: impl Clock + 'static,
        lock: L,
        config: Config,
    ) -> Self
    where
        L::Guard: 'static,
    {
        Self::builder(protocol, transport, clock).store(store).lock(lock).config(config).build()
    }
}

impl<P: Protocol + 'static> RefreshClient<P> {
    /// Calls `listener` for every event, in order.
    pub fn subscribe(&self, listener: impl Fn(&ClientEvent) + 'static) {
        self.inner.listeners.borrow_mut().push(Rc::new(listener));
    }

    /// Running totals.
    pub fn counters(&self) -> Counters {
        self.inner.counters.get()
    }

    /// The settings this client runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The RFC 7638 thumbprint of the client's DPoP key (what a bound token's `cnf.jkt` names), when
    /// the client sends proofs.
    #[cfg(feature = "dpop")]
    pub fn dpop_thumbprint(&self) -> Option<String> {
        self.inner.dpop.as_ref().map(crate::dpop::Dpop::thumbprint)
    }

    /// The token store, for an app that needs to look at or change the stored session itself.
    pub fn store(&self) -> &dyn TokenStore<P::User> {
        self.inner.store.as_ref()
    }

    /// When the proactive refresh is due, if logged in.
    pub fn next_refresh_at(&self) -> Option<i64> {
        self.session().map(|s| s.refresh_due_at(&self.inner.config.refresh_margin))
    }

    /// Sends `request` without a token (sign-up, password reset) and returns a 2xx answer.
    pub async fn send_unauthenticated(&self, request: &Request) -> Result<Response, ClientError> {
        self.success(self.transmit(request, None).await?)
    }

    /// Sends the login `request`, reads its answer with the protocol and starts the session. Takes
    /// the refresh lock, so it never interleaves with a refresh in another tab; a refresh of the
    /// previous session that settles later does not overwrite it.
    pub async fn login(&self, request: &Request) -> Result<Session<P::User>, ClientError> {
        let _guard = self.inner.lock.acquire_dyn().await;
        let request = self.inner.protocol.login_request(request.clone());
        let response = self.send_unauthenticated(&request).await?;
        let (grant, user) = self.inner.protocol.read_login(&response)?;
        self.inner.unsaved.borrow_mut().take();
        let session = self.persist(Session::new(&grant, user, self.inner.clock.now_ms()));
        self.inner.backoff.set(Backoff::default());
        self.emit(ClientEvent::LoggedIn);
        Ok(session)
    }

    /// Restores the session after a page load when the protocol can ([`Protocol::resumable`]: the
    /// refresh token is a cookie the page never sees) with one refresh call. `Ok(None)`: there is no
    /// live session. A session already here (from another tab, say) is returned as it is.
    pub async fn resume(&self) -> Result<Option<Session<P::User>>, ClientError> {
        if !self.inner.protocol.resumable() {
            return Ok(self.session());
        }
        let _guard = self.inner.lock.acquire_dyn().await;
        if let Some(session) = self.session() {
            return Ok(Some(session));
        }
        let request = self.inner.protocol.refresh_request(None);
        let timeout = Some(self.inner.config.refresh_timeout);
        let response = self.with_timeout(self.on_wire(&request, None), timeout).await?;
        match self.inner.protocol.classify_refresh(&response) {
            RefreshOutcome::Rotated(_) => {
                let (grant, user) = self.inner.protocol.read_login(&response)?;
                self.inner.backoff.set(refresh::Backoff::default());
                let session = self.persist(Session::new(&grant, user, self.inner.clock.now_ms()));
                self.emit(ClientEvent::Resumed);
                Ok(Some(session))
            }
            RefreshOutcome::Transient(reason) => Err(ClientError::Network(TransportError::new(reason))),
            _ => Ok(None),
        }
    }

    /// Ends the session on the server (best effort, with the protocol's logout request) and here.
    pub async fn logout(&self) {
        self.logout_because(LogoutReason::UserRequested).await;
    }

    /// [`logout`](Self::logout), telling listeners why.
    pub(crate) async fn logout_because(&self, reason: LogoutReason) {
        let request = self.session().and_then(|s| self.inner.protocol.logout_request(s.refresh_token.as_deref()));
        self.end_session(request.as_ref(), reason).await;
    }

    /// Ends the session with another request (such as "log out everywhere"), then here.
    pub async fn logout_with(&self, request: &Request) {
        self.end_session(Some(request), LogoutReason::UserRequested).await;
    }

    /// Another tab ended the session: forget it here too and tell the UI.
    pub fn session_ended_elsewhere(&self) {
        self.forget_session();
        self.emit(ClientEvent::LoggedOut { reason: LogoutReason::OtherTab });
    }

    /// Sends an authenticated request and reads its answer as `D`, the way the protocol reads bodies
    /// (the envelope's `data` for [`EnvelopeProtocol`](crate::EnvelopeProtocol), the whole JSON body
    /// otherwise).
    pub async fn fetch<D: DeserializeOwned>(&self, request: &Request) -> Result<D, ClientError> {
        Ok(self.inner.protocol.read_body(&self.send(request).await?)?)
    }

    /// Sends an authenticated request. A token that is valid by the wall clock goes out at once,
    /// whatever a refresh is doing; an expired or refused one waits for the one shared refresh, and an
    /// answer the [refresh trigger](Config::refresh_trigger) matches (a 401 by default) is replayed once
    /// with the new token. Any other answer, or a refused replay, is final. Dropping the future abandons
    /// the request (the browser transport aborts its fetch) but never the refresh others wait on.
    pub async fn send(&self, request: &Request) -> Result<Response, ClientError> {
        let _in_flight = InFlightRequest::enter(&self.inner.counters);
        let id = self.inner.last_request_id.get() + 1;
        self.inner.last_request_id.set(id);
        let session = self.usable_session().await?;
        let response = self.transmit_tracked(id, false, request, Credential::of(&session)).await?;
        // A step-up challenge is a 401 that no refresh can answer: the session keeps its
        // authentication time through every rotation.
        if response.step_up_challenge().is_some() || !(self.inner.config.refresh_trigger)(&response) {
            return self.success(response);
        }
        *self.inner.rejected_access.borrow_mut() = Some(session.access_token.clone());
        // If the current token differs, another request or tab already refreshed: replay at once.
        let current = self.session().ok_or(ClientError::SessionExpired)?;
        let fresh = if current.access_token == session.access_token {
            self.refresh(RefreshReason::Unauthorized, &session, true).await?
        } else {
            current
        };
        self.bump(|c| c.replays += 1);
        let replayed = self.transmit_tracked(id, true, request, Credential::of(&fresh)).await?;
        if replayed.step_up_challenge().is_none()
            && (self.inner.config.refresh_trigger)(&replayed)
            && replayed.is_success()
        {
            // A trigger that matches a 2xx (an error inside a 200) must not pass for success.
            return Err(ClientError::Api { status: replayed.status, body: self.inner.protocol.read_error(&replayed) });
        }
        self.success(replayed)
    }

    /// An access token valid for at least `min_validity`, for what authenticates outside
    /// [`send`](Self::send) (a WebSocket, an SSE stream, another SDK): the current one when it is, else
    /// the one a refresh brings (joining a refresh already running). Listen for
    /// [`ClientEvent::TokensChanged`] to learn when to take a new one. No token can be asked to outlive
    /// half its own lifetime: with tokens shorter than twice `min_validity`, a fresh one is enough (or
    /// every call would refresh).
    pub async fn access_token(&self, min_validity: std::time::Duration) -> Result<String, ClientError> {
        let session = self.session().ok_or(ClientError::SessionExpired)?;
        let refused = self.refused(&session);
        let lifetime = session.access_expires_at.saturating_sub(session.access_issued_at);
        let needed = i64::try_from(min_validity.as_millis()).unwrap_or(i64::MAX).min(lifetime / 2);
        if !refused && session.access_expires_at.saturating_sub(self.inner.clock.now_ms()) >= needed {
            return Ok(session.access_token);
        }
        Ok(self.refresh(RefreshReason::Proactive, &session, false).await?.access_token)
    }

    /// Refreshes if the access token is due by the wall clock. A driver (a timer, a wake-up event)
    /// calls this; during the backoff after a transient failure it does nothing.
    pub async fn refresh_if_due(&self) -> Result<(), ClientError> {
        let Some(session) = self.session() else { return Ok(()) };
        let due = session.refresh_due_at(&self.inner.config.refresh_margin);
        if self.inner.clock.now_ms() < due || self.backoff_remaining_ms().is_some() {
            return Ok(());
        }
        self.refresh(RefreshReason::Proactive, &session, false).await.map(|_| ())
    }

    /// True when the server answered this session's access token with the refresh trigger (a 401).
    fn refused(&self, session: &Session<P::User>) -> bool {
        self.inner.rejected_access.borrow().as_deref() == Some(session.access_token.as_str())
    }

    /// The session to send with. A token that is valid by the wall clock and was not refused is used
    /// as it is: a request never waits on a proactive refresh, let alone a failing one.
    pub(crate) async fn usable_session(&self) -> Result<Session<P::User>, ClientError> {
        let session = self.session().ok_or(ClientError::SessionExpired)?;
        let refused = self.refused(&session);
        if !refused && !session.access_expired(self.inner.clock.now_ms()) {
            return Ok(session);
        }
        self.refresh(RefreshReason::Proactive, &session, false).await
    }

    /// Takes the refresh lock, so a refresh in any tab either finished before or finds no session after.
    async fn end_session(&self, request: Option<&Request>, reason: LogoutReason) {
        let _guard = self.inner.lock.acquire_dyn().await;
        if let (Some(session), Some(request)) = (self.session(), request) {
            // Best effort: the local session ends whatever the server says.
            let _ = self.on_wire(request, Some(Credential::of(&session))).await;
        }
        self.forget_session();
        self.emit(ClientEvent::LoggedOut { reason });
    }

    /// The server's contract.
    pub(crate) fn protocol(&self) -> &P {
        &self.inner.protocol
    }

    fn bump(&self, change: impl FnOnce(&mut Counters)) {
        state::update_counters(&self.inner.counters, change);
    }

    #[allow(clippy::needless_pass_by_value)] // events are built at the call site; taking them by value reads better
    pub(crate) fn emit(&self, event: ClientEvent) {
        // Cloned first, so a listener may subscribe another without a double borrow.
        let listeners: Vec<Listener> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(&event);
        }
    }
}
