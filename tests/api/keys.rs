//! Access tokens other services can verify: EdDSA with a `kid`, the JWKS, rotation with overlap, and
//! HS256 kept as a setting.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use shared::paths;

use crate::jose::{header, jwks, jwks_with_keys, verified_by_jwks};

use crate::helpers::{
    TestDatabase, config, eventually, expect_status, spawn_app_on, spawn_app_with, spawn_app_with_manual_clock,
    start_backend,
};

#[tokio::test]
async fn a_fresh_install_signs_with_eddsa_and_the_jwks_alone_verifies_its_tokens() {
    let app = spawn_app_with(&[]).await;
    let (_, login) = app.new_session().await;
    let token = &login.tokens.access_token;
    let head = header(token);
    assert_eq!((head["alg"].as_str(), head["typ"].as_str()), (Some("EdDSA"), Some("at+jwt")));
    assert!(head["kid"].as_str().is_some_and(|kid| !kid.is_empty()));

    let (document, cache) = jwks(&app.client, &app.url("")).await;
    assert!(verified_by_jwks(token, &document), "{document}");
    assert_eq!(cache, "public, max-age=300", "half the 10-minute activation delay");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let tampered = format!("{signed}x.{signature}");
    assert!(!verified_by_jwks(&tampered, &document));
    assert!(document.to_string().find("\"d\"").is_none(), "a private key component was published");
}

#[tokio::test]
async fn hs256_stays_a_setting_and_publishes_no_key() {
    let app = spawn_app_with(&["--jwt-algorithm", "hs256"]).await;
    let (_, login) = app.new_session().await;
    assert_eq!(header(&login.tokens.access_token)["alg"], "HS256");
    expect_status(app.get_with_token(paths::ME, &login.tokens.access_token).await, StatusCode::OK).await;
    assert_eq!(jwks(&app.client, &app.url("")).await.0, serde_json::json!({"keys": []}));
}

#[tokio::test]
async fn an_hs256_install_switched_to_eddsa_keeps_its_sessions() {
    let app = spawn_app_on(TestDatabase::new().await, &["--jwt-algorithm", "hs256"]).await;
    let (_, login) = app.new_session().await;
    let db = app.stop().await;
    let app = spawn_app_on(db, &[]).await;
    // The old access token is refused, and the client's refresh carries the session over.
    let old = app.get_with_token(paths::ME, &login.tokens.access_token).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(header(&pair.access_token)["alg"], "EdDSA");
    expect_status(app.get_with_token(paths::ME, &pair.access_token).await, StatusCode::OK).await;
}

/// `backend keys rotate` on the real binary, beside a running server: the new key is published at once
/// (once the server reloads) while the old one keeps signing, and tokens signed before still verify.
#[tokio::test]
async fn the_rotate_command_publishes_a_standby_key_to_a_running_server() {
    let db = TestDatabase::new().await;
    let timing = ["--key-reload-interval", "100ms"];
    let server = start_backend(&db.url, &timing);
    let client = reqwest::Client::new();
    let login = crate::helpers::login_on(&client, &server, "rotate@example.com", None).await;
    let old_token = login.tokens.access_token;

    let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--database-url", &db.url])
        .args(timing)
        .args(["keys", "rotate"])
        .env("JWT_SECRET", crate::helpers::SECRET)
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(said.contains("signs in 600 s"), "{said}");

    let document = jwks_with_keys(&client, &server.url(""), 2).await;
    assert!(verified_by_jwks(&old_token, &document));
    let me = client.get(server.url(paths::ME)).bearer_auth(&old_token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK, "a token signed before the rotation verifies after it");
    let again = crate::helpers::login_on(&client, &server, "rotate@example.com", None).await;
    assert_eq!(header(&again.tokens.access_token)["kid"], header(&old_token)["kid"], "the standby key signed early");
}

