//! Cookie delivery (`X-Token-Delivery: cookie`): the refresh token only ever in an `HttpOnly` cookie,
//! rotation from the cookie, cookie clearing, and the CSRF rules, all from outside with crafted requests.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use shared::paths;

use crate::helpers::{PASSWORD, TestApp, data, expect_error, expect_status, spawn_app, spawn_app_with};

const COOKIE: &str = "__Host-refresh_token";

/// A request in cookie mode from this server's own page.
fn cookie_mode(app: &TestApp, request: RequestBuilder) -> RequestBuilder {
    request.header("X-Token-Delivery", "cookie").header("Origin", format!("http://{}", app.addr))
}

async fn login_with_cookie(app: &TestApp) -> (Value, String, HeaderMap) {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let body = json!({"email": email, "password": PASSWORD});
    let response = cookie_mode(app, app.client.post(app.url(paths::LOGIN)).json(&body)).send().await.unwrap();
    let headers = response.headers().clone();
    let body = expect_status(response, StatusCode::OK).await;
    let token = cookie_value(&headers).expect("a refresh cookie");
    (body, token, headers)
}

/// The refresh cookie's value in a response's `Set-Cookie`, if it sets one.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    set_cookie(headers)?.split(';').next()?.strip_prefix(&format!("{COOKIE}=")).map(str::to_owned)
}

fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(COOKIE))
        .map(str::to_owned)
}

fn clears_cookie(headers: &HeaderMap) -> bool {
    set_cookie(headers).is_some_and(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0"))
}

async fn refresh_with(app: &TestApp, token: &str) -> reqwest::Response {
    let request =
        app.client.post(app.url(paths::REFRESH)).header("Cookie", format!("{COOKIE}={token}")).json(&json!({}));
    cookie_mode(app, request).send().await.unwrap()
}

#[tokio::test]
async fn login_sets_a_host_only_http_only_strict_cookie_and_keeps_the_token_out_of_the_body() {
    let app = spawn_app().await;
    let (body, token, headers) = login_with_cookie(&app).await;

    let cookie = set_cookie(&headers).unwrap();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).skip(1).collect();
    for expected in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&expected), "{expected} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "__Host- cookies have no Domain: {cookie}");
    let max_age = format!("Max-Age={}", body["data"]["refresh_expires_in"]);
    assert!(attributes.contains(&max_age.as_str()), "{max_age} expected: {cookie}");
    assert_eq!(token.len(), 43);
    assert!(body["data"].get("refresh_token").is_none(), "the body must not carry it: {body}");
    assert!(!body.to_string().contains(&token));
    assert!(body["data"]["access_token"].is_string() && body["data"]["email"].is_string());
}

#[tokio::test]
async fn refresh_rotates_from_the_cookie_and_sets_the_successor() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "0"]).await;
    let (_, mut token, _) = login_with_cookie(&app).await;
    for _ in 0..3 {
        let response = refresh_with(&app, &token).await;
        let headers = response.headers().clone();
        let body = expect_status(response, StatusCode::OK).await;
        assert!(body["data"].get("refresh_token").is_none(), "{body}");
        assert!(body["data"]["username"].is_string(), "a reloaded page learns who it is: {body}");
        let next = cookie_value(&headers).expect("a successor cookie");
        assert_ne!(next, token);
        token = next;
    }
}

#[tokio::test]
async fn a_missing_cookie_is_400_and_a_refused_one_is_403_and_cleared() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "0"]).await;
    let (_, token, _) = login_with_cookie(&app).await;

    let missing = cookie_mode(&app, app.client.post(app.url(paths::REFRESH)).json(&json!({}))).send().await.unwrap();
    expect_error(missing, StatusCode::BAD_REQUEST, "refresh_token_missing").await;

    let garbage = refresh_with(&app, "not-a-token").await;
    assert!(clears_cookie(garbage.headers()));
    expect_error(garbage, StatusCode::FORBIDDEN, "refresh_token_invalid").await;

    expect_status(refresh_with(&app, &token).await, StatusCode::OK).await;
    let reused = refresh_with(&app, &token).await;
    assert!(clears_cookie(reused.headers()), "a reused cookie must be cleared");
    expect_error(reused, StatusCode::FORBIDDEN, "refresh_token_reused").await;
}

#[tokio::test]
async fn a_cookie_without_the_header_authenticates_nothing() {
    let app = spawn_app().await;
    let (_, token, _) = login_with_cookie(&app).await;
    let cookie = format!("{COOKIE}={token}");

    let refresh = app.client.post(app.url(paths::REFRESH)).header("Cookie", &cookie).json(&json!({})).send().await;
    expect_error(refresh.unwrap(), StatusCode::BAD_REQUEST, "refresh_token_missing").await;
    let logout = app.client.post(app.url(paths::LOGOUT)).header("Cookie", &cookie).send().await.unwrap();
    expect_error(logout, StatusCode::UNAUTHORIZED, "missing_token").await;
    // The session is untouched.
    expect_status(refresh_with(&app, &token).await, StatusCode::OK).await;
}

