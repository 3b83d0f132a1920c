//! The refresh core, natively and deterministically, through the public API and the `testing` fakes.

use std::cell::RefCell;
use std::rc::Rc;

use futures::executor::block_on;
use futures::future::join_all;
use silent_refresh::testing::{self, FakeClock, FakeLock, FakeServer, FakeStore, RefreshMode, TestUser, paths};
use silent_refresh::{
    ClientError, ClientEvent, Config, EnvelopeProtocol, LogoutReason, RefreshClient, Request, TokenStore,
};

type Client = RefreshClient<EnvelopeProtocol<TestUser>>;

const ECHO: &str = "/api/echo";
const ME: &str = "/api/me";

struct Tab {
    client: Client,
    events: Rc<RefCell<Vec<ClientEvent>>>,
}

fn tab(server: &FakeServer, store: &FakeStore, clock: &FakeClock, lock: &FakeLock) -> Tab {
    let client = RefreshClient::new(
        EnvelopeProtocol::default(),
        server.clone(),
        store.clone(),
        clock.clone(),
        lock.clone(),
        Config::default(),
    );
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    client.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    Tab { client, events }
}

struct World {
    server: FakeServer,
    store: FakeStore,
    clock: FakeClock,
    lock: FakeLock,
}

impl World {
    fn new() -> Self {
        let clock = FakeClock::new();
        Self { server: FakeServer::new(&clock), store: FakeStore::default(), clock, lock: FakeLock::default() }
    }

    fn tab(&self) -> Tab {
        tab(&self.server, &self.store, &self.clock, &self.lock)
    }

    fn logged_in_tab(&self) -> Tab {
        let tab = self.tab();
        block_on(tab.client.login(&FakeServer::login_request())).expect("login");
        tab
    }
}

/// Lets held refresh answers go once every caller has had plenty of turns to line up behind them
/// (`join_all` over many futures polls them in budgeted batches, so a turn is not a full pass).
async fn release_refreshes_later(server: &FakeServer) {
    for _ in 0..1_000 {
        testing::yield_now().await;
    }
    server.hold_refreshes(false);
}

fn echo() -> Request {
    Request::get(ECHO)
}

#[test]
fn a_hundred_concurrent_401s_make_exactly_one_refresh_and_all_succeed() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();

    let request = echo();
    world.server.hold_refreshes(true);
    let burst = join_all((0..100).map(|_| tab.client.send(&request)));
    let results = block_on(futures::future::join(burst, release_refreshes_later(&world.server))).0;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(world.server.refresh_calls(), 1);
    assert_eq!(tab.client.counters().replays, 100);
    assert!(tab.events.borrow().contains(&ClientEvent::RequestsReplayed { count: 100 }));
    assert_eq!(tab.client.counters().in_flight, 0);
}

#[test]
fn a_refused_refresh_rejects_every_waiter_clears_storage_and_leaves_nothing_pending() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::Status(403, "refresh_token_invalid"));

    let request = echo();
    let results = block_on(join_all((0..10).map(|_| tab.client.send(&request))));

    assert!(results.iter().all(|r| matches!(r, Err(ClientError::SessionExpired))), "{results:?}");
    assert_eq!(world.server.refresh_calls(), 1);
    assert!(world.store.load().is_none(), "tokens must be removed");
    let session_events: Vec<ClientEvent> = tab
        .events
        .borrow()
        .iter()
        .filter(|e| !matches!(e, ClientEvent::RequestSent { .. } | ClientEvent::RequestAnswered { .. }))
        .cloned()
        .collect();
    assert!(matches!(session_events.last(), Some(ClientEvent::LoggedOut { reason: LogoutReason::SessionExpired(_) })));
    // Nothing is left waiting: the next call settles at once, without another refresh.
    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));
    assert_eq!(world.server.refresh_calls(), 1);
}

#[test]
fn a_401_for_a_token_already_replaced_is_replayed_without_a_refresh() {
    let world = World::new();
    let tab = world.logged_in_tab();
    let store = world.store.clone();
    // While the request is on the wire, another tab refreshes: the server no longer takes our token.
    world.server.before_answering(ECHO, move |server| server.rotate_for_other_tab(&store));

    block_on(tab.client.send(&echo())).expect("replayed with the newer token");

    assert_eq!(world.server.refresh_calls(), 0);
    assert_eq!(tab.client.counters().replays, 1);
}

