//! [`ApiClient`]: one refresh for any number of 401s, replay at most once, no hangs, no false logouts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use serde::de::DeserializeOwned;
use shared::auth::{LoginRequest, LoginResponse, RefreshRequest, RegisterRequest, TokenPair, User};
use shared::paths;

use super::error::ClientError;
use super::events::{ClientEvent, Counters, LogoutReason, RefreshReason};
use super::ports::{ApiRequest, Clock, RawResponse, RefreshLock, TokenStore, Transport};
use super::session::StoredSession;

const BACKOFF_START_MS: u64 = 200;
const BACKOFF_CAP_MS: u64 = 30_000;

type RefreshResult = Result<StoredSession, ClientError>;
type Listener = Rc<dyn Fn(&ClientEvent)>;

/// The refresh-aware client. Cheap to clone; clones share one state (one in-flight refresh per tab).
pub struct ApiClient<T, S, C, L> {
    inner: Rc<Inner<T, S, C, L>>,
}

impl<T, S, C, L> Clone for ApiClient<T, S, C, L> {
    fn clone(&self) -> Self {
        Self { inner: Rc::clone(&self.inner) }
    }
}

impl<T, S, C, L> std::fmt::Debug for ApiClient<T, S, C, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("counters", &self.inner.counters.get()).finish_non_exhaustive()
    }
}

struct Inner<T, S, C, L> {
    transport: T,
    store: S,
    clock: C,
    lock: L,
    listeners: RefCell<Vec<Listener>>,
    counters: Cell<Counters>,
    in_flight: RefCell<Option<InFlight>>,
    backoff: Cell<Backoff>,
    /// A session storage refused to take. Kept here, and offered to storage again at every use, so a
    /// rotated refresh token is never lost: presenting its retired parent later would count as reuse.
    unsaved: RefCell<Option<Unsaved>>,
    /// The access token the server last answered 401 for: known stale, so never sent again.
    rejected_access: RefCell<Option<String>>,
}

struct Unsaved {
    session: StoredSession,
    /// The refresh token of the session storage still holds instead, if any.
    replaces: Option<String>,
}

