//! Sliding and fixed refresh expiry, the session cap, and expired tokens, on a manual clock: time moves
//! when the test says so, and never sooner.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{expect_error, spawn_app_with_manual_clock};

#[tokio::test]
async fn sliding_expiry_moves_to_now_plus_ttl_on_every_refresh() {
    let (app, clock) = spawn_app_with_manual_clock(&[
        "--refresh-expiry",
        "sliding",
        "--refresh-token-ttl",
        "1h",
        "--session-max-lifetime",
        "30d",
    ])
    .await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(40 * 60));
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(pair.refresh_expires_in, 3600, "expiry slid forward to a full hour from now");
    // 80 minutes after login, beyond the original hour, the slid session is still alive...
    clock.advance(Duration::from_secs(40 * 60));
    let pair = app.refresh_ok(&pair.refresh_token).await;
    // ...and it ends an hour after its last use.
    clock.advance(Duration::from_secs(3601));
    expect_error(app.refresh(&pair.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn fixed_expiry_keeps_the_login_deadline() {
    let (app, clock) = spawn_app_with_manual_clock(&["--refresh-expiry", "fixed", "--refresh-token-ttl", "1h"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(40 * 60));
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(pair.refresh_expires_in, 20 * 60, "expiry must not move");
    clock.advance(Duration::from_secs(20 * 60 - 1));
    let pair = app.refresh_ok(&pair.refresh_token).await;
    assert_eq!(pair.refresh_expires_in, 1);
    clock.advance(Duration::from_secs(1));
    expect_error(app.refresh(&pair.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn sliding_expiry_never_passes_the_session_maximum() {
    let (app, clock) =
        spawn_app_with_manual_clock(&["--refresh-token-ttl", "1h", "--session-max-lifetime", "90m"]).await;
    let (_, login) = app.new_session().await;
    assert_eq!(login.tokens.refresh_expires_in, 3600);
    clock.advance(Duration::from_secs(50 * 60));
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(pair.refresh_expires_in, 40 * 60, "capped at 90 minutes after login, not an hour from now");
    clock.advance(Duration::from_secs(40 * 60));
    expect_error(app.refresh(&pair.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_403() {
    let (app, clock) = spawn_app_with_manual_clock(&["--refresh-token-ttl", "1h"]).await;
    let (_, login) = app.new_session().await;
    clock.advance(Duration::from_secs(3600));
    let body =
        expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
            .await;
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
}

#[tokio::test]
async fn an_access_token_expires_by_the_servers_clock_after_its_lifetime_and_leeway() {
    let (app, clock) = spawn_app_with_manual_clock(&["--access-token-ttl", "15m", "--jwt-leeway", "30s"]).await;
    let (_, login) = app.new_session().await;
    let token = &login.tokens.access_token;
    clock.advance(Duration::from_secs(15 * 60 + 30));
    let me = app.get_with_token(shared::paths::ME, token).await;
    assert_eq!(me.status(), StatusCode::OK, "still inside the leeway");
    clock.advance(Duration::from_secs(1));
    expect_error(app.get_with_token(shared::paths::ME, token).await, StatusCode::UNAUTHORIZED, "token_expired").await;
}
