//! Recent authentication (RFC 9470): every access token carries the session's `auth_time` and `amr`,
//! a refresh copies them and never makes them recent, sensitive routes ask for the password again
//! past `REAUTH_MAX_AGE`, and `POST /api/auth/reauthenticate` answers on the same session and chain.
//! Hostile cases: a refresh after the challenge, a wrong password (throttled like a login), an ended
//! session, a re-authentication racing "log out everywhere", and `REAUTH_MAX_AGE=0`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::Reauthenticated;
use shared::paths;

use crate::helpers::{PASSWORD, TestApp, data, expect_error, expect_status, spawn_app_with_manual_clock};
use crate::jose::claims;

const CLIENTS: &[&str] = &["--introspection-clients", "gateway:gateway-secret-0123456789"];

async fn reauthenticate(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let body = json!({"password": password});
    app.client.post(app.url(paths::REAUTHENTICATE)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let form = [("token", token)];
    let request = app.client.post(app.url(paths::INTROSPECT)).basic_auth("gateway", Some("gateway-secret-0123456789"));
    request.form(&form).send().await.unwrap().json().await.unwrap()
}

/// Every sensitive route, called with `token` (ending another device's session needs its id).
async fn sensitive_calls(app: &TestApp, token: &str, other_session: &str) -> Vec<(&'static str, reqwest::Response)> {
    let password = json!({"currentPassword": PASSWORD, "newPassword": "another-password-1"});
    let session = app.url(&paths::SESSION.replace("{id}", other_session));
    let requests = [
        ("change password", app.client.post(app.url(paths::CHANGE_PASSWORD)).bearer_auth(token).json(&password)),
        ("sign out other devices", app.client.post(app.url(paths::LOGOUT_OTHERS)).bearer_auth(token)),
        ("log out everywhere", app.client.post(app.url(paths::LOGOUT_ALL)).bearer_auth(token)),
        ("end another device's session", app.client.delete(session).bearer_auth(token)),
    ];
    let mut answers = Vec::new();
    for (name, request) in requests {
        answers.push((name, request.send().await.unwrap()));
    }
    answers
}

/// Asserts the RFC 9470 challenge: 401, `reauthentication_required`, and the header with `max_age`.
async fn expect_challenge(response: reqwest::Response, max_age: u64, what: &str) {
    let header = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let header = header.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
    assert!(header.starts_with("Bearer error=\"insufficient_user_authentication\""), "{what}: {header}");
    assert!(header.ends_with(&format!("max_age={max_age}")), "{what}: {header}");
    expect_error(response, StatusCode::UNAUTHORIZED, "reauthentication_required").await;
}

#[tokio::test]
async fn refreshes_copy_the_sessions_authentication_time_and_never_make_it_recent() {
    let (app, clock) = spawn_app_with_manual_clock(CLIENTS).await;
    let (_, login) = app.new_session().await;
    let first = claims(&login.tokens.access_token);
    assert_eq!(first["amr"], json!(["pwd"]));
    assert_eq!(first["auth_time"], first["iat"], "a login is an authentication");
    let mut refresh_token = login.tokens.refresh_token;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(4 * 60));
        let pair = app.refresh_ok(&refresh_token).await;
        let token = claims(&pair.access_token);
        assert_eq!(token["auth_time"], first["auth_time"], "a refresh moved auth_time");
        assert_ne!(token["iat"], first["iat"]);
        assert_eq!(token["amr"], json!(["pwd"]));
        let introspected = introspect(&app, &pair.access_token).await;
        assert_eq!(
            (introspected["auth_time"].clone(), introspected["amr"].clone()),
            (first["auth_time"].clone(), json!(["pwd"]))
        );
        let of_refresh = introspect(&app, &pair.refresh_token).await;
        assert_eq!(of_refresh["auth_time"], first["auth_time"]);
        refresh_token = pair.refresh_token;
    }
}