#[test]
fn a_401_from_the_refresh_endpoint_is_final_and_does_not_loop() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::Status(401, "invalid_token"));

    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));

    let paths: Vec<_> = world.server.requests().into_iter().map(|(path, ..)| path).collect();
    assert_eq!(paths, [paths::LOGIN, ECHO, paths::REFRESH]);
}

#[test]
fn a_401_on_the_replay_is_final() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.always_401(ME);

    let result = block_on(tab.client.send(&Request::get(ME)));

    assert!(matches!(result, Err(ClientError::Api { status: 401, .. })), "{result:?}");
    assert_eq!(world.server.refresh_calls(), 1);
    let me_calls = world.server.requests().iter().filter(|(path, ..)| path == ME).count();
    assert_eq!(me_calls, 2, "sent once, replayed once");
    assert!(world.store.load().is_some(), "a refused replay is not a logout");
}

/// The `retry_in_ms` of every transient refresh failure so far.
fn retry_delays(tab: &Tab) -> Vec<u64> {
    tab.events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RefreshFailed { retry_in_ms, .. } => *retry_in_ms,
            _ => None,
        })
        .collect()
}

#[test]
fn a_network_error_during_refresh_keeps_the_session_and_backs_off_without_making_anyone_wait() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::NetworkDown);

    for delay in [200, 400, 800] {
        // The first call of each round tries a refresh; the rest fail at once during the backoff.
        for _ in 0..3 {
            assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::Network(_))));
        }
        world.clock.advance(delay);
    }
    assert_eq!(world.server.refresh_calls(), 3, "no refresh during a backoff");
    assert_eq!(retry_delays(&tab), [200, 400, 800], "200 ms doubling between attempts");
    assert!(world.store.load().is_some(), "a network blip must not log out");
    assert!(!tab.events.borrow().iter().any(|e| matches!(e, ClientEvent::LoggedOut { .. })));

    world.server.set_mode(RefreshMode::Normal);
    block_on(tab.client.send(&echo())).expect("recovers once the network is back");
    world.server.expire_access();
    block_on(tab.client.send(&echo())).expect("and the backoff was reset");
    world.server.set_mode(RefreshMode::NetworkDown);
    world.server.expire_access();
    let _ = block_on(tab.client.send(&echo()));
    assert_eq!(retry_delays(&tab).last(), Some(&200));
}

#[test]
fn backoff_is_capped_at_thirty_seconds() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::Status(503, "internal"));
    for _ in 0..12 {
        assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::Network(_))));
        world.clock.advance(30_000);
    }
    assert_eq!(retry_delays(&tab).last(), Some(&30_000));
    assert!(world.store.load().is_some());
}

#[test]
fn two_tabs_sharing_storage_and_lock_make_one_refresh_and_both_succeed() {
    let world = World::new();
    let a = world.logged_in_tab();
    let b = world.tab();
    // Both tabs see the token expired by the wall clock and want to refresh at the same moment.
    world.clock.advance(61_000);

    let request = echo();
    let burst_a = join_all((0..5).map(|_| a.client.send(&request)));
    let burst_b = join_all((0..5).map(|_| b.client.send(&request)));
    world.server.hold_refreshes(true);
    let release = release_refreshes_later(&world.server);
    let (results_a, results_b, ()) = block_on(futures::future::join3(burst_a, burst_b, release));

    assert!(results_a.iter().chain(&results_b).all(Result::is_ok));
    assert_eq!(world.server.refresh_calls(), 1);
    assert_eq!(a.client.counters().adopted + b.client.counters().adopted, 1);
}

#[test]
fn the_rotated_refresh_token_is_stored_so_consecutive_expiries_recover() {
    let world = World::new();
    let tab = world.logged_in_tab();
    for round in 1..=3 {
        world.server.expire_access();
        block_on(tab.client.send(&echo())).unwrap_or_else(|e| panic!("expiry {round}: {e}"));
    }
    assert_eq!(world.server.refresh_calls(), 3);
}

#[test]
fn a_proactive_refresh_fires_at_the_margin_and_not_again() {
    let world = World::new();
    let tab = world.logged_in_tab();
    // 60 s tokens: the margin is max(6 s, 5 s) = 6 s, so the refresh is due 54 s after issue, minus this
    // token's draw: a login starts a new schedule, spread over 60% of the lifetime (36 s).
    let issued = silent_refresh::Clock::now_ms(&world.clock);
    let due = tab.client.next_refresh_at().unwrap() - issued;
    assert!((18_000..=54_000).contains(&due), "due {due} ms after issue");
    world.clock.advance(due - 1);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 0);
    world.clock.advance(1);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 1);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 1, "a fresh token is not due: no loop");
}

