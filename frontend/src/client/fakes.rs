//! Deterministic stand-ins for the four ports: a scripted server, shared storage, a virtual clock and
//! a cooperative lock. Everything is single-threaded; `send` yields once so concurrent callers really
//! interleave under `join_all`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use shared::paths;

use super::ports::{ApiRequest, Clock, RawResponse, RefreshLock, TokenStore, Transport, TransportError};
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

#[derive(Default)]
struct ServerState {
    generation: u32,
    access: String,
    refresh: String,
    refresh_calls: u32,
    requests: Vec<(String, Option<String>, Option<String>)>,
    always_401: Vec<String>,
    before_answering: Option<(String, Hook)>,
}

/// The server's token rules in miniature: one live access token, one live refresh token, strict
/// rotation (a presented old token is refused as reused).
#[derive(Clone)]
pub(crate) struct FakeServer {
    state: Rc<RefCell<ServerState>>,
    mode: Rc<RefCell<RefreshMode>>,
    /// While set, refresh answers wait: lets a test line up callers behind a refresh in flight.
    hold_refreshes: Rc<Cell<bool>>,
    pub(crate) access_lifetime_s: u64,
}

impl FakeServer {
    pub(crate) fn new() -> Self {
        let server = Self {
            state: Rc::default(),
            mode: Rc::new(RefCell::new(RefreshMode::Normal)),
            hold_refreshes: Rc::default(),
            access_lifetime_s: 60,
        };
        server.rotate();
        server
    }

    fn rotate(&self) -> (String, String) {
        let mut state = self.state.borrow_mut();
        state.generation += 1;
        state.access = format!("access-{}", state.generation);
        state.refresh = format!("refresh-{}", state.generation);
        (state.access.clone(), state.refresh.clone())
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

    /// Every request seen: (path, bearer, body).
    pub(crate) fn requests(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.state.borrow().requests.clone()
    }

    pub(crate) fn always_401(&self, path: &str) {
        self.state.borrow_mut().always_401.push(path.to_owned());
    }

    /// Runs `hook` just before the next answer to `path` goes out (another tab acting meanwhile).
    pub(crate) fn before_answering(&self, path: &str, hook: impl FnOnce(&FakeServer) + 'static) {
        self.state.borrow_mut().before_answering = Some((path.to_owned(), Box::new(hook)));
    }

    /// What another tab's successful refresh leaves in storage.
    pub(crate) fn rotate_for_other_tab(&self, store: &FakeStore, now: i64) {
        let (access, refresh) = self.rotate();
        let mut session = store.load().expect("a session to rotate");
        session.access_token = access;
        session.refresh_token = refresh;
        session.access_issued_at = now;
        session.access_expires_at = now + 60_000;
        store.save(&session);
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
            let (access, refresh) = self.rotate();
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
            if body["refreshToken"] != self.state.borrow().refresh.as_str() {
                return Ok(reply(403, "refresh_token_reused"));
            }
            let (access, refresh) = self.rotate();
            return Ok(RawResponse { status: 200, body: self.token_body(&access, &refresh) });
        }
        let state = self.state.borrow();
        if state.always_401.contains(&request.path) || bearer != Some(state.access.as_str()) {
            return Ok(reply(401, "invalid_token"));
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
#[derive(Clone, Default)]
pub(crate) struct FakeStore(Rc<RefCell<Option<StoredSession>>>);

impl TokenStore for FakeStore {
    fn load(&self) -> Option<StoredSession> {
        self.0.borrow().clone()
    }
    fn save(&self, session: &StoredSession) {
        *self.0.borrow_mut() = Some(session.clone());
    }
    fn clear(&self) {
        *self.0.borrow_mut() = None;
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
