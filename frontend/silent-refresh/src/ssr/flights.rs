//! The refresh table of one app-server process: every request presenting the same refresh token
//! shares one refresh (single flight) and then its answer, for as long as the access token lives.
//!
//! Keys are SHA-256 digests, never the tokens. An entry for the presented token keeps the successor
//! so that every response to it (five tabs restored together) sets the same successor cookie; an
//! entry for the successor carries the same access token, so the next page load refreshes nothing.
//! Several app servers each have a table; the auth server's grace window keeps them on one chain.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use tokio::sync::OnceCell;

use super::auth_server::{Grant, RefreshAnswer};

/// How long a refused token is remembered as refused (its requests cost no call meanwhile).
const REFUSED_FOR: Duration = Duration::from_secs(60);

type Digest = [u8; 32];

/// What a presented refresh token stands for now.
#[derive(Clone)]
pub(crate) enum Outcome {
    Live(Arc<Grant>),
    /// Refused by the auth server: these headers clear its cookie.
    Ended(Arc<Vec<HeaderValue>>),
    Unavailable,
}

struct Flight {
    outcome: OnceCell<Outcome>,
    born: Instant,
    /// A logout through the layer ended this token's session, possibly while its refresh was on the
    /// wire: whatever the refresh brings back is not handed out.
    logged_out: AtomicBool,
}

impl Flight {
    fn new() -> Self {
        Self { outcome: OnceCell::new(), born: Instant::now(), logged_out: AtomicBool::new(false) }
    }

    fn settled(outcome: Outcome) -> Self {
        Self { outcome: OnceCell::new_with(Some(outcome)), ..Self::new() }
    }

    /// Whether a request may join this flight or use its answer.
    fn usable(&self, ahead: Duration) -> bool {
        match self.outcome.get() {
            None => true,
            Some(Outcome::Live(grant)) => grant.is_live(ahead),
            Some(Outcome::Ended(_)) => self.born.elapsed() < REFUSED_FOR,
            // Asked again by the next request (a retry after a 401 must not find the outage cached);
            // requests that arrive together still share one attempt.
            Some(Outcome::Unavailable) => false,
        }
    }
}

#[derive(Default)]
pub(crate) struct Flights {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Digest, Arc<Flight>>,
    sweep_at: usize,
}

impl Table {
    fn insert(&mut self, key: Digest, flight: Arc<Flight>, ahead: Duration) {
        // Bounded by the live sessions: dead entries go whenever the table has doubled since the last sweep.
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, flight| flight.usable(ahead));
            self.sweep_at = (self.entries.len() * 2).max(1024);
        }
        self.entries.insert(key, flight);
    }
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").field("entries", &self.lock().entries.len()).finish()
    }
}