#[test]
fn a_refresh_on_schedule_keeps_it_and_a_late_or_refused_one_starts_a_new_spread_schedule() {
    let world = World::new();
    let tab = world.logged_in_tab();
    let session = || tab.client.session().unwrap();
    assert!(!session().on_schedule, "a login starts a new schedule");

    // On time: the next refresh comes within the jitter (10%) before the margin, after the first half.
    let due = tab.client.next_refresh_at().unwrap();
    world.clock.advance(due - silent_refresh::Clock::now_ms(&world.clock));
    block_on(tab.client.refresh_if_due()).unwrap();
    assert!(session().on_schedule);
    let next = tab.client.next_refresh_at().unwrap() - session().access_issued_at;
    assert!((48_000..=54_000).contains(&next), "on schedule: due {next} ms after issue");

    // Late: the laptop slept past expiry; the refresh the next request makes starts a new schedule.
    world.clock.advance(61_000);
    block_on(tab.client.send(&echo())).unwrap();
    assert_eq!(world.server.refresh_calls(), 2);
    assert!(!session().on_schedule, "refreshed after expiry");

    // Refused: a 401 on a token that is valid by the clock (a revoked key, say) also starts anew.
    world.server.expire_access();
    block_on(tab.client.send(&echo())).unwrap();
    assert_eq!(world.server.refresh_calls(), 3);
    assert!(!session().on_schedule, "refreshed after a 401");
}

#[test]
fn a_request_past_expiry_by_the_wall_clock_refreshes_first_instead_of_collecting_a_401() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.clock.advance(61_000);
    block_on(tab.client.send(&echo())).unwrap();
    let echo_calls = world.server.requests().iter().filter(|(path, ..)| path == ECHO).count();
    assert_eq!((echo_calls, world.server.refresh_calls()), (1, 1));
}

#[test]
fn a_replayed_post_carries_the_same_body() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    let request = Request::post("/api/things").json(&serde_json::json!({"name": "x", "n": 1})).unwrap();
    block_on(tab.client.send(&request)).unwrap();
    let bodies: Vec<_> =
        world.server.requests().into_iter().filter(|(p, ..)| p == "/api/things").map(|(.., b)| b).collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
}

#[test]
fn logout_clears_storage_and_says_so() {
    let world = World::new();
    let tab = world.logged_in_tab();
    block_on(tab.client.logout());
    assert!(world.store.load().is_none());
    assert_eq!(tab.events.borrow().last(), Some(&ClientEvent::LoggedOut { reason: LogoutReason::UserRequested }));
    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));
}

#[test]
fn a_request_dropped_before_it_settles_is_no_longer_counted_in_flight() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.hold_refreshes(true);
    let request = echo();
    {
        let mut pending = Box::pin(tab.client.send(&request));
        let waker = futures::task::noop_waker();
        let mut context = std::task::Context::from_waker(&waker);
        for _ in 0..10 {
            assert!(pending.as_mut().poll(&mut context).is_pending());
        }
        assert_eq!(tab.client.counters().in_flight, 1);
    }
    assert_eq!(tab.client.counters().in_flight, 0);
}

/// Polls `future` with a no-op waker until it is ready, at most `polls` times. The fakes make progress
/// on every poll, so a future that is not ready after many polls is really waiting on something else.
fn poll_ready<F: std::future::Future>(future: F, polls: usize) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = futures::task::noop_waker();
    let mut context = std::task::Context::from_waker(&waker);
    (0..polls).find_map(|_| match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    })
}

/// 60 s tokens are due 54 s after issue: past the refresh point, still valid for 5 s.
const DUE_BUT_VALID_MS: i64 = 55_000;

#[test]
fn requests_with_a_valid_token_go_out_at_once_while_a_proactive_refresh_hangs() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.clock.advance(DUE_BUT_VALID_MS);
    world.server.hold_refreshes(true);
    let mut proactive = Box::pin(tab.client.refresh_if_due());
    assert!(poll_ready(proactive.as_mut(), 50).is_none(), "the proactive refresh is on the wire");

    let request = echo();
    let burst = join_all((0..20).map(|_| tab.client.send(&request)));
    let results = poll_ready(burst, 10_000).expect("the burst must not wait for the refresh");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let refreshes_sent = world.server.requests().iter().filter(|(path, ..)| path == paths::REFRESH).count();
    assert_eq!(refreshes_sent, 1, "the burst started no refresh of its own");
    world.server.hold_refreshes(false);
    block_on(proactive).expect("the refresh itself completes");
}

