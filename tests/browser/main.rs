//! The client in real headless Chromium against the real backend on loopback.
//!
//! `cargo xtask test` starts the backend with a 2-second access lifetime and CORS for this page's
//! origin, and passes its address at build time in `BROWSER_TEST_BACKEND`. Without it every test that
//! needs the backend is ignored, with the reason (see `frontend/build.rs`). The tests share the page's
//! `localStorage`, so each starts by clearing it. They use the `silent-refresh` crate's public API only,
//! with its `browser` feature.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gloo_storage::Storage;
use serde::{Deserialize, Serialize};
use shared::auth::{LoginRequest, RegisterRequest};
use shared::demo::{Echo, ExpiredToken};
use shared::ops::Metrics;
use shared::paths;
use silent_refresh::browser::{
    self, BroadcastStore, BrowserClock, BrowserConfig, FetchTransport, IdlePolicy, LocalStorageStore, WebLock,
};
use silent_refresh::{
    CacheMode, ClientError, ClientEvent, Config, EnvelopeProtocol, LogoutReason, RefreshClient, RefreshLock, Request,
    TokenStore,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod dpop;

const BACKEND: &str = match option_env!("BROWSER_TEST_BACKEND") {
    Some(url) => url,
    None => "",
};
/// Just past the backend's 2 s access lifetime (leeway 0), for the one test that must wait it out.
const PAST_EXPIRY_MS: u32 = 2_300;
const PASSWORD: &str = "browser-test-password";
/// The backend's `REAUTH_MAX_AGE` (3 s, whole seconds as the server compares them) and a wait past it.
const REAUTH_MAX_AGE_S: u64 = 3;
const PAST_REAUTH_MAX_AGE_MS: u32 = 4_200;

/// The user fields of this server's login answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    email: String,
}

type Api = EnvelopeProtocol<Account>;

fn store() -> LocalStorageStore<Account> {
    LocalStorageStore::new(&BrowserConfig::default().storage_key)
}

fn backend() -> &'static str {
    BACKEND
}

/// A fresh client with a new account, logged in.
async fn logged_in(base: &str) -> (RefreshClient<Api>, String) {
    gloo_storage::LocalStorage::clear();
    let client = browser::client(Api::default(), base, Config::default());
    let (email, _) = sign_up_and_log_in(&client).await;
    (client, email)
}

/// Signs up a new account with `client` and logs it in; the address and the session.
async fn sign_up_and_log_in(client: &RefreshClient<Api>) -> (String, silent_refresh::Session<Account>) {
    let email = format!("{}@example.com", (js_sys::Math::random() * 1e15) as u64);
    let register = RegisterRequest { username: "browser".into(), email: email.clone(), password: PASSWORD.into() };
    let register = Request::post(paths::REGISTER).json(&register).unwrap();
    client.send_unauthenticated(&register).await.expect("register");
    let login = LoginRequest { email: email.clone(), password: PASSWORD.into(), ..LoginRequest::default() };
    let session = client.login(&Request::post(paths::LOGIN).json(&login).unwrap()).await.expect("login");
    (email, session)
}

async fn server_metrics(base: &str) -> Metrics {
    let response = gloo_net::http::Request::get(&format!("{base}{}", paths::METRICS)).send().await.expect("metrics");
    let envelope: shared::Envelope<Metrics> = response.json().await.expect("metrics body");
    envelope.data.expect("metrics data")
}

async fn server_refreshes(base: &str) -> u64 {
    server_metrics(base).await.refreshes
}

/// Turns the backend's refresh-endpoint outage switch (a test build feature) on or off.
async fn refresh_outage(base: &str, on: bool) {
    let url = format!("{base}{}?on={on}", paths::TEST_REFRESH_OUTAGE);
    let response = gloo_net::http::Request::post(&url).send().await.expect("outage switch");
    assert_eq!(response.status(), 204, "the backend must be built with the e2e feature");
}

/// A lock that is never granted, as in a browser without the Web Locks API: refreshes in two clients
/// then really race each other at the server.
#[derive(Debug, Clone, Copy)]
struct NeverGranted;

impl RefreshLock for NeverGranted {
    type Guard = ();
    async fn acquire(&self) -> Option<()> {
        None
    }
}

