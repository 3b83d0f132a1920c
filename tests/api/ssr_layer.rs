//! The client crate's `ssr` layer in front of the real auth server: refresh before render, one
//! refresh per session whatever arrives at once, and what a page says when it cannot know.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, SET_COOKIE, VARY};
use serde_json::json;
use silent_refresh::ssr::{RefreshLayer, SsrConfig};

use crate::app_server::{AppServer, cookie_pair, json_body, refresh_cookie_only};
use crate::helpers::{spawn_app, spawn_app_with_manual_clock};

#[tokio::test]
async fn a_page_with_only_the_refresh_cookie_renders_the_user_and_sets_one_cookie() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (email, cookie) = refresh_cookie_only(&auth).await;
    let before = auth.metrics().await;

    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers().get_all(SET_COOKIE).iter().count(), 1, "{:?}", page.headers());
    assert_eq!(page.headers()[CACHE_CONTROL], "private, no-store");
    assert_eq!(page.headers()[VARY], "Cookie");
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("'nonce-") && !csp.contains("unsafe-inline"), "{csp}");
    let successor = cookie_pair(&page).unwrap();
    assert_ne!(successor, cookie, "the page hands the rotated refresh token on");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("<p id=\"user\">{email}</p>")), "{html}");
    assert!(!regex::Regex::new(crate::app_server::JWT).unwrap().is_match(&html), "no token in the page");
    assert_eq!(auth.metrics().await.refreshes - before.refreshes, 1);

    // The next load with the successor uses the access token the first one got: no refresh.
    let again = app.get("/", Some(&successor)).await;
    assert!(again.headers().get(SET_COOKIE).is_none());
    assert!(again.text().await.unwrap().contains(&email));
    assert_eq!(auth.metrics().await.refreshes - before.refreshes, 1);

    // A new nonce for every page.
    let other = app.get("/", Some(&successor)).await.headers()[CONTENT_SECURITY_POLICY].clone();
    assert_ne!(other.to_str().unwrap(), csp);
}

#[tokio::test]
async fn five_parallel_loads_share_one_refresh_and_set_the_same_successor() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (email, cookie) = refresh_cookie_only(&auth).await;
    let before = auth.metrics().await;
    let pages = futures::future::join_all((0..5).map(|_| app.get("/", Some(&cookie)))).await;
    let successors: Vec<String> = pages.iter().map(|page| cookie_pair(page).expect("a successor cookie")).collect();
    assert!(successors.windows(2).all(|w| w[0] == w[1]), "{successors:?}");
    for page in pages {
        assert!(page.text().await.unwrap().contains(&email));
    }
    let after = auth.metrics().await;
    assert_eq!(after.refreshes - before.refreshes, 1);
    assert_eq!(after.reuse_detected, before.reuse_detected);
}

#[tokio::test]
async fn twenty_parallel_server_calls_on_an_expired_session_make_one_refresh() {
    let auth = crate::helpers::spawn_app_with(&["--access-token-ttl", "2s"]).await;
    let app = AppServer::ssr(&auth, |c| c.refresh_ahead(Duration::from_millis(500))).await;
    let (_, cookie) = app.login(&auth).await;
    // The login's access token is now within the margin: the next calls must refresh first.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let before = auth.metrics().await;
    let empty = json!({});
    let calls = futures::future::join_all((0..20).map(|_| app.post("/fn/me", Some(&cookie), &empty))).await;
    for call in calls {
        assert_eq!(call.status(), StatusCode::OK, "{:?}", call.text().await);
    }
    let after = auth.metrics().await;
    assert_eq!(after.refreshes - before.refreshes, 1);
    assert_eq!(after.reuse_detected, before.reuse_detected);
}

#[tokio::test]
async fn two_app_servers_keep_one_chain_through_the_grace_window() {
    let auth = spawn_app().await;
    let (first, second) = (AppServer::ssr(&auth, |c| c).await, AppServer::ssr(&auth, |c| c).await);
    let (email, cookie) = refresh_cookie_only(&auth).await;
    let before = auth.metrics().await;
    let (a, b) = tokio::join!(first.get("/", Some(&cookie)), second.get("/", Some(&cookie)));
    assert_eq!(cookie_pair(&a), cookie_pair(&b), "both hand on the same successor");
    assert!(a.text().await.unwrap().contains(&email) && b.text().await.unwrap().contains(&email));
    let after = auth.metrics().await;
    assert_eq!(after.reuse_detected, before.reuse_detected, "no instance's refresh counts as reuse");
    assert_eq!(after.grace_refreshes - before.grace_refreshes, 1);
}