#[test]
fn a_failing_refresh_does_not_stop_requests_whose_token_is_still_valid() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.clock.advance(DUE_BUT_VALID_MS);
    world.server.set_mode(RefreshMode::Status(503, "internal"));
    assert!(matches!(block_on(tab.client.refresh_if_due()), Err(ClientError::Network(_))));

    let request = echo();
    for _ in 0..3 {
        let results = block_on(join_all((0..20).map(|_| tab.client.send(&request))));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        // The tick keeps firing during the backoff; it must neither sleep nor call the endpoint.
        block_on(tab.client.refresh_if_due()).unwrap();
    }
    assert_eq!(world.server.refresh_calls(), 1);

    // Once the token really expires, requests need the refresh and report the outage at once.
    world.clock.advance(6_000);
    assert!(matches!(block_on(tab.client.send(&request)), Err(ClientError::Network(_))));
    assert!(world.store.load().is_some(), "an outage is not a logout");
}

#[test]
fn logout_in_this_tab_while_a_refresh_is_on_the_wire_wins() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.lock.set_unavailable(true); // the compare-and-set must hold even without the lock
    world.server.expire_access();
    world.server.hold_refreshes(true);
    let request = echo();
    let mut waiting = Box::pin(tab.client.send(&request));
    assert!(poll_ready(waiting.as_mut(), 50).is_none());

    block_on(tab.client.logout());
    world.server.hold_refreshes(false);

    assert!(matches!(block_on(waiting), Err(ClientError::SessionExpired)));
    assert!(world.store.load().is_none(), "the refresh wrote a logged-out session back");
    assert!(tab.client.session().is_none());
}

#[test]
fn logout_in_another_tab_while_a_refresh_is_on_the_wire_wins() {
    let world = World::new();
    let tab = world.logged_in_tab();
    let other = world.tab();
    world.lock.set_unavailable(true);
    world.server.expire_access();
    let store = world.store.clone();
    // The other tab logs out (clearing shared storage) while our refresh answer is on its way.
    world.server.before_answering(paths::REFRESH, move |_| store.clear());

    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));
    assert!(world.store.load().is_none());
    assert!(other.client.session().is_none());
}

#[test]
fn a_newer_login_while_a_refresh_is_on_the_wire_is_kept_and_nothing_replays_as_that_user() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.lock.set_unavailable(true);
    world.server.expire_access();
    let mut bob = world.store.load().unwrap();
    bob.user.email = "bob@example.com".into();
    bob.refresh_token = Some("bobs-refresh-token".into());
    bob.access_token = "bobs-access-token".into();
    let (store, newer) = (world.store.clone(), bob.clone());
    world.server.before_answering(paths::REFRESH, move |_| store.save(&newer).unwrap());

    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));
    assert_eq!(world.store.load(), Some(bob), "the newer login was overwritten");
    let replayed_as_bob =
        world.server.requests().iter().any(|(_, bearer, _)| bearer.as_deref() == Some("bobs-access-token"));
    assert!(!replayed_as_bob);
}

#[test]
fn a_login_in_another_tab_waits_for_a_refresh_that_holds_the_lock() {
    let world = World::new();
    let a = world.logged_in_tab();
    let b = world.tab();
    world.clock.advance(61_000); // tab a needs a refresh before its request, and takes the lock first
    world.server.hold_refreshes(true);
    let request = echo();
    let refreshing = a.client.send(&request);
    let login = FakeServer::login_request();
    let logging_in = b.client.login(&login);
    let (sent, logged_in, ()) =
        block_on(futures::future::join3(refreshing, logging_in, release_refreshes_later(&world.server)));
    sent.expect("the refresh finished before the login started");
    logged_in.expect("login");
    let paths: Vec<_> = world.server.requests().into_iter().map(|(path, ..)| path).collect();
    let refresh_at = paths.iter().position(|p| p == paths::REFRESH).unwrap();
    let second_login_at = paths.iter().rposition(|p| p == paths::LOGIN).unwrap();
    assert!(refresh_at < second_login_at, "the login did not wait for the lock: {paths:?}");
    assert_eq!(world.store.load().unwrap().access_token, "access-3", "the newer login is what storage holds");
}

