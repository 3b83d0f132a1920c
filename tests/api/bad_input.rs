//! Bad bodies and bad tokens: always a clear 4xx envelope, never a 5xx.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;
use shared::paths;

use crate::helpers::{expect_error, spawn_app, spawn_app_with, spawn_app_with_manual_clock};

#[tokio::test]
async fn malformed_or_mistyped_bodies_are_400() {
    let app = spawn_app().await;
    let cases: [(&str, &str); 6] = [
        ("application/json", "{not json"),
        ("application/json", r#"{"email": 5, "password": "x"}"#),
        ("application/json", r#"{"email": "a@example.com"}"#),
        ("application/json", "[]"),
        ("text/plain", r#"{"email": "a@example.com", "password": "x"}"#),
        ("application/x-www-form-urlencoded", "email=a&password=b"),
    ];
    for (content_type, body) in cases {
        let response = app
            .client
            .post(app.url(paths::LOGIN))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let response = app.client.post(app.url(paths::REGISTER)).send().await.unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let body = json!({"email": "a@example.com", "password": "x".repeat(70 * 1024)});
    expect_error(app.post_json(paths::LOGIN, &body).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn a_password_over_128_chars_is_rejected_at_login_before_hashing() {
    let app = spawn_app().await;
    let body = json!({"email": "a@example.com", "password": "x".repeat(129)});
    expect_error(app.post_json(paths::LOGIN, &body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
}

/// Rewrites one JWT segment (0 header, 1 claims) through `edit`, keeping the original signature.
fn tamper(token: &str, segment: usize, edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut value: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[segment]).unwrap()).unwrap();
    edit(&mut value);
    parts[segment] = URL_SAFE_NO_PAD.encode(value.to_string());
    parts.join(".")
}

#[tokio::test]
async fn every_kind_of_bad_access_token_is_401_with_www_authenticate() {
    let (app, clock) = spawn_app_with_manual_clock(&["--access-token-ttl", "1m", "--jwt-leeway", "0s"]).await;
    let (_, login) = app.new_session().await;
    let access = login.tokens.access_token.clone();
    let other_key = {
        let other = spawn_app_with(&["--jwt-secret", "a-completely-different-secret-0123456789"]).await;
        other.new_session().await.1.tokens.access_token
    };
    let alg_none = {
        let token = tamper(&access, 0, |h| h["alg"] = json!("none"));
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[2] = "";
        parts.join(".")
    };
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "missing_token"),
        ("non-bearer", Some(format!("Basic {}", URL_SAFE_NO_PAD.encode("a:b"))), "missing_token"),
        ("empty", Some("Bearer ".into()), "invalid_token"),
        ("garbage", Some("Bearer garbage".into()), "invalid_token"),
        ("tampered", Some(format!("Bearer {}", tamper(&access, 1, |c| c["role"] = json!("admin")))), "invalid_token"),
        ("alg none", Some(format!("Bearer {alg_none}")), "invalid_token"),
        ("wrong key", Some(format!("Bearer {other_key}")), "invalid_token"),
        ("refresh token", Some(format!("Bearer {}", login.tokens.refresh_token)), "invalid_token"),
        ("a second scheme", Some(format!("Bearer {access} extra")), "invalid_token"),
    ];
    for (name, header, code) in cases {
        let mut request = app.client.get(app.url(paths::ME));
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        let challenge = challenge.unwrap_or_else(|| panic!("{name}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
        assert_eq!(challenge.contains(r#"error="invalid_token""#), code != "missing_token", "{name}: {challenge}");
        expect_error(response, StatusCode::UNAUTHORIZED, code).await;
    }

    // Past its one-minute lifetime (leeway 0), the untouched token is expired.
    clock.advance(std::time::Duration::from_secs(61));
    let response = app.get_with_token(paths::ME, &access).await;
    assert!(response.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("invalid_token"));
    expect_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}

#[tokio::test]
async fn a_non_utf8_authorization_header_is_401_not_a_crash() {
    let app = spawn_app().await;
    let value = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
    let response = app.client.get(app.url(paths::ME)).header("authorization", value).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn an_access_token_is_never_accepted_as_a_refresh_token() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    expect_error(app.refresh(&login.tokens.access_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn a_bad_delay_on_the_demo_endpoint_is_400() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    for query in ["delay_ms=abc", "delay_ms=-1", "delay_ms=999999"] {
        let response = app.get_with_token(&format!("{}?{query}", paths::DEMO_ECHO), &login.tokens.access_token).await;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
}

#[tokio::test]
async fn demo_routes_are_not_mounted_unless_asked_for() {
    let app = crate::helpers::spawn_app_with(&["--demo-routes", "false"]).await;
    let (_, login) = app.new_session().await;
    let echo = app.get_with_token(shared::paths::DEMO_ECHO, &login.tokens.access_token).await;
    crate::helpers::expect_error(echo, reqwest::StatusCode::NOT_FOUND, "not_found").await;
}
