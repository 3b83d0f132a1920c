//! The `ssr` layer as a backend-for-frontend in front of the real auth server: no token ever reaches
//! the browser, upstreams only from the allowlist, the custom header on every state change, and each
//! user's own address at the auth server.

use axum::http::Method;
use regex::Regex;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use shared::paths;
use silent_refresh::ssr::{BffConfig, ClientAddress, RefreshLayer, SsrConfig, Upstream};

use crate::app_server::{AppServer, JWT, json_body};
use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

const KEY: &[u8] = b"the bff test key, thirty-two bytes or more";

async fn bff(auth: &TestApp, address: ClientAddress) -> AppServer {
    let base = auth.url("");
    let bff = BffConfig::new(KEY)
        .upstream(Upstream::new("me", &auth.url(paths::ME), &[Method::GET]))
        .upstream(Upstream::new("sessions", &auth.url(paths::SESSIONS), &[Method::GET, Method::DELETE]))
        .upstream(Upstream::new("others", &auth.url(paths::LOGOUT_OTHERS), &[Method::POST]));
    AppServer::start(&base, RefreshLayer::new(SsrConfig::new(&base).bff(bff).client_address(address))).await
}

/// The status of a GET sent byte for byte, with no URL normalisation on the way.
async fn raw_get(app: &AppServer, path: &str, cookie: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n", app.addr);
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status: {answer}"))
}

/// Everything the browser got: status line, headers and body.
async fn seen(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let mut text = format!("{:?}\n", response.headers());
    text.push_str(&response.text().await.unwrap());
    (status, text)
}

