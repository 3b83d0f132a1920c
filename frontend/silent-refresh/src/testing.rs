//! Deterministic stand-ins for the ports, public so an app can test its own code against the client:
//! a scripted server that applies the same token rules as a real one (rotation, a grace window,
//! revocation on reuse and on logout), shared storage that can refuse to save, a virtual clock and a
//! cooperative lock. Everything is single-threaded; the server yields once per request so concurrent
//! callers really interleave.
//!
//! ```
//! use futures::executor::block_on;
//! use silent_refresh::testing::{FakeClock, FakeLock, FakeServer, FakeStore, TestUser};
//! use silent_refresh::{Config, EnvelopeProtocol, RefreshClient, Request};
//!
//! let clock = FakeClock::new();
//! let server = FakeServer::new(&clock);
//! let client = RefreshClient::new(
//!     EnvelopeProtocol::<TestUser>::default(),
//!     server.clone(),
//!     FakeStore::default(),
//!     clock.clone(),
//!     FakeLock::default(),
//!     Config::default(),
//! );
//! block_on(client.login(&FakeServer::login_request())).unwrap();
//! server.expire_access();
//! let answer: String = block_on(client.fetch(&Request::get("/api/anything"))).unwrap();
//! assert_eq!((answer.as_str(), server.refresh_calls()), ("pong", 1));
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::ports::{Clock, MemoryStore, RefreshLock, TokenStore};
use crate::session::Session;

mod server;

pub use server::{FakeServer, GRACE_MS, RefreshMode, SeenRequest};

/// The paths [`FakeServer`] answers, as [`EnvelopeProtocol::default`](crate::EnvelopeProtocol) uses them.
pub mod paths {
    /// Login.
    pub const LOGIN: &str = "/api/auth/login";
    /// Refresh.
    pub const REFRESH: &str = "/api/auth/refresh-token";
    /// Logout (revokes the session).
    pub const LOGOUT: &str = "/api/auth/logout";
    /// "Sign out other devices" (the fake has none to end: it answers that it ended one).
    pub const LOGOUT_OTHERS: &str = "/api/auth/logout-others";
    /// Password change (answers like `LOGOUT_OTHERS`).
    pub const CHANGE_PASSWORD: &str = "/api/account/password";
    /// Re-authentication: the password [`PASSWORD`](super::PASSWORD) gets a new access token.
    pub const REAUTHENTICATE: &str = "/api/auth/reauthenticate";
}

/// The password the fake server's re-authentication accepts.
pub const PASSWORD: &str = "correct horse battery";

/// The user the fake server's login answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestUser {
    /// Always `ann@example.com`.
    pub email: String,
}

/// Resolves on its second poll, letting every other ready future run in between: for tests of your
/// own that need the client's other tasks (a refresh in flight, a queued request) to take a step.
pub async fn yield_now() {
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

/// Storage shared by every clone: two clients holding clones behave like two tabs of one browser.
/// [`FakeStore::refuse_saves`] makes every save fail, as a full or blocked `localStorage` does.
#[derive(Debug)]
pub struct FakeStore<U = TestUser> {
    inner: MemoryStore<U>,
    refuse: Rc<Cell<bool>>,
}

impl<U> Default for FakeStore<U> {
    fn default() -> Self {
        Self { inner: MemoryStore::new(), refuse: Rc::default() }
    }
}

impl<U> Clone for FakeStore<U> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), refuse: Rc::clone(&self.refuse) }
    }
}

impl<U> FakeStore<U> {
    /// While set, every save fails.
    pub fn refuse_saves(&self, refuse: bool) {
        self.refuse.set(refuse);
    }
}

impl<U: Clone> TokenStore<U> for FakeStore<U> {
    fn load(&self) -> Option<Session<U>> {
        self.inner.load()
    }
    fn save(&self, session: &Session<U>) -> Result<(), StorageError> {
        if self.refuse.get() {
            return Err(StorageError::new("QuotaExceededError"));
        }
        self.inner.save(session)
    }
    fn clear(&self) {
        self.inner.clear();
    }
}

/// Virtual time, shared by clones: it moves only when a test calls [`FakeClock::advance`], which also
/// wakes every [`sleep`](Clock::sleep) whose time has come.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Rc<Cell<i64>>,
    sleepers: Rc<std::cell::RefCell<Vec<Sleeper>>>,
}

/// A pending [`Clock::sleep`]: when it ends, and how to wake it.
type Sleeper = (i64, futures::channel::oneshot::Sender<()>);

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeClock {
    /// A clock at 2023-11-14T22:13:20Z.
    pub fn new() -> Self {
        Self { now: Rc::new(Cell::new(1_700_000_000_000)), sleepers: Rc::default() }
    }

    /// Moves time forward, waking the sleeps that are due.
    pub fn advance(&self, ms: i64) {
        let now = self.now.get() + ms;
        self.now.set(now);
        let due: Vec<_> = {
            let mut sleepers = self.sleepers.borrow_mut();
            let (due, waiting) = sleepers.drain(..).partition(|(at, _)| *at <= now);
            *sleepers = waiting;
            due
        };
        for (_, wake) in due {
            let _ = wake.send(());
        }
    }

    /// Sleeps not yet woken (for tests that check a timeout is armed).
    pub fn sleepers(&self) -> usize {
        self.sleepers.borrow().len()
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now.get()
    }

    fn sleep(&self, ms: u64) -> futures::future::LocalBoxFuture<'static, ()> {
        let (wake, woken) = futures::channel::oneshot::channel();
        let at = self.now.get().saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        self.sleepers.borrow_mut().push((at, wake));
        Box::pin(async move {
            // A clock dropped with sleepers pending never wakes them: time stopped.
            if woken.await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}

/// A cooperative lock shared by clones (like a Web Lock shared by tabs). While
/// [`FakeLock::set_unavailable`] is on, every acquire gives up at once, as without the Web Locks API.
#[derive(Debug, Clone, Default)]
pub struct FakeLock {
    held: Rc<Cell<bool>>,
    unavailable: Rc<Cell<bool>>,
}

impl FakeLock {
    /// Makes every acquire fail at once (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.set(unavailable);
    }
}

/// Releases a [`FakeLock`] when dropped.
#[derive(Debug)]
pub struct FakeGuard(Rc<Cell<bool>>);

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
        // A real lock would wait for ever; a test would hang. Neither may pass as "no lock".
        panic!("FakeLock is still held after 10 000 polls: a guard was leaked, or its holder never ends")
    }
}