fn unlocked_client(base: &str) -> RefreshClient<Api> {
    RefreshClient::new(
        Api::default(),
        FetchTransport::new(base),
        store(),
        BrowserClock,
        NeverGranted,
        Config::default(),
    )
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// What this client would find once its access token's lifetime had passed, without waiting for it:
/// the server issues an already expired token for the session (the demo's "Expire my access token"),
/// and the stored session says it expired a minute ago.
async fn expire_access_token(client: &RefreshClient<Api>) {
    let expired: ExpiredToken = client.fetch(&Request::post(paths::DEMO_EXPIRED_TOKEN)).await.expect("expired token");
    let now = js_sys::Date::now() as i64;
    let mut session = store().load().expect("a stored session");
    session.access_token = expired.access_token;
    session.access_issued_at = now - 61_000;
    session.access_expires_at = now - 60_000;
    store().save(&session).expect("session saved");
}

/// What the demo's "expire my token" does: the server's expired token for the session goes into the
/// store, which still says it is valid, so the next request goes out with it and meets a 401.
async fn install_expired_token(client: &RefreshClient<Api>) {
    let expired: ExpiredToken = client.fetch(&Request::post(paths::DEMO_EXPIRED_TOKEN)).await.expect("expired token");
    let mut session = store().load().unwrap();
    session.access_token = expired.access_token;
    store().save(&session).unwrap();
}

fn echo() -> Request {
    Request::get(paths::DEMO_ECHO)
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn login_stores_the_session_in_local_storage() {
    let base = backend();
    let (client, email) = logged_in(base).await;
    let stored = store().load().expect("session in localStorage");
    assert_eq!(stored.user.email, email);
    assert_eq!(client.session(), Some(stored));
    client.fetch::<Echo>(&echo()).await.expect("authenticated call");
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_call_after_expiry_succeeds_through_one_refresh() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    let before = server_refreshes(base).await;
    expire_access_token(&client).await;
    client.fetch::<Echo>(&echo()).await.expect("call after expiry");
    assert_eq!(server_refreshes(base).await - before, 1);
    assert_eq!(client.counters().refreshes, 1);
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_burst_of_twenty_after_expiry_makes_one_refresh() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    let before = server_refreshes(base).await;
    expire_access_token(&client).await;
    let request = Request::get(paths::DEMO_ECHO).query("delay_ms", "50");
    let results = futures::future::join_all((0..20).map(|_| client.fetch::<Echo>(&request))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server_refreshes(base).await - before, 1);
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_401_with_an_expired_token_takes_the_reactive_path_once() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    install_expired_token(&client).await;
    let before = server_refreshes(base).await;
    let request = echo();
    let results = futures::future::join_all((0..5).map(|_| client.fetch::<Echo>(&request))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server_refreshes(base).await - before, 1);
    assert_eq!(client.counters().replays, 5);
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn the_rotated_refresh_token_is_persisted_so_two_expiries_recover() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    let first = store().load().unwrap().refresh_token;
    for round in 1..=2 {
        expire_access_token(&client).await;
        client.fetch::<Echo>(&echo()).await.unwrap_or_else(|e| panic!("expiry {round}: {e}"));
    }
    let last = store().load().unwrap().refresh_token;
    assert_ne!(first, last);
    assert_eq!(client.counters().refreshes, 2);
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_refused_refresh_gives_every_caller_session_expired_and_clears_storage() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    // Revoke the session server-side, as another device would, once this client holds an expired token.
    let access = client.session().unwrap().access_token;
    expire_access_token(&client).await;
    let revoked = gloo_net::http::Request::post(&format!("{base}{}", paths::LOGOUT_ALL))
        .header("Authorization", &format!("Bearer {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let request = echo();
    let results = futures::future::join_all((0..5).map(|_| client.fetch::<Echo>(&request))).await;
    assert!(results.iter().all(|r| matches!(r, Err(ClientError::SessionExpired))), "{results:?}");
    let key = BrowserConfig::default().storage_key;
    assert!(gloo_storage::LocalStorage::raw().get_item(&key).unwrap().is_none(), "storage cleared");
}

#[wasm_bindgen_test]
async fn web_locks_exclude_a_second_holder_until_the_first_releases() {
    let name = format!("test-lock-{}", js_sys::Math::random());
    let first = WebLock::new(&name, 5_000).acquire().await.expect("Web Locks API available in Chromium");
    assert!(WebLock::new(&name, 300).acquire().await.is_none(), "a held lock must not be granted twice");
    drop(first);
    assert!(WebLock::new(&name, 5_000).acquire().await.is_some(), "released on drop");
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_failing_refresh_endpoint_does_not_block_requests_whose_token_is_still_valid() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    refresh_outage(base, true).await;
    // Past the refresh point by this client's clock, yet valid at the server for its 2 s life.
    let mut session = store().load().unwrap();
    session.access_issued_at -= 60_000;
    store().save(&session).unwrap();

    let tick = client.refresh_if_due().await;
    let request = echo();
    let results = futures::future::join_all((0..20).map(|_| client.fetch::<Echo>(&request))).await;
    refresh_outage(base, false).await;

    assert!(matches!(tick, Err(ClientError::Network(_))), "{tick:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(store().load().is_some(), "an outage is not a logout");
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn two_clients_racing_a_refresh_both_stay_logged_in_through_the_servers_grace_window() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    let (a, b) = (unlocked_client(base), unlocked_client(base));
    expire_access_token(&client).await;
    let before = server_metrics(base).await;

    let request = echo();
    let (ra, rb) = futures::future::join(a.fetch::<Echo>(&request), b.fetch::<Echo>(&request)).await;
    ra.expect("client a");
    rb.expect("client b");
    let after = server_metrics(base).await;
    assert_eq!(after.refreshes - before.refreshes, 2, "both presented the same refresh token");
    assert_eq!(after.grace_refreshes - before.grace_refreshes, 1, "the second got the same successor");
    assert_eq!(after.reuse_detected, before.reuse_detected);

    expire_access_token(&client).await;
    b.fetch::<Echo>(&request).await.expect("the chain is still alive");
}

#[wasm_bindgen_test]
async fn next_targets_are_followed_only_when_chromium_resolves_them_to_this_origin() {
    let here = web_sys::window().unwrap().location();
    let other_port = format!("http://{}:1/x", here.hostname().unwrap());
    let hostile = [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        " //evil.example",
        "evil.example",
        other_port.as_str(),
        "",
    ];
    for next in hostile {
        assert_eq!(browser::same_origin_target(next), None, "{next:?} was accepted");
    }
    for (next, expected) in [
        ("/", "/"),
        ("/sessions?tab=2#top", "/sessions?tab=2#top"),
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
        ("/a/../b", "/b"),
    ] {
        assert_eq!(browser::same_origin_target(next).as_deref(), Some(expected), "{next:?}");
    }
}

type CookieTab = RefreshClient<Api>;

/// A client in cookie mode whose session no other tab shares (its own channel) and which never gets
/// the lock: two of them race each other at the server with the one cookie the browser holds.
fn cookie_tab(base: &str) -> CookieTab {
    let channel = format!("test-{}", js_sys::Math::random());
    let transport = FetchTransport::new(base).include_credentials();
    let api = Api::default().cookie_delivery();
    RefreshClient::new(api, transport, BroadcastStore::new(&channel), BrowserClock, NeverGranted, Config::default())
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn in_cookie_mode_two_tabs_racing_with_one_cookie_stay_logged_in_and_nothing_is_stored() {
    let base = backend();
    gloo_storage::LocalStorage::clear();
    let (a, b) = (cookie_tab(base), cookie_tab(base));
    let email = format!("{}@example.com", (js_sys::Math::random() * 1e15) as u64);
    let register = RegisterRequest { username: "cookie".into(), email: email.clone(), password: PASSWORD.into() };
    a.send_unauthenticated(&Request::post(paths::REGISTER).json(&register).unwrap()).await.expect("register");
    let login = LoginRequest { email, password: PASSWORD.into(), ..LoginRequest::default() };
    let session = a.login(&Request::post(paths::LOGIN).json(&login).unwrap()).await.expect("login");
    assert_eq!(session.refresh_token, None, "the page never sees the refresh token");
    // The second tab has nothing in memory: it restores the session from the cookie alone.
    assert!(b.resume().await.expect("resume").is_some());

    let before = server_metrics(base).await;
    // Waited out for real: each tab keeps its session in its own memory, out of this test's reach.
    sleep(PAST_EXPIRY_MS).await;
    let (ra, rb) = futures::future::join(a.fetch::<Echo>(&echo()), b.fetch::<Echo>(&echo())).await;
    ra.expect("tab a");
    rb.expect("tab b");
    let after = server_metrics(base).await;
    assert_eq!(after.reuse_detected, before.reuse_detected, "a race with one cookie is not reuse");
    assert!(after.grace_refreshes > before.grace_refreshes, "the second refresh came from the grace window");
    assert_eq!(gloo_storage::LocalStorage::length(), 0, "nothing in localStorage");

    a.logout().await;
    let fresh = cookie_tab(base);
    assert!(fresh.resume().await.expect("resume").is_none(), "logout cleared the cookie");
}

/// Twenty identical GETs through the client at once: the server sees them overlap (as many at once as
/// the browser's connection limit allows), because the transport bypasses the HTTP cache, whose lock
/// would otherwise send them one after another. The same burst with the browser's default cache mode
/// is the control: it shows the serialisation the bypass avoids.
#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn twenty_identical_gets_overlap_at_the_server() {
    let base = backend();
    let (client, _) = logged_in(base).await;
    // The control is five requests, so even sent one by one they finish within the 2 s token lifetime.
    let overlap = |cache: Option<CacheMode>, count: usize| {
        let client = client.clone();
        async move {
            let mut request = Request::get(paths::DEMO_ECHO).query("delay_ms", "300");
            request.cache = cache;
            let answers = futures::future::join_all((0..count).map(|_| client.fetch::<Echo>(&request))).await;
            answers.into_iter().map(|a| a.expect("echo").in_flight).max().unwrap_or(0)
        }
    };
    let bypassing = overlap(None, 20).await;
    assert!(bypassing >= 4, "the server saw at most {bypassing} at once");
    let cached = overlap(Some(CacheMode::Default), 5).await;
    assert!(cached < bypassing, "the control overlapped as much ({cached}), so it proves nothing");
}

/// A client with the idle policy (warn after `after_ms` quiet, log out `warning_ms` later), driven.
async fn idle_client(
    base: &str,
    after_ms: u64,
    warning_ms: u64,
) -> (RefreshClient<Api>, browser::Driver, Rc<RefCell<Vec<ClientEvent>>>) {
    let _ = logged_in(base).await;
    let policy = IdlePolicy { after: Duration::from_millis(after_ms), warning: Duration::from_millis(warning_ms) };
    let settings = BrowserConfig::default().idle(policy);
    let client = settings.client(Api::default(), base, Config::default());
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    client.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    let driver = settings.start_driver(client.clone(), Duration::from_millis(100), || {});
    (client, driver, events)
}

/// Dispatches a key press on the window, as a user at the keyboard would.
fn press_a_key() {
    let event = web_sys::Event::new("keydown").unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn with_no_input_the_idle_policy_warns_then_ends_the_session() {
    let base = backend();
    let (client, _driver, events) = idle_client(base, 600, 600).await;
    // Waited out for real: the policy is about the passage of time with nobody at the page.
    sleep(1_600).await;
    let events = events.borrow();
    let warned = events.iter().position(|e| matches!(e, ClientEvent::SessionEndingSoon { .. }));
    let ended = events.iter().position(|e| matches!(e, ClientEvent::LoggedOut { reason: LogoutReason::Idle }));
    assert!(matches!((warned, ended), (Some(w), Some(e)) if w < e), "{events:?}");
    assert!(client.session().is_none(), "the session ended");
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn input_keeps_the_session_and_clears_a_warning() {
    let base = backend();
    let (client, _driver, events) = idle_client(base, 600, 600).await;
    // A key every 200 ms for longer than the policy's whole span.
    for _ in 0..8 {
        press_a_key();
        sleep(200).await;
    }
    assert!(client.session().is_some(), "input kept the session");
    assert!(
        !events.borrow().iter().any(|e| matches!(e, ClientEvent::SessionEndingSoon { .. })),
        "{:?}",
        events.borrow()
    );
    // Warned, then a key: cleared, and the session goes on.
    sleep(800).await;
    assert!(events.borrow().iter().any(|e| matches!(e, ClientEvent::SessionEndingSoon { .. })));
    press_a_key();
    sleep(900).await;
    assert!(events.borrow().contains(&ClientEvent::IdleWarningCleared), "{:?}", events.borrow());
    assert!(client.session().is_some(), "the warning was cleared in time");
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_step_up_challenge_is_reported_without_a_refresh_and_reauthentication_lets_the_retry_through() {
    let (client, _) = logged_in(backend()).await;
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    client.subscribe(move |event| sink.borrow_mut().push(event.clone()));
    gloo_timers::future::TimeoutFuture::new(PAST_REAUTH_MAX_AGE_MS).await;
    // The 2 s access token expired meanwhile: a plain request refreshes it first.
    client.fetch::<Echo>(&echo()).await.expect("a plain request");
    let refreshes = client.counters().refreshes;

    let challenged = client.logout_others().await;
    let max_age = Some(REAUTH_MAX_AGE_S);
    assert!(matches!(challenged, Err(ClientError::ReauthRequired { max_age: m }) if m == max_age), "{challenged:?}");
    assert!(events.borrow().contains(&ClientEvent::ReauthRequired { max_age }), "{:?}", events.borrow());
    client.fetch::<Echo>(&echo()).await.expect("requests that are not sensitive go on");
    let wrong = client.reauthenticate("not the password").await;
    assert!(matches!(wrong, Err(ClientError::Api { status: 401, .. })), "{wrong:?}");
    assert!(client.session().is_some(), "a wrong password logs nobody out");

    client.reauthenticate(PASSWORD).await.expect("re-authenticated");
    assert_eq!(client.logout_others().await.expect("the retry goes through"), 0);
    assert_eq!(client.counters().refreshes, refreshes, "the challenge never caused a refresh");
}
