//! The seams between the refresh logic and the outside world. The browser feature implements them
//! with fetch, `localStorage`, `Date.now`/`setTimeout` and Web Locks; the testing feature with fakes.
//!
//! Every future here is `!Send` on purpose: the browser is single-threaded, and so are the tests.
#![allow(async_fn_in_trait)]

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use futures::future::LocalBoxFuture;

use crate::error::{StorageError, TransportError};
use crate::http::{Request, Response};
use crate::session::Session;

/// Sends one HTTP request, with `Authorization: Bearer <token>` when a token is given.
pub trait Transport {
    /// Sends `request`; an HTTP answer of any status is `Ok`.
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError>;
}

/// Where the session lives: `localStorage` (shared by every tab, survives reloads) or memory only.
pub trait TokenStore<U> {
    /// The stored session, if any.
    fn load(&self) -> Option<Session<U>>;
    /// Replaces the stored session. A failure is not fatal: the client keeps the session in memory and
    /// keeps offering it to storage.
    fn save(&self, session: &Session<U>) -> Result<(), StorageError>;
    /// Forgets the session.
    fn clear(&self);
}

/// Wall-clock time in Unix milliseconds, and a way to wait.
pub trait Clock {
    /// Now.
    fn now_ms(&self) -> i64;

    /// Resolves after `ms` milliseconds. Timeouts are built on it; the default never resolves, which
    /// turns every timeout off for a clock that cannot sleep.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        let _ = ms;
        Box::pin(futures::future::pending())
    }
}

/// Mutual exclusion across tabs, held while refreshing, logging in and logging out.
pub trait RefreshLock {
    /// Held until dropped.
    type Guard;
    /// Waits a bounded time. `None` means the lock could not be had; the caller goes on without it
    /// and relies on compare-and-set writes and the server's grace window.
    async fn acquire(&self) -> Option<Self::Guard>;
}

/// A store that keeps the session in this tab's memory only: nothing for another script to read from
/// storage, nothing that survives a reload. Clones share one session.
#[derive(Debug)]
pub struct MemoryStore<U>(Rc<RefCell<Option<Session<U>>>>);

impl<U> MemoryStore<U> {
    /// An empty store.
    pub fn new() -> Self {
        Self(Rc::new(RefCell::new(None)))
    }
}

impl<U> Default for MemoryStore<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U> Clone for MemoryStore<U> {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

impl<U: Clone> TokenStore<U> for MemoryStore<U> {
    fn load(&self) -> Option<Session<U>> {
        self.0.borrow().clone()
    }
    fn save(&self, session: &Session<U>) -> Result<(), StorageError> {
        *self.0.borrow_mut() = Some(session.clone());
        Ok(())
    }
    fn clear(&self) {
        *self.0.borrow_mut() = None;
    }
}

/// A lock for a client that runs alone (one tab, a test): always granted at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLock;

impl RefreshLock for NoLock {
    type Guard = ();
    async fn acquire(&self) -> Option<()> {
        Some(())
    }
}

/// [`Transport`] as the client holds it: behind a pointer, its future boxed. Implemented for every
/// `Transport`, so users only ever implement the trait with an `async fn`.
pub(crate) trait DynTransport {
    fn send_dyn<'a>(
        &'a self,
        request: &'a Request,
        bearer: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Response, TransportError>>;
}

impl<T: Transport> DynTransport for T {
    fn send_dyn<'a>(
        &'a self,
        request: &'a Request,
        bearer: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(self.send(request, bearer))
    }
}

/// [`RefreshLock`] as the client holds it: its guard boxed, to be dropped like the original.
pub(crate) trait DynLock {
    fn acquire_dyn(&self) -> LocalBoxFuture<'_, Option<Box<dyn Any>>>;
}

impl<L: RefreshLock> DynLock for L
where
    L::Guard: 'static,
{
    fn acquire_dyn(&self) -> LocalBoxFuture<'_, Option<Box<dyn Any>>> {
        Box::pin(async move { self.acquire().await.map(|guard| Box::new(guard) as Box<dyn Any>) })
    }
}
