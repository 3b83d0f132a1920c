//! The session controls users ask for: a password change that ends the other sessions, "sign out
//! other devices", remember me, the idle timeout, session details and the per-user cap, with the
//! hostile cases: a change racing a refresh, parallel wrong current passwords, parallel logins at the
//! cap, and a session cookie that stays one across rotations.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::{LoginResponse, OthersRevoked};
use shared::paths;
use shared::sessions::Session;

use crate::helpers::{
    PASSWORD, TestApp, data, expect_error, expect_status, spawn_app, spawn_app_with, spawn_app_with_manual_clock,
};

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> reqwest::Response {
    let body = json!({"currentPassword": current, "newPassword": new});
    app.client.post(app.url(paths::CHANGE_PASSWORD)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn live_sessions(app: &TestApp, token: &str) -> Vec<Session> {
    data(expect_status(app.get_with_token(paths::SESSIONS, token).await, StatusCode::OK).await)
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_the_callers_goes_on() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let tablet = app.login(&email, Some("tablet")).await;
    let answer = change_password(&app, &laptop.tokens.access_token, PASSWORD, "a-new-password-1").await;
    let changed: OthersRevoked = data(expect_status(answer, StatusCode::OK).await);
    assert_eq!(changed.revoked, 2);
    for other in [&phone, &tablet] {
        expect_error(app.refresh(&other.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
            .await;
        assert_eq!(app.get_with_token(paths::ME, &other.tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    }
    expect_status(app.get_with_token(paths::ME, &laptop.tokens.access_token).await, StatusCode::OK).await;
    app.refresh_ok(&laptop.tokens.refresh_token).await;
    let old = json!({"email": email, "password": PASSWORD});
    expect_error(app.post_json(paths::LOGIN, &old).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let new = json!({"email": email, "password": "a-new-password-1"});
    expect_status(app.post_json(paths::LOGIN, &new).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_wrong_current_password_or_a_bad_new_one_changes_nothing() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let token = &laptop.tokens.access_token;
    expect_error(
        change_password(&app, token, "not-the-password", "a-new-password-1").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_error(change_password(&app, token, PASSWORD, "short").await, StatusCode::BAD_REQUEST, "validation_failed")
        .await;
    app.refresh_ok(&phone.tokens.refresh_token).await;
    app.login(&email, None).await;
}

/// Forty wrong current passwords at once: exactly the throttle's limit are evaluated.
#[tokio::test]
async fn parallel_wrong_current_passwords_are_throttled_like_logins() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let token = &login.tokens.access_token;
    let wrong: Vec<String> = (0..40).map(|i| format!("guess-{i}")).collect();
    let guesses = wrong.iter().map(|guess| change_password(&app, token, guess, "a-new-password-1"));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses).await.iter().map(|r| r.status()).collect();
    let evaluated = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((evaluated, refused), (5, 35), "{statuses:?}");
}

/// Another device refreshes while the password changes, many times over: whatever the order, the
/// other device never ends up with a live session.
#[tokio::test]
async fn a_password_change_racing_a_refresh_on_another_device_leaves_it_no_live_session() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_session().await;
    let mut password = PASSWORD.to_owned();
    for round in 0..5 {
        let body = json!({"email": email, "password": password, "deviceId": "phone"});
        let phone: LoginResponse = data(expect_status(app.post_json(paths::LOGIN, &body).await, StatusCode::OK).await);
        let next = format!("a-new-password-{round}");
        let (changed, refreshed) = tokio::join!(
            change_password(&app, &laptop.tokens.access_token, &password, &next),
            app.refresh(&phone.tokens.refresh_token)
        );
        expect_status(changed, StatusCode::OK).await;
        password = next;
        let mut tokens = vec![phone.tokens.refresh_token.clone()];
        if refreshed.status() == StatusCode::OK {
            let body: Value = refreshed.json().await.unwrap();
            tokens.push(body["data"]["refresh_token"].as_str().unwrap().to_owned());
            let access = body["data"]["access_token"].as_str().unwrap();
            assert_eq!(app.get_with_token(paths::ME, access).await.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
        for token in tokens {
            let again = app.refresh(&token).await.status();
            assert_eq!(again, StatusCode::FORBIDDEN, "round {round}: the phone's session survived");
        }
        let live = live_sessions(&app, &laptop.tokens.access_token).await;
        assert_eq!(live.len(), 1, "round {round}: {live:?}");
    }
}

#[tokio::test]
async fn logout_others_ends_the_others_and_counts_them_and_logout_all_still_ends_everything() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let response = app.post_with_token(paths::LOGOUT_OTHERS, &laptop.tokens.access_token).await;
    let body = expect_status(response, StatusCode::OK).await;
    assert_eq!(body["data"], json!({"revoked": 1}));
    expect_error(app.refresh(&phone.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    let pair = app.refresh_ok(&laptop.tokens.refresh_token).await;
    expect_status(app.post_with_token(paths::LOGOUT_ALL, &pair.access_token).await, StatusCode::OK).await;
    assert_eq!(app.get_with_token(paths::ME, &pair.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

/// The refresh cookie's `Set-Cookie` line in an answer.
fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-"))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn remember_false_is_a_session_cookie_through_ten_rotations_and_capped_server_side() {
    let app = spawn_app_with(&["--session-ttl-not-remembered", "2h"]).await;
    let (email, _) = app.new_session().await;
    let cookie_mode = |request: reqwest::RequestBuilder| {
        request.header("X-Token-Delivery", "cookie").header("Origin", format!("http://{}", app.addr))
    };
    let body = json!({"email": email, "password": PASSWORD, "remember": false});
    let login = cookie_mode(app.client.post(app.url(paths::LOGIN)).json(&body)).send().await.unwrap();
    let mut line = set_cookie(&login);
    assert!(!line.contains("Max-Age") && !line.contains("Expires"), "{line}");
    let session: Value = login.json().await.unwrap();
    let expires_in = session["data"]["refresh_expires_in"].as_u64().unwrap();
    assert!(expires_in <= 2 * 3600, "the server caps it too: {expires_in} s");
    for rotation in 0..10 {
        let token = line.split(';').next().unwrap().to_owned();
        let refreshed =
            cookie_mode(app.client.post(app.url(paths::REFRESH)).header("Cookie", token)).send().await.unwrap();
        assert_eq!(refreshed.status(), StatusCode::OK, "rotation {rotation}");
        line = set_cookie(&refreshed);
        assert!(!line.contains("Max-Age") && !line.contains("Expires"), "rotation {rotation}: {line}");
    }
    // Remembered (and the tutorial's client, which sends nothing) keeps a persistent cookie.
    for remember in [json!(true), Value::Null] {
        let body = json!({"email": email, "password": PASSWORD, "remember": remember});
        let login = cookie_mode(app.client.post(app.url(paths::LOGIN)).json(&body)).send().await.unwrap();
        assert!(set_cookie(&login).contains("Max-Age="), "{remember}");
    }
}

#[tokio::test]
async fn an_idle_session_ends_and_refreshes_alone_never_keep_it_alive() {
    let (app, clock) =
        spawn_app_with_manual_clock(&["--session-idle-timeout", "30m", "--access-token-ttl", "15m"]).await;
    let (_, active) = app.new_session().await;
    let mut token = active.tokens.refresh_token.clone();
    // Refreshing every 10 minutes with no request in between: the session ends after 30 minutes.
    for _ in 0..2 {
        clock.advance(Duration::from_secs(10 * 60));
        token = app.refresh_ok(&token).await.refresh_token;
    }
    clock.advance(Duration::from_secs(10 * 60 + 1));
    expect_error(app.refresh(&token).await, StatusCode::FORBIDDEN, "session_idle").await;
    expect_error(app.refresh(&token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;

    // With a request now and then, it goes on.
    let (_, busy) = app.new_session().await;
    let mut pair = (busy.tokens.access_token.clone(), busy.tokens.refresh_token.clone());
    for _ in 0..4 {
        clock.advance(Duration::from_secs(14 * 60));
        expect_status(app.get_with_token(paths::ME, &pair.0).await, StatusCode::OK).await;
        // The activity write is coalesced and in the background: wait until it is in.
        crate::helpers::eventually(Duration::from_secs(5), "the activity recorded", || async {
            let sessions = live_sessions(&app, &pair.0).await;
            let last = sessions.iter().find(|s| s.current).map(|s| s.last_used_at).unwrap_or(0);
            if last * 1000 >= clock_now(&clock) - 1000 { Ok(()) } else { Err(format!("last used {last}")) }
        })
        .await;
        let next = app.refresh_ok(&pair.1).await;
        pair = (next.access_token, next.refresh_token);
    }
}

fn clock_now(clock: &backend::clock::ManualClock) -> i64 {
    backend::clock::Clock::now(clock)
}

#[tokio::test]
async fn an_idle_sessions_access_token_is_refused() {
    let (app, clock) = spawn_app_with_manual_clock(&["--session-idle-timeout", "5m", "--session-cache-ttl", "0"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(5 * 60 + 1));
    assert_eq!(app.get_with_token(paths::ME, &login.tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_show_the_address_and_browser_of_their_login() {
    let app = spawn_app_with(&["--trust-forwarded-for", "true"]).await;
    let (email, _) = app.new_session().await;
    let long_agent = format!("Mozilla/5.0 {}", "x".repeat(400));
    let login = app
        .client
        .post(app.url(paths::LOGIN))
        .header("user-agent", &long_agent)
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": email, "password": PASSWORD, "deviceId": "tablet"}))
        .send()
        .await
        .unwrap();
    let login: LoginResponse = data(expect_status(login, StatusCode::OK).await);
    let sessions = live_sessions(&app, &login.tokens.access_token).await;
    let tablet = sessions.iter().find(|s| s.current).unwrap();
    assert_eq!(tablet.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(tablet.user_agent.as_deref().map(|ua| ua.chars().count()), Some(256));
}

/// Twelve logins at once against a cap of five: never more than five live, and the newest survive.
#[tokio::test]
async fn parallel_logins_never_leave_more_sessions_than_the_cap() {
    let app = spawn_app_with(&["--max-sessions-per-user", "5"]).await;
    let (email, _) = app.new_session().await;
    let logins = (0..12).map(|i| {
        let body = json!({"email": email, "password": PASSWORD, "deviceId": format!("device-{i}")});
        app.client.post(app.url(paths::LOGIN)).json(&body).send()
    });
    let answers: Vec<reqwest::Response> =
        futures::future::join_all(logins).await.into_iter().map(Result::unwrap).collect();
    let mut logged_in = Vec::new();
    for answer in answers {
        logged_in.push(data::<LoginResponse>(expect_status(answer, StatusCode::OK).await));
    }
    let mut live = 0;
    for login in &logged_in {
        if app.get_with_token(paths::ME, &login.tokens.access_token).await.status() == StatusCode::OK {
            live += 1;
        }
    }
    assert_eq!(live, 5, "live sessions after 13 logins with a cap of 5");
    let last = app.login(&email, Some("newest")).await;
    assert_eq!(live_sessions(&app, &last.tokens.access_token).await.len(), 5);
}

#[tokio::test]
async fn the_activity_of_sessions_making_requests_together_is_each_recorded_with_its_own_time() {
    let (app, clock) = spawn_app_with_manual_clock(&["--session-cache-ttl", "0"]).await;
    let (email, first) = app.new_session().await;
    let mut tokens = vec![first.tokens.access_token.clone()];
    for device in 1..12 {
        tokens.push(app.login(&email, Some(&format!("device-{device}"))).await.tokens.access_token);
    }
    // Half the sessions make a request, a minute passes, the other half do: all at once each time, so
    // their writes are gathered into shared statements.
    clock.advance(Duration::from_secs(60));
    let early = clock_now(&clock) / 1000;
    let (first_half, second_half) = tokens.split_at(6);
    for answer in futures::future::join_all(first_half.iter().map(|t| app.get_with_token(paths::ME, t))).await {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    clock.advance(Duration::from_secs(60));
    let late = clock_now(&clock) / 1000;
    for answer in futures::future::join_all(second_half.iter().map(|t| app.get_with_token(paths::ME, t))).await {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    crate::helpers::eventually(Duration::from_secs(5), "every session's activity recorded", || async {
        let sessions = live_sessions(&app, &tokens[11]).await;
        let mut times: Vec<i64> = sessions.iter().map(|s| s.last_used_at).collect();
        times.sort_unstable();
        let expected: Vec<i64> = [vec![early; 6], vec![late; 6]].concat();
        if times == expected { Ok(()) } else { Err(format!("last used {times:?}, expected {expected:?}")) }
    })
    .await;
}

#[tokio::test]
async fn activity_recorded_just_before_a_graceful_stop_survives_the_restart() {
    let (app, clock) = spawn_app_with_manual_clock(&["--session-cache-ttl", "0"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(120));
    let used = clock_now(&clock) / 1000;
    expect_status(app.get_with_token(paths::ME, &login.tokens.access_token).await, StatusCode::OK).await;
    // Stopped at once, before the next tick would have written it.
    let restarted = crate::helpers::spawn_app_on(app.stop().await, &["--session-cache-ttl", "0"]).await;
    let sessions = live_sessions(&restarted, &login.tokens.access_token).await;
    assert_eq!(sessions.iter().find(|s| s.current).map(|s| s.last_used_at), Some(used));
}
