//! Rotation, the grace window and reuse detection.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use shared::paths;

use crate::helpers::{data, expect_error, expect_status, spawn_app, spawn_app_with, spawn_app_with_manual_clock};

#[tokio::test]
async fn each_rotated_token_refreshes_again_down_a_long_chain() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "0"]).await;
    let (_, login) = app.new_session().await;
    let mut token = login.tokens.refresh_token;
    let mut seen = HashSet::from([token.clone()]);
    for _ in 0..5 {
        token = app.refresh_ok(&token).await.refresh_token;
        assert!(seen.insert(token.clone()), "a successor must never repeat");
    }
    assert_eq!(app.metrics().await.refreshes, 5);
}

#[tokio::test]
async fn refreshed_access_tokens_keep_username_and_role() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    let claims = pair.access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!((claims["username"].as_str(), claims["role"].as_str()), (Some("ann"), Some("user")));
    for claim in ["sub", "sid", "jti", "iat", "exp", "iss", "aud"] {
        assert!(!claims[claim].is_null(), "missing {claim}: {claims}");
    }
}

#[tokio::test]
async fn sixteen_concurrent_refreshes_of_one_token_all_succeed_with_one_successor() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let attempts = (0..16).map(|_| app.refresh(&login.tokens.refresh_token));
    let responses = futures::future::join_all(attempts).await;
    let mut successors = HashSet::new();
    for response in responses {
        let pair: shared::auth::TokenPair = data(expect_status(response, StatusCode::OK).await);
        successors.insert(pair.refresh_token);
    }
    assert_eq!(successors.len(), 1, "racing refreshes must converge on one chain");
    let successor = successors.into_iter().next().unwrap();
    let metrics = app.metrics().await;
    assert_eq!((metrics.refreshes, metrics.grace_refreshes, metrics.reuse_detected), (16, 15, 0));
    // The one successor is live.
    app.refresh_ok(&successor).await;
}

#[tokio::test]
async fn within_the_grace_window_the_previous_token_gets_the_same_successor() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let first = app.refresh_ok(&login.tokens.refresh_token).await;
    let again = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(first.refresh_token, again.refresh_token);
    assert_ne!(first.access_token, again.access_token, "every answer carries a fresh access token");
    expect_status(app.get_with_token(paths::ME, &again.access_token).await, StatusCode::OK).await;
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let (app, clock) = spawn_app_with_manual_clock(&["--refresh-reuse-grace", "10s"]).await;
    let (_, login) = app.new_session().await;
    let successor = app.refresh_ok(&login.tokens.refresh_token).await;
    clock.advance(Duration::from_secs(9));
    let again = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(again.refresh_token, successor.refresh_token, "still inside the grace window");
    clock.advance(Duration::from_millis(1001));

    expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_reused").await;
    // The thief's and the owner's newest tokens are both dead now, and so is the session.
    expect_error(app.refresh(&successor.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    expect_error(
        app.get_with_token(paths::ME, &successor.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(app.metrics().await.reuse_detected, 1);
}

#[tokio::test]
async fn a_token_two_generations_back_is_reuse_even_inside_the_grace_window() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let second = app.refresh_ok(&login.tokens.refresh_token).await;
    let third = app.refresh_ok(&second.refresh_token).await;
    expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_reused").await;
    expect_error(app.refresh(&third.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn a_zero_grace_window_treats_any_second_use_as_reuse() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "0"]).await;
    let (_, login) = app.new_session().await;
    app.refresh_ok(&login.tokens.refresh_token).await;
    expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_reused").await;
}

#[tokio::test]
async fn reuse_in_one_session_leaves_the_users_other_sessions_alone() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "0"]).await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    app.refresh_ok(&laptop.tokens.refresh_token).await;
    expect_error(app.refresh(&laptop.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_reused").await;
    app.refresh_ok(&phone.tokens.refresh_token).await;
}

#[tokio::test]
async fn logged_out_sessions_cannot_refresh() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    expect_status(app.post_with_token(paths::LOGOUT, &login.tokens.access_token).await, StatusCode::OK).await;
    expect_error(app.refresh(&login.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    let tokens = [login.tokens.refresh_token.clone(), pair.refresh_token.clone()];

    // Every stored token column holds a SHA-256 hex digest, never a token.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as(
        "SELECT current_hash FROM sessions UNION ALL SELECT previous_hash FROM sessions WHERE previous_hash IS NOT NULL
         UNION ALL SELECT hash FROM retired_refresh_tokens",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(stored.len(), 3, "live, previous and retired: {stored:?}");
    for (value,) in &stored {
        assert!(value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()), "not a digest: {value}");
        assert!(!tokens.contains(value));
    }

    // On SQLite, not even the raw file or its write-ahead log contains a token.
    if app.db.url.starts_with("sqlite") {
        let db = app.stop().await;
        let bytes = std::fs::read(db.folder().join("test.db")).unwrap();
        let wal = std::fs::read(db.folder().join("test.db-wal")).unwrap_or_default();
        for token in &tokens {
            for file in [&bytes, &wal] {
                assert!(!file.windows(token.len()).any(|w| w == token.as_bytes()), "a raw refresh token was stored");
            }
        }
    }
}
