//! The session as this tab sees it: storage, or a newer session storage refused, kept in memory.

use std::cell::Cell;

use super::RefreshClient;
use crate::error::ClientError;
use crate::events::{ClientEvent, Counters};
use crate::protocol::{Protocol, TokenGrant};
use crate::session::Session;

/// A session storage refused, and what storage holds instead.
pub(super) struct Unsaved<U> {
    session: Session<U>,
    replaces: Option<Session<U>>,
}

impl<P: Protocol + 'static> RefreshClient<P> {
    /// The current session, if any: what storage holds (possibly rotated by another tab), or a newer
    /// one this tab could not save yet, which is offered to storage again now.
    pub fn session(&self) -> Option<Session<P::User>> {
        let stored = self.inner.store.load();
        let Some(unsaved) = self.inner.unsaved.borrow_mut().take() else { return stored };
        // A logout or a newer login (in any tab) wins over a session this tab could not save.
        let still_ours = match (&stored, &unsaved.replaces) {
            (None, None) => true,
            (Some(stored), Some(replaced)) => stored.same_tokens(replaced) || stored.same_tokens(&unsaved.session),
            (Some(stored), None) => stored.same_tokens(&unsaved.session),
            (None, Some(_)) => false,
        };
        if !still_ours {
            return stored;
        }
        if self.inner.store.save(&unsaved.session).is_ok() {
            return Some(unsaved.session);
        }
        let session = unsaved.session.clone();
        *self.inner.unsaved.borrow_mut() = Some(unsaved);
        Some(session)
    }

    /// Saves `session`; when storage refuses, keeps it in memory and says so.
    pub(super) fn persist(&self, session: Session<P::User>) -> Session<P::User> {
        if let Err(error) = self.inner.store.save(&session) {
            self.emit(ClientEvent::SessionNotSaved { reason: error.reason().to_owned() });
            let replaces = self.inner.store.load();
            *self.inner.unsaved.borrow_mut() = Some(Unsaved { session: session.clone(), replaces });
        }
        self.emit(ClientEvent::TokensChanged { access_expires_at: session.access_expires_at });
        session
    }

    /// Puts a new access token into the current session, keeping its refresh token: what a
    /// re-authentication hands back. Under the refresh lock, so it lands after (or before) any refresh
    /// in flight, never in the middle of one.
    pub(crate) async fn replace_access_token(&self, grant: &TokenGrant) -> Result<(), ClientError> {
        let _guard = self.inner.lock.acquire_dyn().await;
        let current = self.session().ok_or(ClientError::SessionExpired)?;
        self.persist(current.rotated(grant, self.inner.clock.now_ms(), false));
        Ok(())
    }

    pub(super) fn forget_session(&self) {
        self.inner.unsaved.borrow_mut().take();
        self.inner.store.clear();
    }
}

/// Counts a request as in flight until it settles, or until its future is dropped unfinished.
pub(super) struct InFlightRequest<'a>(&'a Cell<Counters>);

impl<'a> InFlightRequest<'a> {
    pub(super) fn enter(counters: &'a Cell<Counters>) -> Self {
        update_counters(counters, |c| c.in_flight += 1);
        Self(counters)
    }
}

impl Drop for InFlightRequest<'_> {
    fn drop(&mut self) {
        update_counters(self.0, |c| c.in_flight = c.in_flight.saturating_sub(1));
    }
}

pub(super) fn update_counters(counters: &Cell<Counters>, change: impl FnOnce(&mut Counters)) {
    let mut value = counters.get();
    change(&mut value);
    counters.set(value);
}
