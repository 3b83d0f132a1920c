//! The refresh core, natively and deterministically: fake server, virtual clock, shared fake storage.

use std::cell::RefCell;
use std::rc::Rc;

use futures::executor::block_on;
use futures::future::join_all;
use shared::auth::LoginRequest;
use shared::paths;

use super::fakes::{FakeClock, FakeLock, FakeServer, FakeStore, RefreshMode};
use super::{ApiClient, ApiRequest, ClientError, ClientEvent, LogoutReason, TokenStore};

type Client = ApiClient<FakeServer, FakeStore, FakeClock, FakeLock>;

struct Tab {
    client: Client,
    events: Rc<RefCell<Vec<ClientEvent>>>,
}

fn tab(server: &FakeServer, store: &FakeStore, clock: &FakeClock, lock: &FakeLock) -> Tab {
    let client = ApiClient::new(server.clone(), store.clone(), clock.clone(), lock.clone());
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
        Self {
            server: FakeServer::new(),
            store: FakeStore::default(),
            clock: FakeClock::new(),
            lock: FakeLock::default(),
        }
    }

    fn tab(&self) -> Tab {
        tab(&self.server, &self.store, &self.clock, &self.lock)
    }

    fn logged_in_tab(&self) -> Tab {
        let tab = self.tab();
        let request =
            LoginRequest { email: "ann@example.com".into(), password: "pw".into(), ..LoginRequest::default() };
        block_on(tab.client.login(&request)).expect("login");
        tab
    }
}

/// Lets held refresh answers go once every caller has had plenty of turns to line up behind them
/// (`join_all` over many futures polls them in budgeted batches, so a turn is not a full pass).
async fn release_refreshes_later(server: &FakeServer) {
    for _ in 0..1_000 {
        super::fakes::yield_now().await;
    }
    server.hold_refreshes(false);
}

fn echo() -> ApiRequest {
    ApiRequest::get(paths::DEMO_ECHO)
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

    assert!(results.iter().all(|r| r == &Err(ClientError::SessionExpired)), "{results:?}");
    assert_eq!(world.server.refresh_calls(), 1);
    assert!(world.store.load().is_none(), "tokens must be removed");
    assert!(matches!(
        tab.events.borrow().last(),
        Some(ClientEvent::LoggedOut { reason: LogoutReason::SessionExpired(_) })
    ));
    // Nothing is left waiting: the next call settles at once, without another refresh.
    assert_eq!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired));
    assert_eq!(world.server.refresh_calls(), 1);
}

#[test]
fn a_401_for_a_token_already_replaced_is_replayed_without_a_refresh() {
    let world = World::new();
    let tab = world.logged_in_tab();
    let (store, clock) = (world.store.clone(), world.clock.clone());
    // While the request is on the wire, another tab refreshes: the server no longer takes our token.
    world.server.before_answering(paths::DEMO_ECHO, move |server| {
        server.rotate_for_other_tab(&store, clock.now_ms_for_tests())
    });

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

    assert_eq!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired));

    let paths: Vec<_> = world.server.requests().into_iter().map(|(path, ..)| path).collect();
    assert_eq!(paths, [paths::LOGIN, paths::DEMO_ECHO, paths::REFRESH]);
}

#[test]
fn a_401_on_the_replay_is_final() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.always_401(paths::ME);

    let result = block_on(tab.client.send(&ApiRequest::get(paths::ME)));

    assert!(matches!(result, Err(ClientError::Api { status: 401, .. })), "{result:?}");
    assert_eq!(world.server.refresh_calls(), 1);
    let me_calls = world.server.requests().iter().filter(|(path, ..)| path == paths::ME).count();
    assert_eq!(me_calls, 2, "sent once, replayed once");
    assert!(world.store.load().is_some(), "a refused replay is not a logout");
}

#[test]
fn a_network_error_during_refresh_keeps_the_session_and_backs_off() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::NetworkDown);

    for _ in 0..4 {
        assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::Network(_))));
    }
    assert!(world.store.load().is_some(), "a network blip must not log out");
    assert_eq!(*world.clock.sleeps.borrow(), [200, 400, 800], "200 ms doubling between attempts");
    assert!(!tab.events.borrow().iter().any(|e| matches!(e, ClientEvent::LoggedOut { .. })));

    world.server.set_mode(RefreshMode::Normal);
    block_on(tab.client.send(&echo())).expect("recovers once the network is back");
    world.server.expire_access();
    block_on(tab.client.send(&echo())).expect("and the backoff was reset");
    assert_eq!(*world.clock.sleeps.borrow(), [200, 400, 800, 1600]);
}

#[test]
fn backoff_is_capped_at_thirty_seconds() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.server.set_mode(RefreshMode::Status(503, "internal"));
    for _ in 0..12 {
        assert!(matches!(block_on(tab.client.send(&echo())), Err(ClientError::Network(_))));
    }
    assert_eq!(world.clock.sleeps.borrow().last(), Some(&30_000));
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
fn a_reused_403_while_storage_holds_a_newer_token_adopts_it_instead_of_logging_out() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.lock.unavailable.set(true);
    // Our refresh races another tab's (no lock to serialise them): theirs lands first.
    world.server.set_mode(RefreshMode::Status(403, "refresh_token_reused"));
    let (store, clock) = (world.store.clone(), world.clock.clone());
    let server = world.server.clone();
    world.server.before_answering(paths::REFRESH, move |_| {
        server.set_mode(RefreshMode::Normal);
        server.rotate_for_other_tab(&store, clock.now_ms_for_tests());
        server.set_mode(RefreshMode::Status(403, "refresh_token_reused"));
    });

    block_on(tab.client.send(&echo())).expect("adopted the other tab's token");
    assert!(world.store.load().is_some());
    assert_eq!(tab.client.counters().adopted, 1);
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
    // 60 s tokens: the margin is max(6 s, 5 s) = 6 s, so the refresh is due 54 s after issue.
    world.clock.advance(53_999);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 0);
    world.clock.advance(1);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 1);
    block_on(tab.client.refresh_if_due()).unwrap();
    assert_eq!(world.server.refresh_calls(), 1, "a fresh token is not due: no loop");
}

#[test]
fn a_request_past_expiry_by_the_wall_clock_refreshes_first_instead_of_collecting_a_401() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    world.clock.advance(61_000);
    block_on(tab.client.send(&echo())).unwrap();
    let echo_calls = world.server.requests().iter().filter(|(path, ..)| path == paths::DEMO_ECHO).count();
    assert_eq!((echo_calls, world.server.refresh_calls()), (1, 1));
}

#[test]
fn a_replayed_post_carries_the_same_body() {
    let world = World::new();
    let tab = world.logged_in_tab();
    world.server.expire_access();
    let request = ApiRequest::post_json("/api/things", &serde_json::json!({"name": "x", "n": 1}));
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
    assert_eq!(block_on(tab.client.send(&echo())), Err(ClientError::SessionExpired));
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
