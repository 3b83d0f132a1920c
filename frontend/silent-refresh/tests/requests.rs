//! Timeouts, cancellation, `access_token`, a pluggable refresh trigger, `Retry-After`, and the
//! events that say what happened: natively, on the deterministic fakes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::executor::block_on;
use futures::future::{join, join_all};
use silent_refresh::testing::{self, FakeClock, FakeLock, FakeServer, FakeStore, RefreshMode, TestUser};
use silent_refresh::{
    ClientError, ClientEvent, Clock as _, Config, EnvelopeProtocol, RefreshClient, RefreshTrigger, Request,
};

type Client = RefreshClient<EnvelopeProtocol<TestUser>>;

const ECHO: &str = "/api/echo";

struct World {
    server: FakeServer,
    clock: FakeClock,
    client: Client,
    events: Rc<RefCell<Vec<ClientEvent>>>,
}

fn world(config: Config) -> World {
    let clock = FakeClock::new();
    let server = FakeServer::new(&clock);
    let client = RefreshClient::builder(EnvelopeProtocol::default(), server.clone(), clock.clone())
        .store(FakeStore::default())
        .lock(FakeLock::default())
        .config(config)
        .build();
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    client.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    block_on(client.login(&FakeServer::login_request())).expect("login");
    World { server, clock, client, events }
}

/// Lets the other futures run a while, then moves the clock by `ms`.
async fn later_advance(clock: &FakeClock, ms: i64) {
    for _ in 0..200 {
        testing::yield_now().await;
    }
    clock.advance(ms);
}

#[test]
fn a_refresh_that_never_answers_times_out_as_a_transient_failure_while_valid_tokens_go_out() {
    let w = world(Config::builder().timeouts(None, Duration::from_secs(10)).build());
    w.server.stall(testing::paths::REFRESH);
    // Due for a proactive refresh (which hangs), yet valid: requests go out meanwhile.
    w.clock.advance(55_000);
    let driver = w.client.refresh_if_due();
    let request = Request::get(ECHO);
    let (tick, answer) = block_on(join(driver, async {
        let answer = w.client.send(&request).await;
        later_advance(&w.clock, 10_000).await;
        answer
    }));
    assert!(answer.is_ok(), "{answer:?}");
    assert!(matches!(tick, Err(ClientError::Network(_))), "{tick:?}");

    // Expired: requests wait for the refresh, which never answers, and get Network, not a logout.
    w.clock.advance(300_000);
    w.server.expire_access();
    let burst = join_all((0..5).map(|_| w.client.send(&request)));
    let (answers, ()) = block_on(join(burst, later_advance(&w.clock, 10_000)));
    assert!(answers.iter().all(|a| matches!(a, Err(ClientError::Network(_)))), "{answers:?}");
    assert!(w.client.session().is_some(), "a timeout is never a logout");
    assert_eq!(w.server.refresh_calls(), 0, "the stalled refreshes were never answered");
}

#[test]
fn a_request_past_its_timeout_fails_with_network_and_its_own_timeout_wins() {
    let w = world(Config::builder().timeouts(Some(Duration::from_secs(30)), Duration::from_secs(10)).build());
    w.server.stall(ECHO);
    let own = Request::get(ECHO).timeout(Duration::from_secs(2));
    let (answer, ()) = block_on(join(w.client.send(&own), later_advance(&w.clock, 2_000)));
    assert!(matches!(&answer, Err(ClientError::Network(e)) if e.to_string().contains("2000 ms")), "{answer:?}");
    let default = Request::get(ECHO);
    let (answer, ()) = block_on(join(w.client.send(&default), later_advance(&w.clock, 30_000)));
    assert!(matches!(&answer, Err(ClientError::Network(e)) if e.to_string().contains("30000 ms")), "{answer:?}");
}

#[test]
fn an_aborted_caller_among_ten_leaves_nine_served_by_one_refresh() {
    let w = world(Config::default());
    w.server.expire_access();
    w.server.hold_refreshes(true);
    let request = Request::get(ECHO);
    let (abort, registration) = futures::future::AbortHandle::new_pair();
    let aborted = futures::future::Abortable::new(w.client.send(&request), registration);
    let nine = join_all((0..9).map(|_| w.client.send(&request)));
    let release = async {
        for _ in 0..100 {
            testing::yield_now().await;
        }
        abort.abort();
        for _ in 0..100 {
            testing::yield_now().await;
        }
        w.server.hold_refreshes(false);
    };
    let (aborted, (nine, ())) = block_on(join(aborted, join(nine, release)));
    assert!(aborted.is_err(), "the caller was aborted");
    assert!(nine.iter().all(Result::is_ok), "{nine:?}");
    assert_eq!(w.server.refresh_calls(), 1);
    assert_eq!(w.client.counters().in_flight, 0, "the dropped request stopped counting");
}