#[tokio::test]
async fn a_logout_ends_the_session_for_the_stale_cookie_too() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (email, cookie) = app.login(&auth).await;
    assert!(app.get("/", Some(&cookie)).await.text().await.unwrap().contains(&email));
    let logout = app.post("/session/logout", Some(&cookie), &json!({})).await;
    assert_eq!(logout.status(), StatusCode::OK);
    let cleared: Vec<_> = logout.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")) && !cleared.is_empty(), "{cleared:?}");

    // A tab that still sends the old cookie sees a logged-out page, and its cookie is cleared.
    let stale = app.get("/", Some(&cookie)).await;
    assert!(stale.headers().get_all(SET_COOKIE).iter().all(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert!(stale.text().await.unwrap().contains("logged out"));
    let call = app.post("/fn/me", Some(&cookie), &json!({})).await;
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn what_the_page_says_without_a_cookie_with_a_forged_one_and_from_another_site() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    assert!(app.get("/", None).await.text().await.unwrap().contains("logged out"));

    let forged = app.get("/", Some("__Host-refresh_token=forged")).await;
    assert!(forged.headers().get_all(SET_COOKIE).iter().all(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert!(forged.text().await.unwrap().contains("logged out"));

    // A navigation from another site comes without the SameSite=Strict cookie: not "logged out".
    let arrival = app.client.get(app.url("/")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert!(arrival.text().await.unwrap().contains("unknown"));

    // The snapshot route gives the browser the answer once it asks with its cookie.
    let (email, cookie) = refresh_cookie_only(&auth).await;
    let snapshot = json_body(&app.get("/session", Some(&cookie)).await.text().await.unwrap());
    assert_eq!(snapshot["data"]["presence"], "logged_in");
    assert_eq!(snapshot["data"]["user"]["email"], email.as_str());
    assert!(snapshot["data"]["user"].get("access_token").is_none());
}

#[tokio::test]
async fn an_auth_server_that_does_not_answer_logs_nobody_out() {
    let auth = spawn_app().await;
    let (_, cookie) = refresh_cookie_only(&auth).await;
    // Nothing listens on port 9 (discard) here: every refresh fails to connect.
    let app = AppServer::start("http://127.0.0.1:9", RefreshLayer::new(SsrConfig::new("http://127.0.0.1:9"))).await;
    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get(SET_COOKIE).is_none(), "the cookie is kept");
    assert!(page.text().await.unwrap().contains("unknown"));
}

#[tokio::test]
async fn assets_stay_cacheable_and_state_changes_on_the_layers_routes_need_the_header() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (_, cookie) = app.login(&auth).await;
    let asset = app.get("/asset.wasm", Some(&cookie)).await;
    assert!(asset.headers().get(CACHE_CONTROL).is_none(), "{:?}", asset.headers());

    let bare = app.client.post(app.url("/session/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(&bare.text().await.unwrap())["error"], "csrf_rejected");
    let login = app.client.post(app.url("/session/login")).body("{}").send().await.unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN, "a login forced by another site is refused too");
    let wrong = app.post("/session/login", None, &json!({"email": "nobody@example.com", "password": "x"})).await;
    assert!(wrong.status().is_client_error());
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert_eq!(
        app.client.put(app.url("/session/login")).header("x-requested-with", "t").send().await.unwrap().status(),
        405
    );
}

/// An access token an API refuses (here: expired on the auth server's clock, which ran ahead) is not
/// used by the next request: it refreshes first, and carries on.
#[tokio::test]
async fn an_access_token_the_api_refused_is_refreshed_by_the_next_request() {
    let (auth, clock) = spawn_app_with_manual_clock(&[]).await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (_, cookie) = app.login(&auth).await;
    assert_eq!(app.post("/fn/me", Some(&cookie), &json!({})).await.status(), StatusCode::OK);
    clock.advance(Duration::from_secs(20 * 60));
    let refused = app.post("/fn/me", Some(&cookie), &json!({})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let before = auth.metrics().await;
    let retried = app.post("/fn/me", Some(&cookie), &json!({})).await;
    assert_eq!(retried.status(), StatusCode::OK, "{:?}", retried.text().await);
    let after = auth.metrics().await;
    assert_eq!(after.refreshes - before.refreshes, 1);
    assert_eq!(after.reuse_detected, before.reuse_detected);
}

/// A logout that races page loads refreshing the same session (another tab): once it has answered,
/// no cookie any of those answers set still renders a signed-in page.
#[tokio::test]
async fn a_logout_racing_page_loads_sticks_for_every_cookie_they_set() {
    let auth = spawn_app().await;
    let app = AppServer::ssr(&auth, |c| c).await;
    let (_, cookie) = refresh_cookie_only(&auth).await;
    let empty = json!({});
    let loads = futures::future::join_all((0..10).map(|_| app.get("/", Some(&cookie))));
    let (pages, logout) = tokio::join!(loads, app.post("/session/logout", Some(&cookie), &empty));
    assert_eq!(logout.status(), StatusCode::OK);
    let mut cookies: Vec<String> = pages.iter().filter_map(cookie_pair).collect();
    cookies.push(cookie);
    cookies.dedup();
    for cookie in cookies {
        let page = app.get("/", Some(&cookie)).await.text().await.unwrap();
        assert!(page.contains("logged out"), "{cookie} still renders: {page}");
        let call = app.post("/fn/me", Some(&cookie), &empty).await;
        assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    }
}
