//! Deterministic stand-ins for the four ports: a scripted server, shared storage, a virtual clock and
//! a cooperative lock. Everything is single-threaded; `send` yields once so concurrent callers really
//! interleave under `join_all`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use shared::paths;

use super::ports::{ApiRequest, Clock, RawResponse, RefreshLock, StorageError, TokenStore, Transport, TransportError};
use super::session::StoredSession;

/// Resolves on its second poll, letting every other ready future run in between.
pub(crate) async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await;
}

/// How the fake server answers refresh calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefreshMode {
    Normal,
    Status(u16, &'static str),
    NetworkDown,
}

type Hook = Box<dyn FnOnce(&FakeServer)>;

/// How long the previous refresh token still answers with the same successor, as on the real server.
pub(crate) const GRACE_MS: i64 = 10_000;

#[derive(Default)]
struct ServerState {
    generation: u32,
    access: String,
    refresh: String,
    /// The refresh token rotated last, and when: within the grace window it gets the current pair again.
    previous: Option<(String, i64)>,
    /// Every refresh token ever issued; presenting a retired one outside the grace window is reuse.
    issued: Vec<String>,
    revoked: bool,
    refresh_calls: u32,
    requests: Vec<(String, Option<String>, Option<String>)>,
    always_401: Vec<String>,
    before_answering: Option<(String, Hook)>,
}

/// The server's token rules in miniature, as the real backend applies them: one live access token and
/// one live refresh token per session; rotation with a grace window that hands racing callers the same
/// successor; any other use of a retired token revokes the session (403 `refresh_token_reused`, after
/// which nothing of the session works); logout revokes it too.
#[derive(Clone)]
pub(crate) struct FakeServer {
    state: Rc<RefCell<ServerState>>,
    mode: Rc<RefCell<RefreshMode>>,
    /// While set, refresh answers wait: lets a test line up callers behind a refresh in flight.
    hold_refreshes: Rc<Cell<bool>>,
    clock: FakeClock,
    pub(crate) access_lifetime_s: u64,
}

impl FakeServer {
    pub(crate) fn new(clock: &FakeClock) -> Self {
        Self {
            state: Rc::default(),
            mode: Rc::new(RefCell::new(RefreshMode::Normal)),
            hold_refreshes: Rc::default(),
            clock: clock.clone(),
            access_lifetime_s: 60,
        }
    }

    /// A new session (a login): fresh tokens, nothing revoked.
    fn start_session(&self) -> (String, String) {
        let mut state = self.state.borrow_mut();
        state.revoked = false;
        state.previous = None;
        Self::next_pair(&mut state)
    }

    fn next_pair(state: &mut ServerState) -> (String, String) {
        state.generation += 1;
        state.access = format!("access-{}", state.generation);
        state.refresh = format!("refresh-{}", state.generation);
        state.issued.push(state.refresh.clone());
        (state.access.clone(), state.refresh.clone())
    }

    /// A successful rotation of `presented`, or the reason it is refused.
    fn rotate(&self, presented: &str) -> Result<(String, String), &'static str> {
        let now = self.clock.now_ms_for_tests();
        let mut state = self.state.borrow_mut();
        if state.revoked || !state.issued.iter().any(|t| t == presented) {
            return Err("refresh_token_invalid");
        }
        if presented == state.refresh {
            state.previous = Some((presented.to_owned(), now));
            return Ok(Self::next_pair(&mut state));
        }
        let in_grace = state.previous.as_ref().is_some_and(|(token, at)| token == presented && now - at <= GRACE_MS);
        if in_grace {
            return Ok((state.access.clone(), state.refresh.clone()));
        }
        state.revoked = true;
        Err("refresh_token_reused")
    }

    /// The server stops accepting the current access token (it "expired").
    pub(crate) fn expire_access(&self) {
        self.state.borrow_mut().access = "nobody-holds-this".into();
    }

    pub(crate) fn hold_refreshes(&self, hold: bool) {
        self.hold_refreshes.set(hold);
    }

    pub(crate) fn set_mode(&self, mode: RefreshMode) {
        *self.mode.borrow_mut() = mode;
    }

    pub(crate) fn refresh_calls(&self) -> u32 {
        self.state.borrow().refresh_calls
    }

    pub(crate) fn revoked(&self) -> bool {
        self.state.borrow().revoked
    }

    /// Every request seen: (path, bearer, body).
    pub(crate) fn requests(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.state.borrow().requests.clone()
    }

    pub(crate) fn calls_to(&self, path: &str) -> usize {
        self.state.borrow().requests.iter().filter(|(p, ..)| p == path).count()
    }

    pub(crate) fn always_401(&self, path: &str) {
        self.state.borrow_mut().always_401.push(path.to_owned());
    }

    /// Runs `hook` just before the next answer to `path` goes out (another tab acting meanwhile).
    pub(crate) fn before_answering(&self, path: &str, hook: impl FnOnce(&FakeServer) + 'static) {
        self.state.borrow_mut().before_answering = Some((path.to_owned(), Box::new(hook)));
    }

    /// What another tab's successful refresh leaves in storage.
    pub(crate) fn rotate_for_other_tab(&self, store: &FakeStore) {
        let mut session = store.load().expect("a session to rotate");
        let (access, refresh) = self.rotate(&session.refresh_token).expect("the other tab's refresh succeeds");
        let now = self.clock.now_ms_for_tests();
        session.access_token = access;
        session.refresh_token = refresh;
        session.access_issued_at = now;
        session.access_expires_at = now + 60_000;
        store.save(&session).expect("the other tab saves");
    }

    fn token_body(&self, access: &str, refresh: &str) -> String {
        serde_json::json!({"code": 200, "message": "ok", "data": {
            "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": self.access_lifetime_s, "refresh_expires_in": 3600,
            "username": "ann", "email": "ann@example.com", "role": "user"}})
        .to_string()
    }

    fn answer(&self, request: &ApiRequest, bearer: Option<&str>) -> Result<RawResponse, TransportError> {
        let reply = |status: u16, error: &str| RawResponse {
            status,
            body: serde_json::json!({"code": status, "message": error, "data": null, "error": error}).to_string(),
        };
        if request.path == paths::LOGIN {
            let (access, refresh) = self.start_session();
            return Ok(RawResponse { status: 200, body: self.token_body(&access, &refresh) });
        }
        if request.path == paths::REFRESH {
            self.state.borrow_mut().refresh_calls += 1;
            match self.mode.borrow().clone() {
                RefreshMode::Normal => {}
                RefreshMode::Status(status, code) => return Ok(reply(status, code)),
                RefreshMode::NetworkDown => return Err(TransportError("connection refused".into())),
            }
            let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap_or("{}")).unwrap();
            return Ok(match self.rotate(body["refreshToken"].as_str().unwrap_or_default()) {
                Ok((access, refresh)) => RawResponse { status: 200, body: self.token_body(&access, &refresh) },
                Err(code) => reply(403, code),
            });
        }
        let mut state = self.state.borrow_mut();
        if state.revoked || state.always_401.contains(&request.path) || bearer != Some(state.access.as_str()) {
            return Ok(reply(401, "invalid_token"));
        }
        if request.path == paths::LOGOUT {
            state.revoked = true;
        }
        Ok(RawResponse { status: 200, body: r#"{"code":200,"message":"ok","data":"pong"}"#.into() })
    }
}

