//! Devices, logout, logout-all and the sessions API.

use std::time::Duration;

use reqwest::StatusCode;
use shared::paths;
use shared::sessions::Session;

use crate::helpers::{TestDatabase, data, eventually, expect_error, expect_status, login_on, spawn_app, start_backend};

#[tokio::test]
async fn logging_in_again_on_one_device_replaces_only_that_devices_session() {
    let app = spawn_app().await;
    let (email, _) = app.new_session().await;
    let laptop = app.login(&email, Some("laptop")).await;
    let phone = app.login(&email, Some("phone")).await;
    let laptop_again = app.login(&email, Some("laptop")).await;

    expect_error(app.refresh(&laptop.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    app.refresh_ok(&phone.tokens.refresh_token).await;
    app.refresh_ok(&laptop_again.tokens.refresh_token).await;
}

#[tokio::test]
async fn sessions_lists_every_device_and_marks_the_callers() {
    let app = spawn_app().await;
    let (email, _first_device) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let response = app.get_with_token(paths::SESSIONS, &phone.tokens.access_token).await;
    let body = expect_status(response, StatusCode::OK).await;
    let raw = body["data"][0].as_object().unwrap();
    let mut keys: Vec<_> = raw.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "app_id",
            "created_at",
            "current",
            "device_id",
            "device_name",
            "expires_at",
            "id",
            "ip",
            "last_used_at",
            "remembered",
            "user_agent"
        ]
    );
    let sessions: Vec<Session> = data(body);
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].device_id.as_deref(), Some("phone"));
    assert_eq!(current[0].device_name.as_deref(), Some("test device"));
}

#[tokio::test]
async fn logout_ends_the_session_at_once_and_is_idempotent() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let access = &login.tokens.access_token;
    expect_status(app.post_with_token(paths::LOGOUT, access).await, StatusCode::OK).await;
    expect_status(app.post_with_token(paths::LOGOUT, access).await, StatusCode::OK).await;
    expect_error(app.get_with_token(paths::ME, access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn logout_without_a_token_is_401() {
    let app = spawn_app().await;
    let response = app.client.post(app.url(paths::LOGOUT)).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let (email, first) = app.new_session().await;
    let second = app.login(&email, Some("phone")).await;
    let (_, stranger) = app.new_session().await;
    expect_status(app.post_with_token(paths::LOGOUT_ALL, &first.tokens.access_token).await, StatusCode::OK).await;
    for login in [&first, &second] {
        expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
            .await;
    }
    app.refresh_ok(&stranger.tokens.refresh_token).await;
}

#[tokio::test]
async fn revoking_one_of_my_sessions_ends_that_device_only() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    let sessions: Vec<Session> = data(
        expect_status(app.get_with_token(paths::SESSIONS, &laptop.tokens.access_token).await, StatusCode::OK).await,
    );
    let phone_id = &sessions.iter().find(|s| !s.current).unwrap().id;

    let response = app
        .client
        .delete(app.url(&paths::session(phone_id)))
        .bearer_auth(&laptop.tokens.access_token)
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::OK).await;
    expect_error(app.refresh(&phone.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    expect_error(
        app.get_with_token(paths::ME, &phone.tokens.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    app.refresh_ok(&laptop.tokens.refresh_token).await;
    let sessions: Vec<Session> = data(
        expect_status(app.get_with_token(paths::SESSIONS, &laptop.tokens.access_token).await, StatusCode::OK).await,
    );
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn another_users_session_is_404_and_stays_alive() {
    let app = spawn_app().await;
    let (_, mine) = app.new_session().await;
    let (_, theirs) = app.new_session().await;
    let their_sessions: Vec<Session> = data(
        expect_status(app.get_with_token(paths::SESSIONS, &theirs.tokens.access_token).await, StatusCode::OK).await,
    );
    let response = app
        .client
        .delete(app.url(&paths::session(&their_sessions[0].id)))
        .bearer_auth(&mine.tokens.access_token)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    app.refresh_ok(&theirs.tokens.refresh_token).await;
}

#[tokio::test]
async fn a_refused_refresh_says_why_the_session_ended() {
    let app = crate::helpers::spawn_app().await;
    let (_, login) = app.new_session().await;
    let logout = app.post_with_token(shared::paths::LOGOUT, &login.tokens.access_token).await;
    crate::helpers::expect_status(logout, reqwest::StatusCode::OK).await;
    let refused = app.refresh(&login.tokens.refresh_token).await;
    let body = crate::helpers::expect_error(refused, reqwest::StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    assert_eq!(body["message"], "session has ended: logged out");
}

#[tokio::test]
async fn ended_sessions_are_purged_periodically() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--purge-interval", "1s"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "purge@example.com", None).await;
    let response = client.post(server.url(paths::LOGOUT)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;

    sqlx::any::install_default_drivers();
    let pool = &sqlx::AnyPool::connect(&db.url).await.unwrap();
    eventually(Duration::from_secs(10), "the revoked session purged", || async move {
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions").fetch_one(pool).await.unwrap();
        if rows == 0 { Ok(()) } else { Err(format!("{rows} session row(s) left")) }
    })
    .await;
    pool.close().await;
}