#[tokio::test]
async fn no_response_the_browser_sees_holds_a_token() {
    let auth = spawn_app().await;
    let app = bff(&auth, ClientAddress::Peer).await;
    let jwt = Regex::new(JWT).unwrap();
    let (email, cookie) = app.login(&auth).await;
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    // The sealed cookie is no refresh token the auth server knows.
    let sealed = cookie.trim_start_matches("__Host-session=");
    assert_eq!(auth.refresh(sealed).await.status(), StatusCode::FORBIDDEN);

    let mut seen_all = Vec::new();
    seen_all.push(seen(app.get("/", Some(&cookie)).await).await);
    seen_all.push(seen(app.get("/session", Some(&cookie)).await).await);
    seen_all.push(seen(app.get("/session/upstream/me", Some(&cookie)).await).await);
    seen_all.push(seen(app.get("/session/upstream/sessions", Some(&cookie)).await).await);
    seen_all.push(seen(app.post("/session/upstream/others", Some(&cookie), &json!({})).await).await);
    seen_all.push(seen(app.post("/fn/me", Some(&cookie), &json!({})).await).await);
    for (status, text) in &seen_all {
        assert_eq!(*status, StatusCode::OK, "{text}");
        assert!(!jwt.is_match(text), "a JWT reached the browser: {text}");
        assert!(!text.contains("refresh_token"), "{text}");
    }
    assert!(seen_all[2].1.contains(&email), "the upstream answered for the user");
    let logout = app.post("/session/logout", Some(&cookie), &json!({})).await;
    assert!(logout.headers()[SET_COOKIE].to_str().unwrap().starts_with("__Host-session=; Path=/; Max-Age=0"));
    assert_eq!(app.get("/session/upstream/me", Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_listed_upstreams_and_methods_are_called_and_state_changes_need_the_header() {
    let auth = spawn_app().await;
    let app = bff(&auth, ClientAddress::Peer).await;
    let (_, cookie) = app.login(&auth).await;
    let refusals = [
        (app.get("/session/upstream/echo", Some(&cookie)).await, StatusCode::NOT_FOUND),
        // (reqwest resolves the dots itself: the layer sees `upstream/auth/…`, which is not listed)
        (app.get("/session/upstream/me/../auth/logout-all", Some(&cookie)).await, StatusCode::NOT_FOUND),
        (app.post("/session/upstream/me", Some(&cookie), &json!({})).await, StatusCode::METHOD_NOT_ALLOWED),
        (app.get("/session/upstream/me", None).await, StatusCode::UNAUTHORIZED),
    ];
    for (response, status) in refusals {
        assert_eq!(response.status(), status, "{:?}", response.url());
    }
    // Paths a browser's URL parser would have resolved, sent as they are.
    for path in
        ["/session/upstream/me/../sessions", "/session/upstream/me/%2e%2e/sessions", "/session/upstream/me/a%2Fb"]
    {
        assert_eq!(raw_get(&app, path, &cookie).await, 400, "{path}");
    }
    // A cookie POST without the custom header: refused before anything runs, on the app's routes too.
    for path in ["/session/upstream/others", "/fn/me", "/session/logout"] {
        let bare = app.client.post(app.url(path)).header("cookie", &cookie).json(&json!({})).send().await.unwrap();
        assert_eq!(bare.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(json_body(&bare.text().await.unwrap())["error"], "csrf_rejected");
    }
    // A body over a mebibyte is refused before anything is sent upstream.
    let big = app
        .client
        .post(app.url("/session/upstream/others"))
        .header("cookie", &cookie)
        .header("x-requested-with", "t")
        .body(vec![b'x'; (1 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A GET needs no header; the session still works after all of that.
    assert_eq!(app.get("/session/upstream/me", Some(&cookie)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_is_a_logged_out_page_that_clears_it() {
    let auth = spawn_app().await;
    let app = bff(&auth, ClientAddress::Peer).await;
    let (_, cookie) = app.login(&auth).await;
    let mut tampered = cookie.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let foreign_key = BffConfig::new(b"another key of thirty-two bytes or more!!");
    let other =
        AppServer::start(&auth.url(""), RefreshLayer::new(SsrConfig::new(&auth.url("")).bff(foreign_key))).await;
    for (server, cookie) in [(&app, tampered.as_str()), (&other, cookie.as_str()), (&app, "__Host-session=%%%")] {
        let page = server.get("/", Some(cookie)).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
        assert!(page.text().await.unwrap().contains("logged out"));
    }
}

/// Users behind one app server are throttled each at their own address: an attacker's failures
/// there do not lock the honest users out.
#[tokio::test]
async fn the_auth_server_throttles_each_user_behind_the_app_server_at_their_own_address() {
    let auth = spawn_app_with(&["--trust-forwarded-for", "true", "--login-max-failures", "2"]).await;
    let app = bff(&auth, ClientAddress::LastForwardedFor).await;
    let attempt = |from: &'static str, email: String, password: &'static str| {
        let body = json!({"email": email, "password": password});
        app.client
            .post(app.url("/session/login"))
            .header("x-requested-with", "t")
            .header("x-forwarded-for", from)
            .json(&body)
            .send()
    };
    // One address may fail 4 × 2 times across accounts; then it is throttled.
    for i in 0..8 {
        let status =
            attempt("203.0.113.9", format!("nobody{}@example.com", i / 2), "wrong-password").await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = attempt("203.0.113.9", "fresh@example.com".to_owned(), "wrong-password").await.unwrap().status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Meanwhile an honest user at another address logs in through the same app server.
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    auth.register(&email).await;
    assert_eq!(attempt("198.51.100.7", email, PASSWORD).await.unwrap().status(), StatusCode::OK);
}

/// An auth server whose successful login answer the layer cannot read (another server's format, a
/// proxy's page) is never relayed: it may hold a token the page must not see.
#[tokio::test]
async fn a_login_answer_the_layer_cannot_read_is_not_relayed() {
    use axum::routing::post;
    let odd = axum::Router::new().route(
        paths::LOGIN,
        post(|| async { axum::Json(json!({"data": {"token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, odd).await.unwrap() });
    let bff = BffConfig::new(KEY);
    let app = AppServer::start(&auth_url, RefreshLayer::new(SsrConfig::new(&auth_url).bff(bff))).await;
    let answer = app.post("/session/login", None, &json!({"email": "a@example.com", "password": "x"})).await;
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(answer.headers().get(SET_COOKIE).is_none());
    let (_, text) = seen(answer).await;
    assert!(!Regex::new(JWT).unwrap().is_match(&text), "{text}");
    server.abort();
}
