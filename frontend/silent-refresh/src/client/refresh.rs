//! The refresh queue: one refresh in flight per tab, shared by every caller that needs it; a backoff
//! after transient failures that nobody sleeps through; and writes that a logout or newer login wins.

use std::cell::Cell;
use std::rc::Rc;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};

use super::RefreshClient;
use crate::error::{ClientError, TransportError};
use crate::events::{ClientEvent, LogoutReason, RefreshReason};
use crate::protocol::{Protocol, RefreshOutcome};
use crate::session::Session;

type RefreshResult<U> = Result<Session<U>, ClientError>;

/// The one refresh running in this tab, awaited by everyone who needs it.
pub(super) struct InFlight<U> {
    future: Shared<LocalBoxFuture<'static, RefreshResult<U>>>,
    /// Requests that got 401 and will be replayed once this refresh settles.
    replays: Rc<Cell<u32>>,
}

/// Transient failures in a row, and when the next refresh may be tried.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Backoff {
    failures: u32,
    retry_at: i64,
}

impl<P: Protocol + 'static> RefreshClient<P> {
    /// Joins the running refresh or starts one for `stale` (the session whose token is due or bad).
    /// During the backoff after a transient failure nobody waits: the caller gets `Network` at once.
    pub(super) async fn refresh(
        &self,
        reason: RefreshReason,
        stale: &Session<P::User>,
        for_replay: bool,
    ) -> RefreshResult<P::User> {
        let (future, replays) = {
            let mut slot = self.inner.in_flight.borrow_mut();
            if slot.is_none()
                && let Some(wait) = self.backoff_remaining_ms()
            {
                let message = format!("refresh failed recently; next attempt in {wait} ms");
                return Err(ClientError::Network(TransportError::new(message)));
            }
            let in_flight = slot.get_or_insert_with(|| {
                let client = self.clone();
                let stale = stale.clone();
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

    pub(super) fn backoff_remaining_ms(&self) -> Option<i64> {
        Some(self.inner.backoff.get().retry_at - self.inner.clock.now_ms()).filter(|wait| *wait > 0)
    }

    /// One refresh attempt: serialise across tabs, adopt another tab's rotation when there is one,
    /// otherwise ask the server, and write the outcome only if the session is still the one this
    /// refresh started from.
    async fn run_refresh(&self, reason: RefreshReason, stale: &Session<P::User>) -> RefreshResult<P::User> {
        let inner = &self.inner;
        self.emit(ClientEvent::RefreshStarted { reason });
        let started = inner.clock.now_ms();

        let _guard = inner.lock.acquire_dyn().await;
        // Inside the lock, storage is the truth: another tab may have refreshed while we waited.
        let stored = self.session().ok_or(ClientError::SessionExpired)?;
        let margin = &inner.config.refresh_margin;
        if stored.access_token != stale.access_token && stored.refresh_due_at(margin) > inner.clock.now_ms() {
            return Ok(self.adopt(stored));
        }

        // Sent straight to the transport: the refresh call itself is never intercepted. A refresh that
        // outlives its timeout is a transient failure, never a logout.
        let request = inner.protocol.refresh_request(stored.refresh_token.as_deref());
        let timeout = Some(inner.config.refresh_timeout);
        let response = match self.with_timeout(self.on_wire(&request, None), timeout).await {
            Ok(response) => response,
            Err(error) => return Err(self.transient(ClientError::Network(error), None)),
        };
        match inner.protocol.classify_refresh(&response) {
            RefreshOutcome::Rotated(grant) => {
                // Compare-and-set: a logout or a newer login that landed while this refresh was on the
                // wire wins, and the rotated pair is dropped. (Racing tabs inside the grace window get
                // the same successor, which counts as unchanged.)
                let current = self.session();
                let unchanged = current.as_ref().is_some_and(|current| {
                    current.same_tokens(&stored)
                        || (grant.refresh_token.is_some() && current.refresh_token == grant.refresh_token)
                });
                if !unchanged {
                    return Err(ClientError::SessionExpired);
                }
                // A token refreshed late (expired, or refused by the server) may be one of a herd that
                // lost theirs together; its successor starts a new schedule, spread wider.
                let on_schedule =
                    reason == RefreshReason::Proactive && started < stored.access_expires_at && !self.refused(&stored);
                let now = inner.clock.now_ms();
                let session = self.persist(stored.rotated(&grant, now, on_schedule));
                inner.backoff.set(Backoff::default());
                self.bump(|c| c.refreshes += 1);
                let duration_ms = u64::try_from(now - started).unwrap_or(0);
                self.emit(ClientEvent::RefreshSucceeded { duration_ms });
                Ok(session)
            }
            RefreshOutcome::Final(body) => Err(self.final_failure(&body.message, &stored)),
            RefreshOutcome::Transient(reason) => {
                // A server that says when to come back (429, 503 with Retry-After) is believed.
                let retry_after = matches!(response.status, 429 | 503).then(|| response.retry_after_secs()).flatten();
                Err(self.transient(ClientError::Network(TransportError::new(reason)), retry_after))
            }
        }
    }

    fn adopt(&self, session: Session<P::User>) -> Session<P::User> {
        self.bump(|c| c.adopted += 1);
        self.emit(ClientEvent::TokenAdopted);
        self.emit(ClientEvent::TokensChanged { access_expires_at: session.access_expires_at });
        session
    }

    /// The session is kept; no refresh is tried for a while (200 ms doubling to 30 s by default, or
    /// the server's `Retry-After` when it is longer, within the same cap).
    fn transient(&self, error: ClientError, retry_after_secs: Option<u64>) -> ClientError {
        let failures = self.inner.backoff.get().failures + 1;
        let cap = u64::try_from(self.inner.config.backoff_cap.as_millis()).unwrap_or(u64::MAX);
        let asked = retry_after_secs.map_or(0, |secs| secs.saturating_mul(1000)).min(cap);
        let delay = self.inner.config.backoff_ms(failures).max(asked);
        let retry_at = self.inner.clock.now_ms().saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        self.inner.backoff.set(Backoff { failures, retry_at });
        self.bump(|c| c.refresh_failures += 1);
        self.emit(ClientEvent::RefreshFailed { reason: error.to_string(), retry_in_ms: Some(delay) });
        error
    }

    /// The session `ended` is over: forget it (unless a newer one replaced it meanwhile) and tell
    /// every waiter.
    fn final_failure(&self, reason: &str, ended: &Session<P::User>) -> ClientError {
        self.bump(|c| c.refresh_failures += 1);
        self.emit(ClientEvent::RefreshFailed { reason: reason.to_owned(), retry_in_ms: None });
        if self.session().is_some_and(|current| current.same_tokens(ended)) {
            self.forget_session();
            self.emit(ClientEvent::LoggedOut { reason: LogoutReason::SessionExpired(reason.to_owned()) });
        }
        ClientError::SessionExpired
    }
}
