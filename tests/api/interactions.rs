//! Where features meet: the session cap and the session cache, the idle timeout and every reader of
//! "is this session live", a password change and "log out everywhere", introspection and the leeway,
//! the introspection throttle and strangers, IPv6 and per-address limits, `appId` and `client_id`.
//! Each test failed before the rule it names was fixed at its cause.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::LoginResponse;
use shared::paths;
use shared::sessions::Session;

use crate::helpers::{
    PASSWORD, TestApp, data, eventually, expect_error, expect_status, spawn_app_with, spawn_app_with_manual_clock,
};
use crate::jose::claims;

const CLIENT: (&str, &str) = ("api-gateway", "gateway-secret-0123456789");

fn client_from(address: &str) -> reqwest::Client {
    let address: IpAddr = address.parse().unwrap();
    reqwest::Client::builder().local_address(address).build().unwrap()
}

async fn introspect_as(app: &TestApp, client: &reqwest::Client, secret: &str, token: &str) -> reqwest::Response {
    let request = client.post(app.url(paths::INTROSPECT)).basic_auth(CLIENT.0, Some(secret));
    request.form(&[("token", token)]).send().await.unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = introspect_as(app, &app.client, CLIENT.1, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn clients_flag() -> [&'static str; 2] {
    ["--introspection-clients", "api-gateway:gateway-secret-0123456789"]
}

async fn login_as(app: &TestApp, email: &str) -> LoginResponse {
    app.login(email, None).await
}

#[tokio::test]
async fn wrong_client_secrets_from_a_stranger_never_lock_out_the_right_one() {
    let app = spawn_app_with(&clients_flag()).await;
    let (_, login) = app.new_session().await;
    let stranger = client_from("127.0.0.2");
    let secrets: Vec<String> = (0..40).map(|i| format!("guess-{i:020}")).collect();
    let guesses = secrets.iter().map(|secret| introspect_as(&app, &stranger, secret, "x"));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses).await.iter().map(|r| r.status()).collect();
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "the stranger is throttled: {statuses:?}");
    // The resource server, from its own address, still gets in, and so do many of its requests at once.
    let honest = (0..10).map(|_| introspect_as(&app, &app.client, CLIENT.1, &login.tokens.access_token));
    for response in futures::future::join_all(honest).await {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap()["active"], true);
    }
    // The right secret from the stranger's address is refused while that address is throttled.
    let throttled = introspect_as(&app, &stranger, CLIENT.1, "x").await;
    expect_error(throttled, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// Cap 2: A and B log in without a device id, B is used, then A; C's login must end B, the least
/// recently used (whose activity may not be written yet), and B's access token must be refused at
/// once although it sits in the session cache.
#[tokio::test]
async fn the_session_cap_ends_the_least_recently_used_session_and_its_token_at_once() {
    let (app, clock) = spawn_app_with_manual_clock(&[
        "--max-sessions-per-user",
        "2",
        "--session-cache-ttl",
        "1h",
        "--introspection-clients",
        "api-gateway:gateway-secret-0123456789",
    ])
    .await;
    let (email, a) = app.new_session().await;
    clock.advance(Duration::from_secs(1));
    let b = login_as(&app, &email).await;
    clock.advance(Duration::from_secs(1));
    expect_status(app.get_with_token(paths::ME, &b.tokens.access_token).await, StatusCode::OK).await;
    clock.advance(Duration::from_secs(1));
    expect_status(app.get_with_token(paths::ME, &a.tokens.access_token).await, StatusCode::OK).await;
    let c = login_as(&app, &email).await;
    assert_eq!(app.get_with_token(paths::ME, &b.tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&app, &b.tokens.access_token).await["active"], false);
    for live in [&a, &c] {
        expect_status(app.get_with_token(paths::ME, &live.tokens.access_token).await, StatusCode::OK).await;
    }
    expect_error(app.refresh(&b.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

/// The change is held behind a queue of logins on the hashing pool; once it has passed its session
/// check (its session's activity shows it), another device logs out everywhere. When the change's turn
/// comes its own session has ended, so it must change nothing.
#[tokio::test]
async fn a_password_change_whose_session_ended_meanwhile_changes_nothing() {
    let (app, clock) = spawn_app_with_manual_clock(&["--login-max-failures", "1000"]).await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let (other, _) = app.new_session().await;
    clock.advance(Duration::from_secs(5));
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url(paths::LOGIN));
            let body = json!({"email": other, "password": "not-the-password"});
            tokio::spawn(async move { client.post(url).json(&body).send().await.map(|r| r.status()) })
        })
        .collect();
    let change = {
        let (client, url) = (app.client.clone(), app.url(paths::CHANGE_PASSWORD));
        let body = json!({"currentPassword": PASSWORD, "newPassword": "a-new-password-1"});
        let token = laptop.tokens.access_token.clone();
        tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap() })
    };
    let laptop_sid = claims(&laptop.tokens.access_token)["sid"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "the change passed its session check", || async {
        let sessions: Vec<Session> = data(
            expect_status(app.get_with_token(paths::SESSIONS, &phone.tokens.access_token).await, StatusCode::OK).await,
        );
        let laptop = sessions.iter().find(|s| s.id == laptop_sid).ok_or("no laptop session")?;
        if laptop.last_used_at > laptop.created_at { Ok(()) } else { Err(format!("{laptop:?}")) }
    })
    .await;
    expect_status(app.post_with_token(paths::LOGOUT_ALL, &phone.tokens.access_token).await, StatusCode::OK).await;
    let change = change.await.unwrap();
    for login in flood {
        login.await.unwrap().unwrap();
    }
    expect_error(change, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let new = json!({"email": email, "password": "a-new-password-1"});
    expect_error(app.post_json(paths::LOGIN, &new).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.login(&email, None).await;
}

#[tokio::test]
async fn an_idle_session_is_dead_to_every_reader() {
    let (app, clock) = spawn_app_with_manual_clock(&[
        "--session-idle-timeout",
        "10m",
        "--introspection-clients",
        "api-gateway:gateway-secret-0123456789",
    ])
    .await;
    let (email, idle) = app.new_session().await;
    let busy = app.login(&email, Some("busy")).await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(4 * 60));
        expect_status(app.get_with_token(paths::ME, &busy.tokens.access_token).await, StatusCode::OK).await;
    }
    // Twelve minutes without a request: the first session is idle, whether or not anyone presented its
    // refresh token yet.
    assert_eq!(introspect(&app, &idle.tokens.refresh_token).await["active"], false);
    let sessions: Vec<Session> =
        data(expect_status(app.get_with_token(paths::SESSIONS, &busy.tokens.access_token).await, StatusCode::OK).await);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(introspect(&app, &busy.tokens.refresh_token).await["active"], true);
    expect_error(app.refresh(&idle.tokens.refresh_token).await, StatusCode::FORBIDDEN, "session_idle").await;
}