impl Transport for FakeServer {
    async fn send(&self, request: &ApiRequest, bearer: Option<&str>) -> Result<RawResponse, TransportError> {
        self.state.borrow_mut().requests.push((request.path.clone(), bearer.map(str::to_owned), request.body.clone()));
        yield_now().await;
        while request.path == paths::REFRESH && self.hold_refreshes.get() {
            yield_now().await;
        }
        let hook = {
            let mut state = self.state.borrow_mut();
            let matches = state.before_answering.as_ref().is_some_and(|(path, _)| *path == request.path);
            if matches { state.before_answering.take() } else { None }
        };
        if let Some((_, hook)) = hook {
            hook(self);
        }
        self.answer(request, bearer)
    }
}

/// Storage shared by every clone: two clients holding clones behave like two tabs of one browser.
/// `refuse_saves` makes every save fail, as a full or blocked `localStorage` does.
#[derive(Clone, Default)]
pub(crate) struct FakeStore {
    session: Rc<RefCell<Option<StoredSession>>>,
    pub(crate) refuse_saves: Rc<Cell<bool>>,
}

impl TokenStore for FakeStore {
    fn load(&self) -> Option<StoredSession> {
        self.session.borrow().clone()
    }
    fn save(&self, session: &StoredSession) -> Result<(), StorageError> {
        if self.refuse_saves.get() {
            return Err(StorageError("QuotaExceededError".into()));
        }
        *self.session.borrow_mut() = Some(session.clone());
        Ok(())
    }
    fn clear(&self) {
        *self.session.borrow_mut() = None;
    }
}

/// Virtual time: sleeping advances it instantly and records the wait.
#[derive(Clone)]
pub(crate) struct FakeClock {
    now: Rc<Cell<i64>>,
    pub(crate) sleeps: Rc<RefCell<Vec<u64>>>,
}

impl FakeClock {
    pub(crate) fn new() -> Self {
        Self { now: Rc::new(Cell::new(1_700_000_000_000)), sleeps: Rc::default() }
    }
    pub(crate) fn now_ms_for_tests(&self) -> i64 {
        self.now.get()
    }
    pub(crate) fn advance(&self, ms: i64) {
        self.now.set(self.now.get() + ms);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now.get()
    }
    async fn sleep_ms(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.advance(i64::try_from(ms).unwrap());
        yield_now().await;
    }
}

/// A cooperative lock shared by clones; `unavailable` makes every acquire give up at once.
#[derive(Clone, Default)]
pub(crate) struct FakeLock {
    held: Rc<Cell<bool>>,
    pub(crate) unavailable: Rc<Cell<bool>>,
}

pub(crate) struct FakeGuard(Rc<Cell<bool>>);

impl Drop for FakeGuard {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl RefreshLock for FakeLock {
    type Guard = FakeGuard;
    async fn acquire(&self) -> Option<FakeGuard> {
        if self.unavailable.get() {
            return None;
        }
        for _ in 0..10_000 {
            if !self.held.get() {
                self.held.set(true);
                return Some(FakeGuard(Rc::clone(&self.held)));
            }
            yield_now().await;
        }
        None
    }
}