/// The whole lifecycle on a manual clock, to the millisecond: a rotated-in key is published at once and
/// signs only after the activation delay; tokens the old key signed keep verifying until they expire;
/// then the old key is neither published nor accepted.
#[tokio::test]
async fn rotation_publishes_first_signs_later_and_retires_after_the_last_token_expires() {
    let flags = [
        "--key-activation-delay",
        "10m",
        "--key-reload-interval",
        "50ms",
        "--access-token-ttl",
        "15m",
        "--jwt-leeway",
        "5s",
        "--purge-interval",
        "50ms",
    ];
    let (app, clock) = spawn_app_with_manual_clock(&flags).await;
    let (email, login) = app.new_session().await;
    let old_kid = header(&login.tokens.access_token)["kid"].as_str().unwrap().to_owned();

    let said = backend::rotate_keys(&config(&app.db.url, &flags), &clock, false).await.unwrap();
    assert!(said.contains("signs in 600 s") && said.contains("accepted for 1505 s more"), "{said}");
    let document = jwks_with_keys(&app.client, &app.url(""), 2).await;
    let new_kid =
        document["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).find(|k| *k != old_kid);
    let new_kid = new_kid.unwrap().to_owned();
    let kid_now =
        || async { header(&app.login(&email, None).await.tokens.access_token)["kid"].as_str().unwrap().to_owned() };

    clock.advance(Duration::from_millis(600_000 - 1));
    let last_old = app.login(&email, None).await.tokens.access_token;
    assert_eq!(header(&last_old)["kid"], old_kid.as_str(), "the new key signed before its delay");
    clock.advance(Duration::from_millis(1));
    assert_eq!(kid_now().await, new_kid);
    expect_status(app.get_with_token(paths::ME, &login.tokens.access_token).await, StatusCode::OK).await;

    // The last token the old key signed expires 15 min after the switch, accepted for the 5 s leeway:
    // until then the old key stays published and accepted.
    clock.advance(Duration::from_millis(15 * 60_000 + 5_000 - 1));
    let (document, _) = jwks(&app.client, &app.url("")).await;
    assert!(verified_by_jwks(&last_old, &document), "retired too early: {document}");
    expect_status(app.get_with_token(paths::ME, &last_old).await, StatusCode::OK).await;
    clock.advance(Duration::from_millis(1));
    let (document, _) = jwks(&app.client, &app.url("")).await;
    assert_eq!(document["keys"].as_array().unwrap().len(), 1, "{document}");
    assert_eq!(document["keys"][0]["kid"], new_kid.as_str());
    assert!(!verified_by_jwks(&last_old, &document));
    let refused = app.get_with_token(paths::ME, &last_old).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // The purge then deletes the retired key's row, private half included.
    sqlx::any::install_default_drivers();
    let pool = &sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let only_new = [(new_kid.clone(),)];
    eventually(Duration::from_secs(15), "the retired key purged", || async {
        let kids: Vec<(String,)> = sqlx::query_as("SELECT kid FROM signing_keys").fetch_all(pool).await.unwrap();
        if kids == only_new { Ok(()) } else { Err(format!("keys {kids:?}")) }
    })
    .await;
    pool.close().await;
}

#[tokio::test]
async fn a_backdated_token_is_signed_with_the_current_key() {
    let app = spawn_app_with(&[]).await;
    let (_, login) = app.new_session().await;
    let response = app.post_with_token(paths::DEMO_EXPIRED_TOKEN, &login.tokens.access_token).await;
    let body = expect_status(response, StatusCode::OK).await;
    let expired = body["data"]["access_token"].as_str().unwrap();
    assert_eq!(header(expired)["kid"], header(&login.tokens.access_token)["kid"]);
    let refused = app.get_with_token(paths::ME, expired).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "it is expired, not forged");
}

/// The key table reads this server has counted, from `/metrics`.
async fn key_reads(app: &crate::helpers::TestApp) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with("key_reloads_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Hundreds of tokens naming keys nobody has, at once: the key table is read once per reload interval
/// however many arrive, not once per request that arrives during a reload.
#[tokio::test]
async fn a_flood_of_unknown_kids_reads_the_key_table_once_per_interval() {
    let (app, clock) = spawn_app_with_manual_clock(&[]).await;
    let forged = |i: usize| {
        let header = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"no-such-key-{i}"}}"#);
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode("{}"), URL_SAFE_NO_PAD.encode("sig"))
    };
    for round in 0..2 {
        let before = key_reads(&app).await;
        clock.advance(Duration::from_secs(2));
        let sends = (0..300).map(|i| app.client.get(app.url(paths::ME)).bearer_auth(forged(i)).send());
        let statuses: Vec<StatusCode> =
            futures::future::join_all(sends).await.into_iter().map(|r| r.unwrap().status()).collect();
        assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "round {round}: {statuses:?}");
        assert_eq!(key_reads(&app).await - before, 1, "round {round}: one read for 300 unknown kids");
    }
}
