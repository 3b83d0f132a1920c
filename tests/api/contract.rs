//! The wire contract, line by line, with raw JSON so a change on both sides of a shared type shows up.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::paths;

use crate::helpers::{PASSWORD, expect_error, expect_status, spawn_app, spawn_app_with};

#[tokio::test]
async fn register_returns_201_with_the_public_user_and_ignores_a_requested_role() {
    let app = spawn_app().await;
    let body = json!({"username": "ann", "email": "Ann@Example.com", "password": PASSWORD, "role": "admin"});
    let body = expect_status(app.post_json(paths::REGISTER, &body).await, StatusCode::CREATED).await;
    let data = body["data"].as_object().expect("data object");
    assert_eq!(data.keys().map(String::as_str).collect::<Vec<_>>(), ["email", "id", "role", "username"]);
    assert_eq!(data["role"], "user");
    assert_eq!(data["email"], "ann@example.com");
    assert!(body.get("error").is_none(), "{body}");
}

#[tokio::test]
async fn registering_an_email_twice_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.register("dup@example.com").await;
    let body = json!({"username": "b", "email": "DUP@example.com", "password": PASSWORD});
    expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn register_rejects_bad_emails_and_passwords_outside_8_to_128_chars() {
    let app = spawn_app().await;
    let cases = [
        ("not-an-email", PASSWORD.to_owned()),
        ("ann@example.com", "short".to_owned()),
        ("ann@example.com", "x".repeat(129)),
    ];
    for (email, password) in cases {
        let body = json!({"username": "ann", "email": email, "password": password});
        expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let body = json!({"username": "ann", "email": "ann@example.com", "password": "x".repeat(128)});
    expect_status(app.post_json(paths::REGISTER, &body).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn login_returns_exactly_the_tutorial_fields() {
    let app = spawn_app_with(&["--access-token-ttl", "15m", "--refresh-token-ttl", "7d"]).await;
    app.register("ann@example.com").await;
    let body = json!({"email": "ann@example.com", "password": PASSWORD, "appId": "web", "deviceId": "d1", "deviceName": "Firefox"});
    let body = expect_status(app.post_json(paths::LOGIN, &body).await, StatusCode::OK).await;
    let data = &body["data"];
    let mut keys: Vec<_> = data.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "email",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "role",
            "token_type",
            "username"
        ]
    );
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["refresh_expires_in"].as_u64().map(|s| s.abs_diff(7 * 86_400) <= 1), Some(true));
    assert_eq!((data["username"].as_str(), data["role"].as_str()), (Some("ann"), Some("user")));
    assert!(data["refresh_token"].as_str().unwrap().len() >= 43, "at least 256 bits, URL-safe");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    let app = spawn_app().await;
    app.register("ann@example.com").await;
    let wrong_password =
        app.post_json(paths::LOGIN, &json!({"email": "ann@example.com", "password": "wrong-password"})).await;
    let unknown =
        app.post_json(paths::LOGIN, &json!({"email": "nobody@example.com", "password": "wrong-password"})).await;
    assert_eq!(wrong_password.headers().get("www-authenticate").unwrap(), "Bearer");
    let a = expect_error(wrong_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let b = expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn me_returns_the_profile_and_session_id() {
    let app = spawn_app().await;
    let (email, login) = app.new_session().await;
    let body = expect_status(app.get_with_token(paths::ME, &login.tokens.access_token).await, StatusCode::OK).await;
    let data = &body["data"];
    assert_eq!(data["email"], email.as_str());
    assert_eq!((data["username"].as_str(), data["role"].as_str()), (Some("ann"), Some("user")));
    assert!(data["id"].is_string() && data["session_id"].is_string(), "{body}");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .client
            .get(app.url(paths::ME))
            .header("authorization", format!("{scheme} {}", login.tokens.access_token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_returns_a_full_token_pair() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let body = expect_status(app.refresh(&login.tokens.refresh_token).await, StatusCode::OK).await;
    let data = &body["data"];
    let mut keys: Vec<_> = data.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type"]);
    assert_ne!(data["refresh_token"], login.tokens.refresh_token.as_str());
    let access = data["access_token"].as_str().unwrap();
    expect_status(app.get_with_token(paths::ME, access).await, StatusCode::OK).await;
}

#[tokio::test]
async fn refresh_without_a_token_is_400_refresh_token_missing() {
    let app = spawn_app().await;
    for body in [json!({}), json!({"refreshToken": ""}), json!({"refreshToken": null})] {
        expect_error(app.post_json(paths::REFRESH, &body).await, StatusCode::BAD_REQUEST, "refresh_token_missing")
            .await;
    }
}

#[tokio::test]
async fn refresh_with_an_unknown_token_is_403() {
    let app = spawn_app().await;
    expect_error(
        app.refresh("bm90LWEtcmVhbC10b2tlbi1ub3QtYS1yZWFsLXRva2Vu").await,
        StatusCode::FORBIDDEN,
        "refresh_token_invalid",
    )
    .await;
    expect_error(app.refresh("garbage").await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}

#[tokio::test]
async fn health_answers_200() {
    let app = spawn_app().await;
    let response = app.client.get(app.url(paths::HEALTH)).send().await.unwrap();
    let body = expect_status(response, StatusCode::OK).await;
    assert_eq!(body["data"]["status"], "ok");
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_with_the_envelope() {
    let app = spawn_app().await;
    for path in ["/api/nope", "/api", "/api/auth/nope/deeper"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = app.client.get(app.url(paths::LOGIN)).send().await.unwrap();
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn non_api_paths_serve_the_spa_with_index_html_as_fallback() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    std::fs::write(dist.path().join("app.js"), "console.log(1)").unwrap();
    let app = spawn_app_with(&["--static-dir", dist.path().to_str().unwrap()]).await;
    for (path, expected) in [("/", "spa"), ("/login", "spa"), ("/deep/client/route", "spa"), ("/app.js", "console")] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.text().await.unwrap().contains(expected), "{path}");
    }
    let response = app.client.get(app.url("/api/missing")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(app.url(paths::HEALTH)).send().await.unwrap();
    let id = response.headers().get("x-request-id").expect("x-request-id header").clone();
    assert!(!id.is_empty());
    let _: Value = response.json().await.unwrap();
    let next = app.client.get(app.url(paths::HEALTH)).send().await.unwrap();
    assert_ne!(next.headers().get("x-request-id"), Some(&id), "each request gets its own id");
    // A proxy's id is kept, so one request can be followed across both logs.
    let given = app.client.get(app.url(paths::HEALTH)).header("x-request-id", "edge-42").send().await.unwrap();
    assert_eq!(given.headers().get("x-request-id").unwrap(), "edge-42");
}

#[tokio::test]
async fn token_answers_are_never_cached_and_every_answer_carries_security_headers() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").unwrap();
    let app = spawn_app_with(&["--static-dir", dist.path().to_str().unwrap()]).await;
    app.register("ann@example.com").await;
    let login = app.post_json(paths::LOGIN, &json!({"email": "ann@example.com", "password": PASSWORD})).await;
    assert_eq!(login.headers().get("cache-control").unwrap(), "no-store");
    let spa = app.client.get(app.url("/")).send().await.unwrap();
    for response in [&login, &spa] {
        assert_eq!(response.headers().get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(response.headers().get("x-frame-options").unwrap(), "DENY");
        assert_eq!(response.headers().get("referrer-policy").unwrap(), "no-referrer");
    }
    assert!(spa.headers().get("cache-control").is_none_or(|v| v != "no-store"), "the SPA's assets may be cached");
}