#[test]
fn a_reused_refresh_token_ends_the_session_because_the_server_revoked_it() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.lock.set_unavailable(true);
    let (store, clock) = (world.store.clone(), world.clock.clone());
    // Another tab rotates while our refresh is on the wire, and ours arrives after the grace window:
    // the server sees reuse and revokes the whole session, so adopting the other tab's token is no way
    // out (its token died with the session).
    world.server.before_answering(paths::REFRESH, move |server| {
        server.rotate_for_other_tab(&store);
        clock.advance(testing::GRACE_MS + 1);
    });

    assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired)));
    assert!(world.server.revoked(), "the fake must revoke on reuse, as the backend does");
    assert_eq!(tab.client.counters().adopted, 0);
    assert_eq!(world.server.calls_to(ECHO), 1, "nothing was replayed with a revoked token");
}

#[test]
fn two_tabs_racing_without_the_lock_both_stay_logged_in_through_the_grace_window() {
    let world = World::new();
    let a = world.logged_in_tab();
    let b = world.tab();
    world.lock.set_unavailable(true);
    world.clock.advance(61_000);
    world.server.hold_refreshes(true);
    let request = echo();
    let (ra, rb, ()) = block_on(futures::future::join3(
        a.client.send(&request),
        b.client.send(&request),
        release_refreshes_later(&world.server),
    ));
    ra.expect("tab a");
    rb.expect("tab b");
    assert_eq!(world.server.refresh_calls(), 2, "both presented the same token");
    assert!(!world.server.revoked());
    world.server.expire_access();
    block_on(a.client.send(&echo())).expect("the chain goes on");
}

#[test]
fn a_rotated_pair_that_storage_refuses_is_kept_and_used_until_storage_takes_it() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.store.refuse_saves(true);
    for round in 1..=3 {
        world.server.expire_access();
        block_on(tab.client.send(&echo())).unwrap_or_else(|e| panic!("expiry {round}: {e}"));
    }
    assert!(!world.server.revoked(), "a lost rotated token was presented again (reuse)");
    assert!(tab.events.borrow().iter().any(|e| matches!(e, ClientEvent::SessionNotSaved { .. })));
    assert_ne!(world.store.load().unwrap().refresh_token, tab.client.session().unwrap().refresh_token);

    world.store.refuse_saves(false);
    let in_memory = tab.client.session().unwrap();
    assert_eq!(world.store.load(), Some(in_memory), "saved as soon as storage takes it");
}

const SENSITIVE: &str = "/api/account/password";

#[test]
fn a_step_up_challenge_is_never_answered_with_a_refresh_and_reauthentication_lets_the_request_through() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.require_recent_authentication(SENSITIVE);
    let sensitive = Request::post(SENSITIVE);
    let before = tab.client.session().unwrap();

    // The challenge and a plain request at once: the plain one goes through, nothing refreshes.
    let (challenged, plain) = block_on(futures::future::join(tab.client.send(&sensitive), tab.client.send(&echo())));
    assert!(matches!(challenged, Err(ClientError::ReauthRequired { max_age: Some(600) })), "{challenged:?}");
    plain.expect("requests that are not sensitive go on");
    assert_eq!(world.server.refresh_calls(), 0, "a refresh cannot answer a step-up challenge");
    assert!(tab.events.borrow().contains(&ClientEvent::ReauthRequired { max_age: Some(600) }));
    assert_eq!(tab.client.session().as_ref(), Some(&before), "the session is untouched");

    // A wrong password is an API error: no refresh, no logout.
    let wrong = block_on(tab.client.reauthenticate("not the password"));
    assert!(matches!(wrong, Err(ClientError::Api { status: 401, .. })), "{wrong:?}");
    assert!(tab.client.session().is_some());

    block_on(tab.client.reauthenticate(testing::PASSWORD)).expect("reauthenticated");
    let after = tab.client.session().unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(after.refresh_token, before.refresh_token, "the same refresh chain");
    block_on(tab.client.send(&sensitive)).expect("the replay after re-authentication goes through");
    assert_eq!(world.server.refresh_calls(), 0);
    assert!(tab.events.borrow().iter().any(|e| matches!(e, ClientEvent::TokensChanged { .. })));
}

#[test]
fn a_step_up_challenge_on_a_replay_after_a_refresh_is_reported_once_and_not_refreshed_again() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.require_recent_authentication(SENSITIVE);
    world.server.expire_access();
    let answer = block_on(tab.client.send(&Request::post(SENSITIVE)));
    assert!(matches!(answer, Err(ClientError::ReauthRequired { .. })), "{answer:?}");
    assert_eq!(world.server.refresh_calls(), 1, "the expired token was refreshed once, the challenge never");
    let challenges = tab.events.borrow().iter().filter(|e| matches!(e, ClientEvent::ReauthRequired { .. })).count();
    assert_eq!(challenges, 1);
}
