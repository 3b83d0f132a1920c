//! The issuer of an install never changes because a default did, and a deliberate change keeps the
//! previous issuer's tokens valid for one access-token lifetime, then no longer.

use std::time::Duration;

use backend::clock::ManualClock;
use reqwest::StatusCode;
use shared::paths;

use crate::helpers::{TestDatabase, spawn_app_on_manual_clock};
use crate::jose::claims;

#[tokio::test]
async fn a_recorded_issuer_outlives_a_changed_default_and_a_change_overlaps_for_one_token_lifetime() {
    let clock = ManualClock::starting_now();
    let db = TestDatabase::new().await;
    let app = spawn_app_on_manual_clock(db, &["--jwt-issuer", "https://old.example.com"], clock.clone()).await;
    let (_, old) = app.new_session().await;
    let old = old.tokens.access_token;
    assert_eq!(claims(&old)["iss"], "https://old.example.com");

    // Restarted without JWT_ISSUER: the recorded issuer, not the default.
    let app = spawn_app_on_manual_clock(app.stop().await, &[], clock.clone()).await;
    let (_, login) = app.new_session().await;
    assert_eq!(claims(&login.tokens.access_token)["iss"], "https://old.example.com", "a default replaced it");

    // Changed on purpose, with shorter tokens: the old issuer's token works for one new lifetime only.
    let overrides = ["--jwt-issuer", "https://new.example.com", "--access-token-ttl", "5m"];
    let app = spawn_app_on_manual_clock(app.stop().await, &overrides, clock.clone()).await;
    let (_, login) = app.new_session().await;
    assert_eq!(claims(&login.tokens.access_token)["iss"], "https://new.example.com");
    assert_eq!(app.get_with_token(paths::ME, &old).await.status(), StatusCode::OK, "the previous issuer at once");
    let metadata: serde_json::Value =
        app.client.get(app.url(paths::OAUTH_METADATA)).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], "https://new.example.com");
    clock.advance(Duration::from_secs(4 * 60));
    assert_eq!(app.get_with_token(paths::ME, &old).await.status(), StatusCode::OK, "within the window");
    clock.advance(Duration::from_secs(61));
    // Not expired (it lives 15 minutes), but its issuer is no longer accepted.
    assert_eq!(app.get_with_token(paths::ME, &old).await.status(), StatusCode::UNAUTHORIZED, "past the window");

    // A restart with the same setting does not open the window again.
    let app = spawn_app_on_manual_clock(app.stop().await, &overrides, clock).await;
    assert_eq!(app.get_with_token(paths::ME, &old).await.status(), StatusCode::UNAUTHORIZED, "after a restart");
}

#[tokio::test]
async fn a_plain_name_issuer_from_an_earlier_install_keeps_working() {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on_manual_clock(TestDatabase::new().await, &["--jwt-issuer", "silent-refresh"], clock).await;
    let (_, login) = app.new_session().await;
    assert_eq!(claims(&login.tokens.access_token)["iss"], "silent-refresh");
    assert_eq!(app.get_with_token(paths::ME, &login.tokens.access_token).await.status(), StatusCode::OK);
}

#[test]
fn a_misspelt_url_is_still_refused() {
    use clap::Parser;
    for bad in ["htps://auth.example.com", "https://", "auth example", "https://a.example/?x=1"] {
        let parsed = backend::Config::try_parse_from(["backend", "--jwt-issuer", bad]);
        assert!(parsed.is_err(), "{bad:?} was taken");
    }
}

#[tokio::test]
async fn a_new_install_whose_first_key_came_from_the_command_gets_the_new_default() {
    let db = TestDatabase::new().await;
    let clock = ManualClock::starting_now();
    backend::rotate_keys(&crate::helpers::config(&db.url, &[]), &clock, true).await.unwrap();
    let app = spawn_app_on_manual_clock(db, &[], clock).await;
    let (_, login) = app.new_session().await;
    assert_eq!(claims(&login.tokens.access_token)["iss"], "http://127.0.0.1:3000", "taken for an earlier release's");
}
