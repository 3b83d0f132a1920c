//! [`RefreshClient`]: one refresh for any number of 401s, replay at most once, no hangs, no false
//! logouts, and a session that a logout or a newer login always wins.

mod refresh;
mod state;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ClientError, TransportError};
use crate::events::{ClientEvent, Counters, LogoutReason, RefreshReason};
use crate::http::{Request, Response};
use crate::ports::{Clock, RefreshLock, TokenStore, Transport};
use crate::protocol::{Protocol, RefreshOutcome};
use crate::session::Session;
use refresh::{Backoff, InFlight};
use state::{InFlightRequest, Unsaved};

type Listener = Rc<dyn Fn(&ClientEvent)>;

/// The refresh-aware HTTP client, generic over the server's [`Protocol`] and the four ports. Cheap to
/// clone; clones share one state (one refresh in flight per tab).
pub struct RefreshClient<P: Protocol, T, S, C, L> {
    inner: Rc<Inner<P, T, S, C, L>>,
}

impl<P: Protocol, T, S, C, L> Clone for RefreshClient<P, T, S, C, L> {
    fn clone(&self) -> Self {
        Self { inner: Rc::clone(&self.inner) }
    }
}

impl<P: Protocol, T, S, C, L> std::fmt::Debug for RefreshClient<P, T, S, C, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshClient").field("counters", &self.inner.counters.get()).finish_non_exhaustive()
    }
}

struct Inner<P: Protocol, T, S, C, L> {
    protocol: P,
    transport: T,
    store: S,
    clock: C,
    lock: L,
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
}

impl<P, T, S, C, L> RefreshClient<P, T, S, C, L>
where
    P: Protocol + 'static,
    T: Transport + 'static,
    S: TokenStore<P::User> + 'static,
    C: Clock + 'static,
    L: RefreshLock + 'static,
{
    /// A client speaking `protocol` through the given ports.
    pub fn new(protocol: P, transport: T, store: S, clock: C, lock: L, config: Config) -> Self {
        Self {
            inner: Rc::new(Inner {
                protocol,
                transport,
                store,
                clock,
                lock,
                config,
                listeners: RefCell::new(Vec::new()),
                counters: Cell::new(Counters::default()),
                in_flight: RefCell::new(None),
                backoff: Cell::new(Backoff::default()),
                unsaved: RefCell::new(None),
                rejected_access: RefCell::new(None),
            }),
        }
    }

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

    /// The token store, for an app that needs to look at or change the stored session itself.
    pub fn store(&self) -> &S {
        &self.inner.store
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
        let _guard = self.inner.lock.acquire().await;
        let request = self.inner.protocol.login_request(request.clone());
        let response = self.send_unauthenticated(&request).await?;
        let (grant, user) = self.inner.protocol.read_login(&response)?;
        self.inner.unsaved.borrow_mut().take();
        let session = self.persist(Session::new(&grant, user, self.inner.clock.now_ms()));
        self.inner.backoff.set(Backoff::default());
        Ok(session)
    }

    /// Restores the session after a page load when the protocol can ([`Protocol::resumable`]: the
    /// refresh token is a cookie the page never sees) with one refresh call. `Ok(None)`: there is no
    /// live session. A session already here (from another tab, say) is returned as it is.
    pub async fn resume(&self) -> Result<Option<Session<P::User>>, ClientError> {
        if !self.inner.protocol.resumable() {
            return Ok(self.session());
        }
        let _guard = self.inner.lock.acquire().await;
        if let Some(session) = self.session() {
            return Ok(Some(session));
        }
        let response = self.inner.transport.send(&self.inner.protocol.refresh_request(None), None).await?;
        match self.inner.protocol.classify_refresh(&response) {
            RefreshOutcome::Rotated(_) => {
                let (grant, user) = self.inner.protocol.read_login(&response)?;
                self.inner.backoff.set(refresh::Backoff::default());
                Ok(Some(self.persist(Session::new(&grant, user, self.inner.clock.now_ms()))))
            }
            RefreshOutcome::Transient(reason) => Err(ClientError::Network(TransportError::new(reason))),
            _ => Ok(None),
        }
    }

    /// Ends the session on the server (best effort, with the protocol's logout request) and here.
    pub async fn logout(&self) {
        let request = self.session().and_then(|s| self.inner.protocol.logout_request(s.refresh_token.as_deref()));
        self.end_session(request.as_ref()).await;
    }

    /// Ends the session with another request (such as "log out everywhere"), then here.
    pub async fn logout_with(&self, request: &Request) {
        self.end_session(Some(request)).await;
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
    /// whatever a refresh is doing; an expired or refused one waits for the one shared refresh, and a
    /// 401 is replayed once with the new token. Any other answer, or a 401 on the replay, is final.
    pub async fn send(&self, request: &Request) -> Result<Response, ClientError> {
        let _in_flight = InFlightRequest::enter(&self.inner.counters);
        let session = self.usable_session().await?;
        let response = self.transmit(request, Some(&session.access_token)).await?;
        if response.status != 401 {
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
        self.success(self.transmit(request, Some(&fresh.access_token)).await?)
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

    /// The session to send with. A token that is valid by the wall clock and was not refused is used
    /// as it is: a request never waits on a proactive refresh, let alone a failing one.
    async fn usable_session(&self) -> Result<Session<P::User>, ClientError> {
        let session = self.session().ok_or(ClientError::SessionExpired)?;
        let refused = self.inner.rejected_access.borrow().as_deref() == Some(session.access_token.as_str());
        if !refused && !session.access_expired(self.inner.clock.now_ms()) {
            return Ok(session);
        }
        self.refresh(RefreshReason::Proactive, &session, false).await
    }

    /// Takes the refresh lock, so a refresh in any tab either finished before or finds no session after.
    async fn end_session(&self, request: Option<&Request>) {
        let _guard = self.inner.lock.acquire().await;
        if let (Some(session), Some(request)) = (self.session(), request) {
            // Best effort: the local session ends whatever the server says.
            let _ = self.inner.transport.send(request, Some(&session.access_token)).await;
        }
        self.forget_session();
        self.emit(ClientEvent::LoggedOut { reason: LogoutReason::UserRequested });
    }

    async fn transmit(&self, request: &Request, bearer: Option<&str>) -> Result<Response, ClientError> {
        Ok(self.inner.transport.send(request, bearer).await?)
    }

    fn success(&self, response: Response) -> Result<Response, ClientError> {
        if response.is_success() {
            return Ok(response);
        }
        Err(ClientError::Api { status: response.status, body: self.inner.protocol.read_error(&response) })
    }

    fn bump(&self, change: impl FnOnce(&mut Counters)) {
        state::update_counters(&self.inner.counters, change);
    }

    #[allow(clippy::needless_pass_by_value)] // events are built at the call site; taking them by value reads better
    fn emit(&self, event: ClientEvent) {
        // Cloned first, so a listener may subscribe another without a double borrow.
        let listeners: Vec<Listener> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(&event);
        }
    }
}
