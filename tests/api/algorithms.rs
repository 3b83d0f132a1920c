//! Access tokens in the RFC 9068 profile, signed with each algorithm the key ring holds, each verified
//! from the JWKS alone by an implementation that shares no code with the signer; and a move from one
//! algorithm to another by rotation that logs nobody out.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::auth::LoginResponse;
use shared::paths;

use crate::helpers::{PASSWORD, config, data, expect_status, spawn_app_with, spawn_app_with_manual_clock};
use crate::jose::{claims, header, jwks, jwks_with_keys, verified_by_jwks};

#[tokio::test]
async fn every_algorithm_signs_tokens_the_jwks_alone_verifies() {
    for (setting, alg, kty) in [("eddsa", "EdDSA", "OKP"), ("es256", "ES256", "EC"), ("rs256", "RS256", "RSA")] {
        let app = spawn_app_with(&["--jwt-algorithm", setting]).await;
        let (_, login) = app.new_session().await;
        let token = &login.tokens.access_token;
        assert_eq!((header(token)["alg"].as_str(), header(token)["typ"].as_str()), (Some(alg), Some("at+jwt")));
        let (document, _) = jwks(&app.client, &app.url("")).await;
        assert_eq!(document["keys"][0]["kty"], kty, "{setting}: {document}");
        assert!(verified_by_jwks(token, &document), "{setting}: {document}");
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let tampered = format!("{signed}x.{signature}");
        assert!(!verified_by_jwks(&tampered, &document), "{setting}: a tampered token verified");
        for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\""] {
            assert!(!document.to_string().contains(private), "{setting}: {private} was published");
        }
        expect_status(app.get_with_token(paths::ME, token).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn access_tokens_carry_the_rfc_9068_claims_with_the_login_client() {
    let app = spawn_app_with(&["--jwt-client-id", "default-spa", "--client-ids", "mobile-app,desktop-app"]).await;
    let (email, login) = app.new_session().await;
    let claims_of = |login: &LoginResponse| claims(&login.tokens.access_token);
    let plain = claims_of(&login);
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
        assert!(!plain[claim].is_null(), "{claim} missing: {plain}");
    }
    assert_eq!(plain["client_id"], "default-spa");
    assert_eq!(plain["iss"], "http://127.0.0.1:3000");
    let body = json!({"email": email, "password": PASSWORD, "appId": "mobile-app"});
    let mobile: LoginResponse = data(expect_status(app.post_json(paths::LOGIN, &body).await, StatusCode::OK).await);
    assert_eq!(claims_of(&mobile)["client_id"], "mobile-app");
    // A refresh keeps the session's client.
    let refreshed = app.refresh_ok(&mobile.tokens.refresh_token).await;
    assert_eq!(claims(&refreshed.access_token)["client_id"], "mobile-app");
}

/// EdDSA to ES256 on a running install: the servers' setting changes, a rotation brings an ES256 key,
/// and every session lives through it: old tokens verify until they expire, refreshes go on.
#[tokio::test]
async fn an_install_moves_from_eddsa_to_es256_by_rotation_without_logging_anyone_out() {
    let flags = [
        "--key-activation-delay",
        "1m",
        "--access-token-ttl",
        "5m",
        "--jwt-leeway",
        "0",
        "--key-reload-interval",
        "50ms",
    ];
    let (app, clock) = spawn_app_with_manual_clock(&flags).await;
    let (_, login) = app.new_session().await;
    assert_eq!(header(&login.tokens.access_token)["alg"], "EdDSA");
    let db_url = app.db.url.clone();
    let db = app.stop().await;

    let es256 = [&flags[..], &["--jwt-algorithm", "es256"]].concat();
    let app = crate::helpers::serve(
        db,
        backend::App::build_with_clock(&config(&db_url, &es256), std::sync::Arc::new(clock.clone())).await.unwrap(),
    )
    .await;
    // The setting alone changes nothing until a rotation: the EdDSA key still signs.
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(header(&pair.access_token)["alg"], "EdDSA");
    let said = backend::rotate_keys(&config(&db_url, &flags), &clock, false).await.unwrap();
    assert!(said.contains("ES256") && said.contains("the servers' settings"), "{said}");
    jwks_with_keys(&app.client, &app.url(""), 2).await;

    clock.advance(Duration::from_secs(60));
    let moved = app.refresh_ok(&pair.refresh_token).await;
    assert_eq!(header(&moved.access_token)["alg"], "ES256");
    let (document, _) = jwks(&app.client, &app.url("")).await;
    assert!(verified_by_jwks(&moved.access_token, &document));
    assert!(verified_by_jwks(&pair.access_token, &document), "the EdDSA key is still published");
    expect_status(app.get_with_token(paths::ME, &pair.access_token).await, StatusCode::OK).await;
    expect_status(app.get_with_token(paths::ME, &moved.access_token).await, StatusCode::OK).await;
    // A token claiming another algorithm than its key's is refused.
    let (head, rest) = moved.access_token.split_once('.').unwrap();
    let mut forged_head = header(&moved.access_token);
    forged_head["alg"] = "EdDSA".into();
    let forged_head =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged_head.to_string());
    assert_ne!(head, forged_head);
    let forged = format!("{forged_head}.{rest}");
    assert_eq!(app.get_with_token(paths::ME, &forged).await.status(), StatusCode::UNAUTHORIZED);
}