#[tokio::test]
async fn cross_site_requests_are_refused_with_csrf_rejected() {
    let app = spawn_app_with(&["--cors-origins", "http://127.0.0.1:8080"]).await;
    let (_, token, _) = login_with_cookie(&app).await;
    let cookie = format!("{COOKIE}={token}");
    let hostile: [&[(&str, &str)]; 4] = [
        &[("Origin", "http://evil.example")],
        &[("Origin", "null")],
        &[("Origin", &format!("http://{}.evil.example", app.addr))],
        &[("Sec-Fetch-Site", "cross-site")],
    ];
    for headers in hostile {
        for path in [paths::REFRESH, paths::LOGOUT, paths::LOGIN] {
            let mut request =
                app.client.post(app.url(path)).header("X-Token-Delivery", "cookie").header("Cookie", &cookie);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.json(&json!({})).send().await.unwrap();
            expect_error(response, StatusCode::FORBIDDEN, "csrf_rejected").await;
        }
    }
    // Nothing was revoked by any of them; a listed origin and a request with no Origin pass.
    let listed =
        app.client.post(app.url(paths::REFRESH)).header("X-Token-Delivery", "cookie").header("Cookie", &cookie);
    let listed = listed.header("Origin", "http://127.0.0.1:8080").header("Sec-Fetch-Site", "same-site");
    let response = listed.json(&json!({})).send().await.unwrap();
    let next = cookie_value(response.headers()).unwrap();
    expect_status(response, StatusCode::OK).await;
    let bare = app.client.post(app.url(paths::REFRESH)).header("X-Token-Delivery", "cookie");
    let bare = bare.header("Cookie", format!("{COOKIE}={next}")).json(&json!({}));
    expect_status(bare.send().await.unwrap(), StatusCode::OK).await;
}