#[tokio::test]
async fn past_the_max_age_sensitive_routes_ask_for_the_password_and_a_refresh_does_not_satisfy_them() {
    let (app, clock) = spawn_app_with_manual_clock(&["--reauth-max-age", "10m"]).await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let phone_session = claims(&phone.tokens.access_token)["sid"].as_str().unwrap().to_owned();
    clock.advance(Duration::from_secs(11 * 60));
    // A refresh after the challenge carries the same old authentication.
    let refreshed = app.refresh_ok(&laptop.tokens.refresh_token).await;
    for (what, answer) in sensitive_calls(&app, &refreshed.access_token, &phone_session).await {
        expect_challenge(answer, 600, what).await;
    }
    // Nothing changed: the other device is still logged in, the password is the old one.
    expect_status(app.get_with_token(paths::ME, &phone.tokens.access_token).await, StatusCode::OK).await;
    // Requests that are not sensitive go on.
    expect_status(app.get_with_token(paths::SESSIONS, &refreshed.access_token).await, StatusCode::OK).await;

    let fresh: Reauthenticated =
        data(expect_status(reauthenticate(&app, &refreshed.access_token, PASSWORD).await, StatusCode::OK).await);
    let token = claims(&fresh.access_token);
    assert_eq!(token["sid"], claims(&refreshed.access_token)["sid"], "the same session");
    assert_eq!(token["auth_time"], json!(fresh.auth_time));
    assert!(fresh.auth_time > claims(&refreshed.access_token)["auth_time"].as_i64().unwrap());
    let response = app.post_with_token(paths::LOGOUT_OTHERS, &fresh.access_token).await;
    expect_status(response, StatusCode::OK).await;
    expect_status(app.get_with_token(paths::ME, &phone.tokens.access_token).await, StatusCode::UNAUTHORIZED).await;

    // The same chain: the refresh token from before re-authentication rotates, and its access token
    // carries the new authentication time from then on, until it is too old again.
    clock.advance(Duration::from_secs(60));
    let next = app.refresh_ok(&refreshed.refresh_token).await;
    assert_eq!(claims(&next.access_token)["auth_time"], json!(fresh.auth_time));
    expect_status(app.post_with_token(paths::LOGOUT_OTHERS, &next.access_token).await, StatusCode::OK).await;
    clock.advance(Duration::from_secs(10 * 60));
    let later = app.refresh_ok(&next.refresh_token).await;
    expect_challenge(app.post_with_token(paths::LOGOUT_OTHERS, &later.access_token).await, 600, "later").await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_throttled_like_a_login_and_changes_nothing() {
    let (app, clock) = spawn_app_with_manual_clock(&["--login-max-failures", "3"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(11 * 60));
    let token = &login.tokens.access_token;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(reauthenticate(&app, token, "not-the-password").await.status());
    }
    assert_eq!(&statuses[..3], &[StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(&statuses[3..], &[StatusCode::TOO_MANY_REQUESTS; 2], "{statuses:?}");
    // The throttle is the login's: the right password waits too, so this is no guessing oracle.
    expect_error(reauthenticate(&app, token, PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    expect_challenge(app.post_with_token(paths::LOGOUT_OTHERS, token).await, 600, "after failures").await;
    for bad in [json!({}), json!({"password": ""}), json!({"password": "x".repeat(129)}), json!({"password": 7})] {
        let response = app.client.post(app.url(paths::REAUTHENTICATE)).bearer_auth(token).json(&bad).send().await;
        let status = response.unwrap().status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {status}");
    }
    expect_error(reauthenticate(&app, "not-a-token", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn an_ended_session_cannot_be_reauthenticated_even_racing_its_end() {
    let (app, _clock) = spawn_app_with_manual_clock(&[]).await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    // The laptop logs out everywhere while the phone re-authenticates: either the phone's answer came
    // first (and its session ended right after) or it is refused; never a live token afterwards.
    let (ended, again) = tokio::join!(
        app.post_with_token(paths::LOGOUT_ALL, &laptop.tokens.access_token),
        reauthenticate(&app, &phone.tokens.access_token, PASSWORD),
    );
    expect_status(ended, StatusCode::OK).await;
    if again.status() == StatusCode::OK {
        let fresh: Reauthenticated = data(expect_status(again, StatusCode::OK).await);
        expect_status(app.get_with_token(paths::ME, &fresh.access_token).await, StatusCode::UNAUTHORIZED).await;
    } else {
        expect_error(again, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    expect_error(app.refresh(&phone.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    let again = reauthenticate(&app, &phone.tokens.access_token, PASSWORD).await;
    expect_error(again, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_max_age_of_zero_asks_every_time_after_the_moment_the_password_was_entered() {
    let (app, clock) = spawn_app_with_manual_clock(&["--reauth-max-age", "0"]).await;
    let (_, login) = app.new_session().await;
    let token = &login.tokens.access_token;
    // Right after the login, the password was just entered.
    let sessions = app.get_with_token(paths::SESSIONS, token).await;
    expect_status(sessions, StatusCode::OK).await;
    clock.advance(Duration::from_secs(31));
    expect_challenge(app.post_with_token(paths::LOGOUT_OTHERS, token).await, 0, "31 s later").await;
    let fresh: Reauthenticated = data(expect_status(reauthenticate(&app, token, PASSWORD).await, StatusCode::OK).await);
    clock.advance(Duration::from_secs(2));
    expect_status(app.post_with_token(paths::LOGOUT_OTHERS, &fresh.access_token).await, StatusCode::OK).await;
}