/// A refresh right after a request whose activity is not written yet must not find the session idle.
#[tokio::test]
async fn activity_not_yet_written_still_keeps_a_session_alive() {
    let (app, clock) =
        spawn_app_with_manual_clock(&["--session-idle-timeout", "10m", "--session-cache-ttl", "0"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(9 * 60));
    expect_status(app.get_with_token(paths::ME, &login.tokens.access_token).await, StatusCode::OK).await;
    clock.advance(Duration::from_secs(2 * 60));
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    expect_status(app.get_with_token(paths::ME, &pair.access_token).await, StatusCode::OK).await;
}

#[tokio::test]
async fn introspection_says_inactive_once_exp_passes_whatever_the_leeway() {
    let (app, clock) = spawn_app_with_manual_clock(&[
        "--access-token-ttl",
        "1m",
        "--jwt-leeway",
        "30s",
        "--introspection-clients",
        "api-gateway:gateway-secret-0123456789",
    ])
    .await;
    let (_, login) = app.new_session().await;
    let access = &login.tokens.access_token;
    clock.advance(Duration::from_secs(59));
    assert_eq!(introspect(&app, access).await["active"], true);
    clock.advance(Duration::from_secs(1));
    assert_eq!(introspect(&app, access).await["active"], false, "exp has passed on the issuer's own clock");
}

/// One IPv6 client holds a /64: addresses inside it share one sign-up and login allowance, another
/// /64 has its own.
#[tokio::test]
async fn per_address_limits_count_an_ipv6_prefix_as_one_client() {
    let app = spawn_app_with(&["--trust-forwarded-for", "true", "--register-max-per-ip", "2"]).await;
    let sign_up = |from: &'static str, i: usize| {
        let body = json!({"username": "ann", "email": format!("v6-{i}-{}@example.com", uuid::Uuid::new_v4().simple()), "password": PASSWORD});
        app.client.post(app.url(paths::REGISTER)).header("x-forwarded-for", from).json(&body).send()
    };
    let one_prefix = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::2", "2001:db8:1:2:abcd:1234:5678:9abc"];
    let mut statuses = Vec::new();
    for (i, from) in one_prefix.into_iter().enumerate() {
        statuses.push(sign_up(from, i).await.unwrap().status());
    }
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(sign_up("2001:db8:1:3::1", 9).await.unwrap().status(), StatusCode::CREATED, "another /64");
    assert_eq!(sign_up("198.51.100.1", 10).await.unwrap().status(), StatusCode::CREATED, "IPv4 is unchanged");

    // An address may fail four times the account limit (5): twenty failures on as many accounts, each
    // from another address of one /64, fill the prefix's allowance.
    let wrong = |from: String, i: usize| {
        let body = json!({"email": format!("nobody-{i}@example.com"), "password": "not-the-password"});
        app.client.post(app.url(paths::LOGIN)).header("x-forwarded-for", from).json(&body).send()
    };
    for i in 0..20 {
        let status = wrong(format!("2001:db8:9:9::{:x}", i + 1), i).await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let fresh = wrong("2001:db8:9:9:1234::99".into(), 99).await.unwrap();
    expect_error(fresh, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(wrong("2001:db8:9:a::1".into(), 100).await.unwrap().status(), StatusCode::UNAUTHORIZED, "another /64");
}

#[tokio::test]
async fn only_a_configured_application_becomes_a_tokens_client_id() {
    let app = spawn_app_with(&["--jwt-client-id", "spa", "--client-ids", "mobile-app"]).await;
    let (email, _) = app.new_session().await;
    let login_with = |app_id: &str| json!({"email": email, "password": PASSWORD, "appId": app_id});
    let chosen: LoginResponse =
        data(expect_status(app.post_json(paths::LOGIN, &login_with("billing-service")).await, StatusCode::OK).await);
    assert_eq!(claims(&chosen.tokens.access_token)["client_id"], "spa", "a user cannot pick another client");
    let sessions: Vec<Session> = data(
        expect_status(app.get_with_token(paths::SESSIONS, &chosen.tokens.access_token).await, StatusCode::OK).await,
    );
    assert!(sessions.iter().any(|s| s.app_id.as_deref() == Some("billing-service")), "the label stays: {sessions:?}");
    let refreshed = app.refresh_ok(&chosen.tokens.refresh_token).await;
    assert_eq!(claims(&refreshed.access_token)["client_id"], "spa");
    let known: LoginResponse =
        data(expect_status(app.post_json(paths::LOGIN, &login_with("mobile-app")).await, StatusCode::OK).await);
    assert_eq!(claims(&known.tokens.access_token)["client_id"], "mobile-app");
}

#[tokio::test]
async fn a_password_cannot_be_changed_to_itself() {
    let app = spawn_app_with(&[]).await;
    let (_, login) = app.new_session().await;
    let body = json!({"currentPassword": PASSWORD, "newPassword": PASSWORD});
    let request = app.client.post(app.url(paths::CHANGE_PASSWORD)).bearer_auth(&login.tokens.access_token);
    expect_error(request.json(&body).send().await.unwrap(), StatusCode::CONFLICT, "password_unchanged").await;
    // A wrong current password is refused as such first: the rule tells a guesser nothing.
    let body = json!({"currentPassword": "not-the-password", "newPassword": "not-the-password"});
    let request = app.client.post(app.url(paths::CHANGE_PASSWORD)).bearer_auth(&login.tokens.access_token);
    expect_error(request.json(&body).send().await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}