#[tokio::test]
async fn logout_by_cookie_revokes_that_session_clears_the_cookie_and_is_idempotent() {
    let app = spawn_app().await;
    let (body, token, _) = login_with_cookie(&app).await;
    let access = body["data"]["access_token"].as_str().unwrap().to_owned();
    let cookie = format!("{COOKIE}={token}");
    for _ in 0..2 {
        let logout = cookie_mode(&app, app.client.post(app.url(paths::LOGOUT)).header("Cookie", &cookie));
        let response = logout.send().await.unwrap();
        assert!(clears_cookie(response.headers()));
        expect_status(response, StatusCode::OK).await;
    }
    let refused = refresh_with(&app, &token).await;
    assert!(clears_cookie(refused.headers()));
    expect_error(refused, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    expect_error(app.get_with_token(paths::ME, &access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_session_revoked_elsewhere_stops_its_cookie_at_once() {
    let app = spawn_app().await;
    let (body, token, _) = login_with_cookie(&app).await;
    let access = body["data"]["access_token"].as_str().unwrap();
    let response = app.post_with_token(paths::LOGOUT_ALL, access).await;
    expect_status(response, StatusCode::OK).await;
    let refused = refresh_with(&app, &token).await;
    assert!(clears_cookie(refused.headers()));
    expect_error(refused, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn malformed_delivery_requests_are_clear_400s() {
    let app = spawn_app().await;
    let (_, token, _) = login_with_cookie(&app).await;
    let odd = app.client.post(app.url(paths::REFRESH)).header("X-Token-Delivery", "carrier-pigeon");
    let response = odd.json(&json!({"refreshToken": token})).send().await.unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    let both = refresh_with_body(&app, &token).await;
    expect_error(both, StatusCode::BAD_REQUEST, "validation_failed").await;
}

async fn refresh_with_body(app: &TestApp, token: &str) -> reqwest::Response {
    let request = app.client.post(app.url(paths::REFRESH)).header("Cookie", format!("{COOKIE}={token}"));
    cookie_mode(app, request).json(&json!({"refreshToken": token})).send().await.unwrap()
}

#[tokio::test]
async fn body_mode_is_unchanged_for_the_tutorials_client() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_ne!(pair.refresh_token, login.tokens.refresh_token);
    let raw = app.post_json(paths::LOGIN, &json!({"email": "nobody@example.com", "password": "x"})).await;
    assert!(raw.headers().get(SET_COOKIE).is_none(), "body mode never sets a cookie");
    let _: Value = data(expect_status(app.refresh(&pair.refresh_token).await, StatusCode::OK).await);
}

/// The way browsers send it: `fetch(url, {method: 'POST', credentials: 'include', headers:
/// {'X-Token-Delivery': 'cookie'}})`, with no body and no `Content-Type`. A body that is there must
/// still be JSON.
#[tokio::test]
async fn a_plain_fetch_with_no_body_refreshes_in_cookie_mode() {
    let app = spawn_app().await;
    let (_, token, _) = login_with_cookie(&app).await;
    let bare = app.client.post(app.url(paths::REFRESH)).header("Cookie", format!("{COOKIE}={token}"));
    let response = cookie_mode(&app, bare).send().await.unwrap();
    let headers = response.headers().clone();
    expect_status(response, StatusCode::OK).await;
    let successor = cookie_value(&headers).expect("the successor cookie");
    let not_json = app.client.post(app.url(paths::REFRESH)).header("Cookie", format!("{COOKIE}={successor}"));
    let response = cookie_mode(&app, not_json.body("refresh please")).send().await.unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn reauthentication_in_cookie_mode_keeps_the_cookie_and_its_chain() {
    let (app, clock) = crate::helpers::spawn_app_with_manual_clock(&["--reauth-max-age", "10m"]).await;
    let (_, cookie, _) = login_with_cookie(&app).await;
    clock.advance(std::time::Duration::from_secs(11 * 60));
    let refreshed = refresh_with(&app, &cookie).await;
    let cookie = cookie_value(refreshed.headers()).expect("the successor cookie");
    let access = expect_status(refreshed, StatusCode::OK).await["data"]["access_token"].as_str().unwrap().to_owned();
    let challenged = app.post_with_token(paths::LOGOUT_OTHERS, &access).await;
    expect_error(challenged, StatusCode::UNAUTHORIZED, "reauthentication_required").await;

    let request =
        app.client.post(app.url(paths::REAUTHENTICATE)).bearer_auth(&access).json(&json!({"password": PASSWORD}));
    let answer = cookie_mode(&app, request).send().await.unwrap();
    assert!(set_cookie(answer.headers()).is_none(), "a re-authentication sets no cookie");
    let body = expect_status(answer, StatusCode::OK).await;
    assert!(body["data"].get("refresh_token").is_none(), "{body}");
    let fresh = body["data"]["access_token"].as_str().unwrap().to_owned();
    expect_status(app.post_with_token(paths::LOGOUT_OTHERS, &fresh).await, StatusCode::OK).await;
    // The cookie from before goes on rotating, now with the new authentication time.
    let next = refresh_with(&app, &cookie).await;
    let next = expect_status(next, StatusCode::OK).await["data"]["access_token"].as_str().unwrap().to_owned();
    assert_eq!(crate::jose::claims(&next)["auth_time"], crate::jose::claims(&fresh)["auth_time"]);
}

#[tokio::test]
async fn the_host_http_prefix_is_set_and_a_cookie_under_the_old_name_moves_over_without_a_logout() {
    const HTTP_COOKIE: &str = "__Host-Http-refresh_token";
    let db = crate::helpers::TestDatabase::new().await;
    let app = crate::helpers::spawn_app_on(db, &[]).await;
    // A session from before the change, under the old name.
    let (_, old_cookie, _) = login_with_cookie(&app).await;
    let db = app.stop().await;
    let app = crate::helpers::spawn_app_on(db, &["--refresh-cookie-prefix", "host-http"]).await;

    let moved = refresh_with(&app, &old_cookie).await;
    let set: Vec<String> = moved.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    expect_status(moved, StatusCode::OK).await;
    let new_cookie = set.iter().find_map(|c| c.strip_prefix(&format!("{HTTP_COOKIE}="))).expect("the new name");
    let new_cookie = new_cookie.split(';').next().unwrap().to_owned();
    assert!(set.iter().find(|c| c.starts_with(HTTP_COOKIE)).unwrap().contains("HttpOnly; Secure; SameSite=Strict"));
    assert!(set.iter().any(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0")), "{set:?}");

    // The next refresh comes with the new name (and, in an older browser's jar, maybe nothing else).
    let request = app
        .client
        .post(app.url(paths::REFRESH))
        .header("Cookie", format!("{HTTP_COOKIE}={new_cookie}"))
        .json(&json!({}));
    expect_status(cookie_mode(&app, request).send().await.unwrap(), StatusCode::OK).await;
    // Logging out clears both names.
    let request = app.client.post(app.url(paths::LOGOUT)).header("Cookie", format!("{HTTP_COOKIE}={new_cookie}"));
    let out = cookie_mode(&app, request).send().await.unwrap();
    let cleared: Vec<String> =
        out.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    for name in [COOKIE, HTTP_COOKIE] {
        assert!(cleared.iter().any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")), "{cleared:?}");
    }
}