impl Flights {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic elsewhere never leaves the map half-changed: every change is one insert or retain.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `token` stands for: a live grant from the table, or the answer of one refresh shared by
    /// every request that presents it meanwhile.
    pub(crate) async fn resolve<F, Fut>(&self, token: &str, ahead: Duration, refresh: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = RefreshAnswer>,
    {
        let key = digest(token);
        let flight = {
            let mut table = self.lock();
            match table.entries.get(&key) {
                Some(flight) if flight.usable(ahead) => Arc::clone(flight),
                _ => {
                    let flight = Arc::new(Flight::new());
                    table.insert(key, Arc::clone(&flight), ahead);
                    flight
                }
            }
        };
        let outcome = flight
            .outcome
            .get_or_init(|| async {
                match refresh().await {
                    RefreshAnswer::Granted(grant) => {
                        let grant = Arc::new(grant);
                        if let Some(successor) = &grant.successor {
                            let next = Flight::settled(Outcome::Live(Arc::new(grant.for_successor())));
                            self.lock().insert(digest(&successor.token), Arc::new(next), ahead);
                        }
                        Outcome::Live(grant)
                    }
                    RefreshAnswer::Refused(clear) => Outcome::Ended(Arc::new(clear)),
                    RefreshAnswer::Unavailable => Outcome::Unavailable,
                }
            })
            .await
            .clone();
        // Checked after the answer is stored, and `end` sets the mark before it looks at the answer:
        // whichever comes second retires the grant (and the successor's copy with it).
        if flight.logged_out.load(Ordering::SeqCst) {
            if let Outcome::Live(grant) = &outcome {
                grant.retire();
            }
            return Outcome::Ended(Arc::new(Vec::new()));
        }
        outcome
    }

    /// A session that starts here (a login through the layer): its refresh token maps to its grant.
    pub(crate) fn adopt(&self, token: &str, grant: Grant, ahead: Duration) {
        let flight = Flight::settled(Outcome::Live(Arc::new(grant)));
        self.lock().insert(digest(token), Arc::new(flight), ahead);
    }

    /// The session of `token` ended here (a logout): no request presenting it, or a token it shares a
    /// grant with, gets its access token any more.
    pub(crate) fn end(&self, token: &str) {
        let removed = self.lock().entries.remove(&digest(token));
        let Some(flight) = removed else { return };
        flight.logged_out.store(true, Ordering::SeqCst);
        if let Some(Outcome::Live(grant)) = flight.outcome.get() {
            grant.retire();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

fn digest(token: &str) -> Digest {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut key = [0; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::ssr::auth_server::Successor;

    fn grant(successor: Option<&str>, lives: Duration) -> Grant {
        Grant {
            access_token: "access".to_owned(),
            expires_at: Instant::now() + lives,
            expires_at_unix: 0,
            lifetime: Duration::from_secs(3600),
            user: serde_json::json!({"username": "ada"}),
            successor: successor.map(|token| Successor { token: token.to_owned(), max_age: None, set_cookie: vec![] }),
            retired: Arc::new(AtomicBool::new(false)),
        }
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    async fn never_called() -> RefreshAnswer {
        unreachable!("the successor's entry answers from the table")
    }

    #[test]
    fn concurrent_requests_share_one_refresh_and_the_successor_needs_none() {
        let flights = Flights::default();
        let calls = AtomicUsize::new(0);
        let refresh = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            RefreshAnswer::Granted(grant(Some("next"), Duration::from_secs(60)))
        };
        let ahead = Duration::from_secs(1);
        let outcomes = run(futures::future::join_all((0..5).map(|_| flights.resolve("first", ahead, refresh))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Live(g) if g.successor.is_some())));
        let next = run(flights.resolve("next", ahead, refresh));
        assert!(matches!(next, Outcome::Live(g) if g.successor.is_none()));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the successor reuses the grant");
    }

    #[test]
    fn a_token_close_to_expiry_is_refreshed_again_and_a_logout_ends_every_entry_of_its_grant() {
        let flights = Flights::default();
        let calls = AtomicUsize::new(0);
        let short = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            RefreshAnswer::Granted(grant(Some("next"), Duration::from_secs(5)))
        };
        let ahead = Duration::from_secs(10);
        run(flights.resolve("first", ahead, short));
        run(flights.resolve("first", ahead, short));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "5 s left is inside the 10 s margin");

        let long = || async { RefreshAnswer::Granted(grant(Some("second"), Duration::from_secs(60))) };
        let Outcome::Live(first) = run(flights.resolve("one", ahead, long)) else { panic!("live") };
        let Outcome::Live(second) = run(flights.resolve("second", ahead, never_called)) else { panic!("live") };
        assert!(first.is_live(ahead) && second.is_live(ahead));
        flights.end("second");
        assert!(!first.is_live(ahead), "the presented token and its successor share one access token…");
        assert!(!second.is_live(ahead), "…and it is retired through either");
    }

    #[test]
    fn a_token_shorter_than_the_margin_is_still_shared_for_half_its_life() {
        let flights = Flights::default();
        let calls = AtomicUsize::new(0);
        let refresh = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut grant = grant(None, Duration::from_secs(3));
            grant.lifetime = Duration::from_secs(3);
            RefreshAnswer::Granted(grant)
        };
        let ahead = Duration::from_secs(10);
        run(flights.resolve("t", ahead, refresh));
        run(flights.resolve("t", ahead, refresh));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "3 s tokens with a 10 s margin refresh at 1.5 s, not every time");
    }

    #[test]
    fn a_logout_while_the_refresh_is_on_the_wire_hands_out_nothing_it_brings_back() {
        let flights = Flights::default();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let refresh = || async move {
            let _ = wait.await;
            RefreshAnswer::Granted(grant(Some("next"), Duration::from_secs(60)))
        };
        let (page, ()) = run(async {
            let page = flights.resolve("first", Duration::ZERO, refresh);
            let logout = async {
                tokio::task::yield_now().await; // the page's refresh has started
                flights.end("first");
                let _ = release.send(());
            };
            futures::join!(page, logout)
        });
        assert!(matches!(page, Outcome::Ended(_)), "the page that raced the logout is logged out");
        let next = run(flights.resolve("next", Duration::ZERO, || async { RefreshAnswer::Refused(vec![]) }));
        assert!(matches!(next, Outcome::Ended(_)), "the successor is not served from the table");
    }

    #[test]
    fn refused_tokens_stay_refused_and_an_outage_is_asked_again_by_the_next_request() {
        let flights = Flights::default();
        let refused = || async { RefreshAnswer::Refused(vec![]) };
        assert!(matches!(run(flights.resolve("dead", Duration::ZERO, refused)), Outcome::Ended(_)));
        let never = || async { unreachable!("a refused token is not sent again") };
        assert!(matches!(run(flights.resolve("dead", Duration::ZERO, never)), Outcome::Ended(_)));
        assert_eq!(flights.len(), 1);

        let down = || async { RefreshAnswer::Unavailable };
        assert!(matches!(run(flights.resolve("t", Duration::ZERO, down)), Outcome::Unavailable));
        let up = || async { RefreshAnswer::Granted(grant(None, Duration::from_secs(60))) };
        assert!(matches!(run(flights.resolve("t", Duration::ZERO, up)), Outcome::Live(_)));
    }
}