/// The one refresh running in this tab, awaited by everyone who needs it.
struct InFlight {
    future: Shared<LocalBoxFuture<'static, RefreshResult>>,
    /// Requests that got 401 and will be replayed once this refresh settles.
    replays: Rc<Cell<u32>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Backoff {
    failures: u32,
    retry_at: i64,
}

impl Backoff {
    fn delay_ms(failures: u32) -> u64 {
        BACKOFF_START_MS.saturating_mul(1 << failures.saturating_sub(1).min(20)).min(BACKOFF_CAP_MS)
    }
}

impl<T, S, C, L> ApiClient<T, S, C, L>
where
    T: Transport + 'static,
    S: TokenStore + 'static,
    C: Clock + 'static,
    L: RefreshLock + 'static,
{
    pub fn new(transport: T, store: S, clock: C, lock: L) -> Self {
        Self {
            inner: Rc::new(Inner {
                transport,
                store,
                clock,
                lock,
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

    pub fn counters(&self) -> Counters {
        self.inner.counters.get()
    }

    /// The current session, if any: what storage holds (possibly rotated by another tab), or a newer
    /// one this tab could not save yet.
    pub fn session(&self) -> Option<StoredSession> {
        let stored = self.inner.store.load();
        let Some(unsaved) = self.inner.unsaved.borrow_mut().take() else { return stored };
        let stored_token = stored.as_ref().map(|s| &s.refresh_token);
        // A logout or a newer login (in any tab) wins over a session this tab could not save.
        let still_ours =
            stored_token == unsaved.replaces.as_ref() || stored_token == Some(&unsaved.session.refresh_token);
        if !still_ours {
            return stored;
        }
        if self.inner.store.save(&unsaved.session).is_err() {
            let session = unsaved.session.clone();
            *self.inner.unsaved.borrow_mut() = Some(unsaved);
            return Some(session);
        }
        Some(unsaved.session)
    }

    /// When the proactive refresh should run, if logged in.
    pub fn next_refresh_at(&self) -> Option<i64> {
        self.session().map(|s| s.refresh_due_at())
    }

    pub async fn register(&self, request: &RegisterRequest) -> Result<User, ClientError> {
        let response = self.send_unauthenticated(&ApiRequest::post_json(paths::REGISTER, request)).await?;
        decode(&response)
    }

    /// Logs in and stores the session. Takes the refresh lock, so it never interleaves with a refresh
    /// in another tab; a refresh of the previous session that settles later does not overwrite it.
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, ClientError> {
        let _guard = self.inner.lock.acquire().await;
        let response = self.send_unauthenticated(&ApiRequest::post_json(paths::LOGIN, request)).await?;
        let login: LoginResponse = decode(&response)?;
        self.inner.unsaved.borrow_mut().take();
        self.persist(StoredSession::from_login(&login, self.inner.clock.now_ms()));
        self.inner.backoff.set(Backoff::default());
        Ok(login)
    }

    /// Ends this session on the server (best effort) and everywhere locally.
    pub async fn logout(&self) {
        self.end_session(paths::LOGOUT).await;
    }

    /// Ends every session of the user.
    pub async fn logout_everywhere(&self) {
        self.end_session(paths::LOGOUT_ALL).await;
    }

    /// Another tab cleared the session: forget it here too and tell the UI.
    pub fn session_ended_elsewhere(&self) {
        self.forget_session();
        self.emit(ClientEvent::LoggedOut { reason: LogoutReason::OtherTab });
    }

    /// Sends an authenticated request and decodes the envelope's `data`.
    pub async fn fetch<D: DeserializeOwned>(&self, request: &ApiRequest) -> Result<D, ClientError> {
        decode(&self.send(request).await?)
    }

    /// Sends an authenticated request. A token that is valid by the wall clock goes out at once,
    /// whatever a refresh is doing; an expired or refused one waits for the one shared refresh, and a
    /// 401 is replayed once with the new token.
    pub async fn send(&self, request: &ApiRequest) -> Result<RawResponse, ClientError> {
        let _in_flight = InFlightRequest::enter(self);
        self.send_counted(request).await
    }

    async fn send_counted(&self, request: &ApiRequest) -> Result<RawResponse, ClientError> {
        let session = self.usable_session().await?;
        let response = self.transmit(request, Some(&session.access_token)).await?;
        if response.status != 401 {
            return success(response);
        }
        *self.inner.rejected_access.borrow_mut() = Some(session.access_token.clone());
        // The token we used was refused. If the current one differs, another request or tab already
        // refreshed: replay at once. Otherwise refresh (or join the refresh already running).
        let current = self.session().ok_or(ClientError::SessionExpired)?;
        let fresh = if current.access_token == session.access_token {
            self.refresh(RefreshReason::Unauthorized, &session.access_token, true).await?
        } else {
            current
        };
        self.bump(|c| c.replays += 1);
        // A 401 on the replay is final: no second refresh, no loop.
        success(self.transmit(request, Some(&fresh.access_token)).await?)
    }

    /// Refreshes if the access token is due by the wall clock; the proactive timer calls this. During
    /// the backoff after a transient failure it does nothing.
    pub async fn refresh_if_due(&self) -> Result<(), ClientError> {
        let Some(session) = self.session() else { return Ok(()) };
        if self.inner.clock.now_ms() < session.refresh_due_at() || self.backoff_remaining_ms().is_some() {
            return Ok(());
        }
        self.refresh(RefreshReason::Proactive, &session.access_token, false).await.map(|_| ())
    }

    /// For the demo's "expire my token" button: the next request carries `token` as it is.
    pub fn install_access_token(&self, token: String) {
        if let Some(mut session) = self.session() {
            session.access_token = token;
            self.persist(session);
        }
    }

    /// The session to send with. A token that is valid by the wall clock and was not refused is used
    /// as it is: a request never waits on a proactive refresh, let alone a failing one.
    async fn usable_session(&self) -> RefreshResult {
        let session = self.session().ok_or(ClientError::SessionExpired)?;
        let refused = self.inner.rejected_access.borrow().as_deref() == Some(session.access_token.as_str());
        if !refused && !session.access_expired(self.inner.clock.now_ms()) {
            return Ok(session);
        }
        self.refresh(RefreshReason::Proactive, &session.access_token, false).await
    }

    /// Joins the running refresh or starts one. `stale_access` is the token known to be bad or due.
    /// During the backoff after a transient failure nobody waits: the caller gets `Network` at once.
    async fn refresh(&self, reason: RefreshReason, stale_access: &str, for_replay: bool) -> RefreshResult {
        let (future, replays) = {
            let mut slot = self.inner.in_flight.borrow_mut();
            if slot.is_none()
                && let Some(wait) = self.backoff_remaining_ms()
            {
                return Err(ClientError::Network(format!("refresh failed recently; next attempt in {wait} ms")));
            }
            let in_flight = slot.get_or_insert_with(|| {
                let client = self.clone();
                let stale = stale_access.to_owned();
                let replays = Rc::new(Cell::new(0));
                let counted = Rc::clone(&replays);
                let future = async move {
                    let result = client.run_refresh(reason, &stale).await;
                    client.inner.in_flight.borrow_mut().take();
                    if result.is_ok() && counted.get() > 0 {
                        client.emit(ClientEvent::RequestsReplayed { count: counted.get() });
                    }
                    result
                };
                InFlight { future: future.boxed_local().shared(), replays }
            });
            (in_flight.future.clone(), Rc::clone(&in_flight.replays))
        };
        if for_replay {
            replays.set(replays.get() + 1);
        }
        future.await
    }

    fn backoff_remaining_ms(&self) -> Option<i64> {
        Some(self.inner.backoff.get().retry_at - self.inner.clock.now_ms()).filter(|wait| *wait > 0)
    }

    /// One refresh attempt: serialise across tabs, adopt another tab's rotation when there is one,
    /// otherwise call the refresh endpoint, and write the outcome only if the session is still the one
    /// this refresh started from.
    async fn run_refresh(&self, reason: RefreshReason, stale_access: &str) -> RefreshResult {
        let inner = &self.inner;
        self.emit(ClientEvent::RefreshStarted { reason });
        let started = inner.clock.now_ms();

        let _guard = inner.lock.acquire().await;
        // Inside the lock, storage is the truth: another tab may have refreshed while we waited.
        let stored = self.session().ok_or(ClientError::SessionExpired)?;
        if stored.access_token != stale_access && stored.refresh_due_at() > inner.clock.now_ms() {
            return Ok(self.adopt(stored));
        }

        let body = RefreshRequest { refresh_token: Some(stored.refresh_token.clone()) };
        // Sent straight to the transport: the refresh call itself is never intercepted.
        let sent = inner.transport.send(&ApiRequest::post_json(paths::REFRESH, &body), None).await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(self.transient(ClientError::Network(error.0))),
        };
        match response.status {
            200 => {
                let pair: TokenPair = match decode(&response) {
                    Ok(pair) => pair,
                    Err(error) => return Err(self.transient(error)),
                };
                // Compare-and-set: a logout or a newer login that landed while this refresh was on the
                // wire wins, and the rotated pair is dropped. (Racing tabs inside the grace window get
                // the same successor, which counts as unchanged.)
                let current = self.session().map(|s| s.refresh_token);
                if current.as_ref() != Some(&stored.refresh_token) && current.as_ref() != Some(&pair.refresh_token) {
                    return Err(ClientError::SessionExpired);
                }
                let now = inner.clock.now_ms();
                let session = self.persist(stored.rotated(&pair, now));
                inner.backoff.set(Backoff::default());
                self.bump(|c| c.refreshes += 1);
                let duration_ms = u64::try_from(now - started).unwrap_or(0);
                self.emit(ClientEvent::RefreshSucceeded { duration_ms });
                Ok(session)
            }
            // Refused, reused (the server has then revoked the whole session) or expired: final.
            400 | 401 | 403 => {
                let error = ClientError::from_response(response.status, &response.body);
                Err(self.final_failure(&error, &stored))
            }
            502..=504 => Err(self.transient(ClientError::Network(format!("gateway answered {}", response.status)))),
            status => Err(self.transient(ClientError::from_response(status, &response.body))),
        }
    }

    /// Saves `session`; when storage refuses, keeps it in memory (see `Inner::unsaved`) and says so.
    fn persist(&self, session: StoredSession) -> StoredSession {
        if let Err(error) = self.inner.store.save(&session) {
            self.emit(ClientEvent::SessionNotSaved { reason: error.0 });
            let replaces = self.inner.store.load().map(|s| s.refresh_token);
            *self.inner.unsaved.borrow_mut() = Some(Unsaved { session: session.clone(), replaces });
        }
        session
    }

    fn forget_session(&self) {
        self.inner.unsaved.borrow_mut().take();
        self.inner.store.clear();
    }

    fn adopt(&self, session: StoredSession) -> StoredSession {
        self.bump(|c| c.adopted += 1);
        self.emit(ClientEvent::TokenAdopted);
        session
    }

    /// The session is kept; no refresh is tried for 200 ms, doubling up to 30 s.
    fn transient(&self, error: ClientError) -> ClientError {
        let failures = self.inner.backoff.get().failures + 1;
        let delay = Backoff::delay_ms(failures);
        let retry_at = self.inner.clock.now_ms().saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        self.inner.backoff.set(Backoff { failures, retry_at });
        self.bump(|c| c.refresh_failures += 1);
        self.emit(ClientEvent::RefreshFailed { reason: error.to_string(), retry_in_ms: Some(delay) });
        error
    }

    /// The session `ended` is over: forget it (unless a newer one replaced it meanwhile) and tell every
    /// waiter.
    fn final_failure(&self, error: &ClientError, ended: &StoredSession) -> ClientError {
        self.bump(|c| c.refresh_failures += 1);
        self.emit(ClientEvent::RefreshFailed { reason: error.to_string(), retry_in_ms: None });
        if self.session().is_some_and(|current| current.refresh_token == ended.refresh_token) {
            self.forget_session();
            self.emit(ClientEvent::LoggedOut { reason: LogoutReason::SessionExpired(error.to_string()) });
        }
        ClientError::SessionExpired
    }

    /// Takes the refresh lock, so a refresh in any tab either finished before or finds no session after.
    async fn end_session(&self, path: &str) {
        let _guard = self.inner.lock.acquire().await;
        if let Some(session) = self.session() {
            // Best effort: the local session ends whatever the server says.
            let _ = self.inner.transport.send(&ApiRequest::post(path), Some(&session.access_token)).await;
        }
        self.forget_session();
        self.emit(ClientEvent::LoggedOut { reason: LogoutReason::UserRequested });
    }

    async fn send_unauthenticated(&self, request: &ApiRequest) -> Result<RawResponse, ClientError> {
        success(self.transmit(request, None).await?)
    }

    async fn transmit(&self, request: &ApiRequest, bearer: Option<&str>) -> Result<RawResponse, ClientError> {
        self.inner.transport.send(request, bearer).await.map_err(|e| ClientError::Network(e.0))
    }

    fn bump(&self, change: impl FnOnce(&mut Counters)) {
        let mut counters = self.inner.counters.get();
        change(&mut counters);
        self.inner.counters.set(counters);
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

/// Counts a request as in flight until it settles, or until its future is dropped unfinished.
struct InFlightRequest<'a, T, S, C, L>(&'a ApiClient<T, S, C, L>)
where
    T: Transport + 'static,
    S: TokenStore + 'static,
    C: Clock + 'static,
    L: RefreshLock + 'static;

impl<'a, T, S, C, L> InFlightRequest<'a, T, S, C, L>
where
    T: Transport + 'static,
    S: TokenStore + 'static,
    C: Clock + 'static,
    L: RefreshLock + 'static,
{
    fn enter(client: &'a ApiClient<T, S, C, L>) -> Self {
        client.bump(|c| c.in_flight += 1);
        Self(client)
    }
}

impl<T, S, C, L> Drop for InFlightRequest<'_, T, S, C, L>
where
    T: Transport + 'static,
    S: TokenStore + 'static,
    C: Clock + 'static,
    L: RefreshLock + 'static,
{
    fn drop(&mut self) {
        self.0.bump(|c| c.in_flight = c.in_flight.saturating_sub(1));
    }
}

fn success(response: RawResponse) -> Result<RawResponse, ClientError> {
    if (200..300).contains(&response.status) {
        Ok(response)
    } else {
        Err(ClientError::from_response(response.status, &response.body))
    }
}

fn decode<D: DeserializeOwned>(response: &RawResponse) -> Result<D, ClientError> {
    let envelope: shared::Envelope<D> =
        serde_json::from_str(&response.body).map_err(|e| ClientError::Decode(e.to_string()))?;
    envelope.data.ok_or_else(|| ClientError::Decode("the envelope has no data".into()))
}

// proptest runs natively only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever a server (or a proxy in front of it) answers, decoding never panics: it is data or
        /// `Decode`, and a failure status is `Api` carrying the status.
        #[test]
        fn any_answer_body_decodes_or_fails_cleanly(body in "\\PC{0,200}|\\{\"code\":[0-9]{1,3},\"message\":\"[a-z ]{0,9}\",\"data\":(null|\"x\"|[0-9]{1,5})(,\"error\":\"[a-z_]{0,25}\")?\\}", status in 100u16..600) {
            let response = RawResponse { status, body };
            match decode::<String>(&response) {
                Ok(_) | Err(ClientError::Decode(_)) => {}
                Err(other) => proptest::prop_assert!(false, "decode gave {other:?}"),
            }
            match success(response) {
                Ok(ok) => proptest::prop_assert!((200..300).contains(&ok.status)),
                Err(ClientError::Api { status: reported, .. }) => proptest::prop_assert_eq!(reported, status),
                Err(other) => proptest::prop_assert!(false, "success gave {other:?}"),
            }
        }

        /// A well-formed envelope always yields its data.
        #[test]
        fn a_success_envelope_yields_its_data(data in "\\PC{0,50}") {
            let body = serde_json::json!({"code": 200, "message": "ok", "data": data}).to_string();
            proptest::prop_assert_eq!(decode::<String>(&RawResponse { status: 200, body }).unwrap(), data);
        }
    }
}
