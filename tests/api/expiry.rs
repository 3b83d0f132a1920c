//! Sliding and fixed refresh expiry, the session cap, and expired tokens.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{expect_error, spawn_app_with};

#[tokio::test]
async fn sliding_expiry_moves_to_now_plus_ttl_on_every_refresh() {
    let app =
        spawn_app_with(&["--refresh-expiry", "sliding", "--refresh-token-ttl", "3s", "--session-max-lifetime", "1h"])
            .await;
    let (_, login) = app.new_session().await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert!(pair.refresh_expires_in >= 2, "expiry slid forward: {}", pair.refresh_expires_in);
    // 4 s after login, beyond the original 3 s, the slid session is still alive.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    app.refresh_ok(&pair.refresh_token).await;
}

#[tokio::test]
async fn fixed_expiry_keeps_the_login_deadline() {
    let app = spawn_app_with(&["--refresh-expiry", "fixed", "--refresh-token-ttl", "3s"]).await;
    let (_, login) = app.new_session().await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert!(pair.refresh_expires_in <= 1, "expiry must not move: {}", pair.refresh_expires_in);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    expect_error(app.refresh(&pair.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn sliding_expiry_never_passes_the_session_maximum() {
    let app = spawn_app_with(&["--refresh-token-ttl", "1h", "--session-max-lifetime", "3s"]).await;
    let (_, login) = app.new_session().await;
    assert!(login.tokens.refresh_expires_in <= 3);
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert!(pair.refresh_expires_in <= 3, "{}", pair.refresh_expires_in);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    expect_error(app.refresh(&pair.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_403() {
    let app = spawn_app_with(&["--refresh-token-ttl", "1s"]).await;
    let (_, login) = app.new_session().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body =
        expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
            .await;
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
}