#[test]
fn retry_after_on_a_refused_for_now_refresh_delays_the_next_attempt_by_the_clock() {
    let w = world(Config::default());
    w.server.expire_access();
    w.server.set_mode(RefreshMode::RetryAfter(503, 5));
    let request = Request::get(ECHO);
    assert!(matches!(block_on(w.client.send(&request)), Err(ClientError::Network(_))));
    assert_eq!(w.server.refresh_calls(), 1);
    assert!(
        w.events.borrow().iter().any(|e| matches!(e, ClientEvent::RefreshFailed { retry_in_ms: Some(5000), .. })),
        "the backoff is the server's 5 s, not 200 ms"
    );
    w.server.set_mode(RefreshMode::Normal);
    w.clock.advance(4_999);
    assert!(matches!(block_on(w.client.send(&request)), Err(ClientError::Network(_))), "too early");
    assert_eq!(w.server.refresh_calls(), 1, "nothing was sent before Retry-After");
    w.clock.advance(1);
    block_on(w.client.send(&request)).expect("after Retry-After");
    assert_eq!(w.server.refresh_calls(), 2);
}

#[test]
fn a_custom_trigger_refreshes_on_403() {
    let w = world(Config::builder().refresh_trigger(RefreshTrigger::statuses(&[401, 403])).build());
    w.server.refuse_tokens_with(403);
    w.server.expire_access();
    block_on(w.client.send(&Request::get(ECHO))).expect("replayed after a 403-triggered refresh");
    assert_eq!(w.server.refresh_calls(), 1);

    // The default trigger does not refresh on 403: the answer is final.
    let plain = world(Config::default());
    plain.server.refuse_tokens_with(403);
    plain.server.expire_access();
    let answer = block_on(plain.client.send(&Request::get(ECHO)));
    assert!(matches!(answer, Err(ClientError::Api { status: 403, .. })), "{answer:?}");
    assert_eq!(plain.server.refresh_calls(), 0);
}

#[test]
fn access_token_for_twenty_callers_during_an_expiry_makes_one_refresh() {
    let w = world(Config::default());
    let fresh = block_on(w.client.access_token(Duration::from_secs(30))).unwrap();
    assert_eq!(w.server.refresh_calls(), 0, "a token valid long enough is returned as it is");
    w.clock.advance(45_000);
    w.server.hold_refreshes(true);
    let callers = join_all((0..20).map(|_| w.client.access_token(Duration::from_secs(30))));
    let (tokens, ()) = block_on(join(callers, async {
        for _ in 0..200 {
            testing::yield_now().await;
        }
        w.server.hold_refreshes(false);
    }));
    let tokens: Vec<String> = tokens.into_iter().map(Result::unwrap).collect();
    assert_eq!(w.server.refresh_calls(), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != fresh), "{tokens:?}");
    assert!(w.events.borrow().contains(&ClientEvent::TokensChanged { access_expires_at: w.clock.now_ms() + 60_000 }));
}

#[test]
fn login_is_an_event_by_the_time_login_returns_and_requests_are_numbered() {
    let clock = FakeClock::new();
    let server = FakeServer::new(&clock);
    let client = RefreshClient::builder(EnvelopeProtocol::<TestUser>::default(), server.clone(), clock.clone()).build();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&seen);
    client.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    block_on(client.login(&FakeServer::login_request())).unwrap();
    assert!(seen.borrow().contains(&ClientEvent::LoggedIn), "{:?}", seen.borrow());

    seen.borrow_mut().clear();
    server.expire_access();
    block_on(client.send(&Request::get(ECHO))).unwrap();
    let requests: Vec<ClientEvent> = seen
        .borrow()
        .iter()
        .filter(|e| matches!(e, ClientEvent::RequestSent { .. } | ClientEvent::RequestAnswered { .. }))
        .cloned()
        .collect();
    assert_eq!(
        requests,
        [
            ClientEvent::RequestSent { id: 1, replay: false },
            ClientEvent::RequestAnswered { id: 1, status: Some(401) },
            ClientEvent::RequestSent { id: 1, replay: true },
            ClientEvent::RequestAnswered { id: 1, status: Some(200) },
        ]
    );
}

#[test]
fn logout_others_and_change_password_go_out_with_the_token_and_need_no_refresh() {
    let w = world(Config::default());
    assert_eq!(block_on(w.client.logout_others()).expect("logout-others"), 1, "the typed answer");
    let ended = block_on(w.client.change_password("old-password", "a-new-password")).expect("password change");
    assert_eq!(ended, 1);
    let seen = w.server.requests();
    let sent: Vec<(&str, bool)> =
        seen.iter().skip(1).map(|(path, bearer, _)| (path.as_str(), bearer.is_some())).collect();
    assert_eq!(sent, [("/api/auth/logout-others", true), ("/api/account/password", true)]);
    let body = seen.last().and_then(|(_, _, body)| body.clone()).unwrap_or_default();
    assert!(
        body.contains("\"currentPassword\":\"old-password\"") && body.contains("\"newPassword\":\"a-new-password\""),
        "{body}"
    );
    assert_eq!(w.server.refresh_calls(), 0);
    assert!(w.client.session().is_some(), "the session goes on");
}

#[test]
fn access_token_asked_to_outlive_short_tokens_does_not_refresh_every_time() {
    let w = world(Config::default());
    w.server.set_access_lifetime_s(3);
    w.clock.advance(61_000);
    block_on(w.client.access_token(Duration::from_secs(30))).unwrap();
    let after_first = w.server.refresh_calls();
    assert_eq!(after_first, 1, "the expired 60 s token was replaced by a 3 s one");
    for _ in 0..5 {
        block_on(w.client.access_token(Duration::from_secs(30))).unwrap();
    }
    assert_eq!(w.server.refresh_calls(), after_first, "a fresh 3 s token is enough for a 30 s ask");
}
