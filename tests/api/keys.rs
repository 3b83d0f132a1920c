//! Access tokens other services can verify: EdDSA with a `kid`, the JWKS, rotation with overlap, and
//! HS256 kept as a setting.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use reqwest::StatusCode;
use serde_json::Value;
use shared::paths;

use crate::helpers::{TestDatabase, expect_status, spawn_app_on, spawn_app_with, start_backend};

const JWKS: &str = "/.well-known/jwks.json";

fn header(token: &str) -> Value {
    let encoded = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

/// Checks `token` with nothing but the JWKS document and a plain Ed25519 implementation: no code shared
/// with the server's signer.
fn verified_by_jwks(token: &str, jwks: &Value) -> bool {
    let kid = header(token)["kid"].as_str().unwrap_or_default().to_owned();
    let Some(key) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()) else { return false };
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let x: [u8; 32] = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    VerifyingKey::from_bytes(&x).unwrap().verify(signed.as_bytes(), &signature).is_ok()
}

async fn jwks(client: &reqwest::Client, base: &str) -> (Value, String) {
    let response = client.get(format!("{base}{JWKS}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"].to_str().unwrap().to_owned();
    (response.json().await.unwrap(), cache)
}

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

/// The whole lifecycle on the real binary: a rotated-in key is published at once and signs after the
/// delay; tokens the old key signed keep verifying until they expire; then the old key is gone.
#[tokio::test]
async fn rotation_publishes_first_signs_later_and_retires_after_the_last_token_expires() {
    let db = TestDatabase::new().await;
    let timing = ["--key-activation-delay", "1s", "--key-reload-interval", "100ms", "--access-token-ttl", "2s"];
    let server = start_backend(&db.url, &timing);
    let client = reqwest::Client::new();
    let login = crate::helpers::login_on(&client, &server, "rotate@example.com", None).await;
    let old_token = login.tokens.access_token;
    let old_kid = header(&old_token)["kid"].as_str().unwrap().to_owned();

    let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--database-url", &db.url])
        .args(timing)
        .args(["keys", "rotate"])
        .env("JWT_SECRET", crate::helpers::SECRET)
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let started = Instant::now();

    // Published at once (after a reload), while the old key still signs.
    let (document, _) = eventually(&client, &server, |doc: &Value| doc["keys"].as_array().unwrap().len() == 2).await;
    assert!(verified_by_jwks(&old_token, &document));
    let me = client.get(server.url(paths::ME)).bearer_auth(&old_token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK, "a token signed before the rotation verifies after it");

    // After the delay, new tokens carry the new key.
    let new_kid = loop {
        let pair = crate::helpers::login_on(&client, &server, "rotate@example.com", None).await;
        let kid = header(&pair.tokens.access_token)["kid"].as_str().unwrap().to_owned();
        if kid != old_kid {
            assert!(started.elapsed() >= Duration::from_millis(900), "the new key signed before its delay");
            break kid;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the new key never started signing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Once every token the old key signed has expired, the old key is neither published nor accepted.
    let (document, _) = eventually(&client, &server, |doc: &Value| doc["keys"].as_array().unwrap().len() == 1).await;
    assert_eq!(document["keys"][0]["kid"], new_kid.as_str());
}

/// Polls the JWKS until `done` holds, for at most 15 s.
async fn eventually(
    client: &reqwest::Client,
    server: &crate::helpers::BackendProcess,
    done: impl Fn(&Value) -> bool,
) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = jwks(client, &server.url("")).await;
        if done(&found.0) {
            return found;
        }
        assert!(Instant::now() < deadline, "the JWKS never reached the expected state: {}", found.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
