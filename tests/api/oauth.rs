//! The standard endpoints other services use: metadata (RFC 8414), introspection (RFC 7662) and
//! revocation (RFC 7009), including the hostile cases: a revocation a moment before introspection,
//! revocation racing a refresh, and parallel guesses at a client secret.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::paths;

use crate::helpers::{TestApp, expect_error, expect_status, spawn_app_with};
use crate::jose::claims;

pub(crate) const CLIENTS: &[&str] =
    &["--introspection-clients", "api-gateway:gateway-secret-0123456789,billing:billing-secret-0123456789"];

pub(crate) async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .post(app.url(paths::INTROSPECT))
        .basic_auth("api-gateway", Some("gateway-secret-0123456789"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, token: &str) -> StatusCode {
    app.client.post(app.url(paths::REVOKE)).form(&[("token", token)]).send().await.unwrap().status()
}

#[tokio::test]
async fn the_metadata_names_the_tokens_issuer_and_every_endpoint() {
    let app = spawn_app_with(&["--jwt-issuer", "https://auth.example.com/"]).await;
    let (_, login) = app.new_session().await;
    let metadata: Value = app.client.get(app.url(paths::OAUTH_METADATA)).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], claims(&login.tokens.access_token)["iss"]);
    assert_eq!(metadata["issuer"], "https://auth.example.com");
    assert_eq!(metadata["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");
    assert_eq!(metadata["introspection_endpoint"], "https://auth.example.com/oauth/introspect");
    assert_eq!(metadata["revocation_endpoint"], "https://auth.example.com/oauth/revoke");
    assert_eq!(metadata["introspection_endpoint_auth_methods_supported"], json!(["client_secret_basic"]));
    assert_eq!(metadata["access_token_signing_alg_values_supported"], json!(["EdDSA"]));
}

#[tokio::test]
async fn introspection_sees_a_logout_at_once_and_says_nothing_of_dead_tokens() {
    let app = spawn_app_with(CLIENTS).await;
    let (_, login) = app.new_session().await;
    let access = &login.tokens.access_token;
    let active = introspect(&app, access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["token_type"], "access_token");
    for field in ["sub", "client_id", "exp", "iat", "iss", "aud", "sid"] {
        assert!(!active[field].is_null(), "{field} missing: {active}");
    }
    let refresh = introspect(&app, &login.tokens.refresh_token).await;
    assert_eq!((refresh["active"].as_bool(), refresh["token_type"].as_str()), (Some(true), Some("refresh_token")));
    assert_eq!(refresh["sid"], active["sid"]);

    expect_status(app.post_with_token(paths::LOGOUT, access).await, StatusCode::OK).await;
    // No wait: the revocation is committed before logout answers.
    assert_eq!(introspect(&app, access).await, json!({"active": false}));
    assert_eq!(introspect(&app, &login.tokens.refresh_token).await, json!({"active": false}));
    for dead in ["", "garbage", "a.b.c", &"x".repeat(43), "eyJhbGciOiJub25lIn0.e30."] {
        if !dead.is_empty() {
            assert_eq!(introspect(&app, dead).await, json!({"active": false}), "{dead:?}");
        }
    }
}

#[tokio::test]
async fn a_rotated_out_refresh_token_is_inactive_and_its_successor_active() {
    let app = spawn_app_with(CLIENTS).await;
    let (_, login) = app.new_session().await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    assert_eq!(introspect(&app, &login.tokens.refresh_token).await, json!({"active": false}));
    assert_eq!(introspect(&app, &pair.refresh_token).await["active"], true);
}

#[tokio::test]
async fn introspection_without_or_with_wrong_credentials_is_401_basic() {
    let app = spawn_app_with(CLIENTS).await;
    let (_, login) = app.new_session().await;
    let form = [("token", login.tokens.access_token.as_str())];
    let without = app.client.post(app.url(paths::INTROSPECT)).form(&form).send().await.unwrap();
    assert_eq!(without.headers()["www-authenticate"], r#"Basic realm="introspection""#);
    expect_error(without, StatusCode::UNAUTHORIZED, "invalid_client").await;
    for (id, secret) in [("api-gateway", "wrong-secret-0123456789"), ("nobody", "gateway-secret-0123456789")] {
        let response = app.client.post(app.url(paths::INTROSPECT)).basic_auth(id, Some(secret)).form(&form).send();
        expect_error(response.await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let no_token = app.client.post(app.url(paths::INTROSPECT)).basic_auth("billing", Some("billing-secret-0123456789"));
    expect_error(
        no_token.form(&[("token_type_hint", "access_token")]).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    // With no client configured, everyone is refused.
    let closed = spawn_app_with(&[]).await;
    let response =
        closed.client.post(closed.url(paths::INTROSPECT)).basic_auth("api-gateway", Some("gateway-secret-0123456789"));
    expect_error(response.form(&form).send().await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// Forty guesses at once from one address: exactly the address's allowance (four times a login's
/// limit) are evaluated, the rest refused; the client id itself is never locked (see interactions.rs).
#[tokio::test]
async fn parallel_guesses_at_a_client_secret_are_throttled_per_address() {
    let app = spawn_app_with(CLIENTS).await;
    let guesses = (0..40).map(|i| {
        app.client
            .post(app.url(paths::INTROSPECT))
            .basic_auth("api-gateway", Some(format!("guess-{i:020}")))
            .form(&[("token", "x")])
            .send()
    });
    let statuses: Vec<StatusCode> =
        futures::future::join_all(guesses).await.into_iter().map(|r| r.unwrap().status()).collect();
    let evaluated = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((evaluated, refused), (20, 20), "{statuses:?}");
}

#[tokio::test]
async fn revoking_a_refresh_or_an_access_token_ends_its_session_and_anything_else_is_200() {
    let app = spawn_app_with(CLIENTS).await;
    let (email, by_refresh) = app.new_session().await;
    assert_eq!(revoke(&app, &by_refresh.tokens.refresh_token).await, StatusCode::OK);
    assert_eq!(app.get_with_token(paths::ME, &by_refresh.tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    expect_error(app.refresh(&by_refresh.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
        .await;

    let by_access = app.login(&email, Some("phone")).await;
    assert_eq!(revoke(&app, &by_access.tokens.access_token).await, StatusCode::OK);
    expect_error(app.refresh(&by_access.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
        .await;
    assert_eq!(introspect(&app, &by_access.tokens.access_token).await, json!({"active": false}));

    for unknown in ["nothing-like-a-token", &by_refresh.tokens.refresh_token, &"a".repeat(43)] {
        assert_eq!(revoke(&app, unknown).await, StatusCode::OK, "{unknown}");
    }
    let empty = app.client.post(app.url(paths::REVOKE)).form(&[("token_type_hint", "refresh_token")]).send();
    expect_error(empty.await.unwrap(), StatusCode::BAD_REQUEST, "invalid_request").await;
}

/// A revocation racing refreshes of the same session: whatever the order, no live successor survives.
#[tokio::test]
async fn revocation_racing_refreshes_leaves_no_live_successor() {
    let app = spawn_app_with(CLIENTS).await;
    for round in 0..5 {
        let (_, login) = app.new_session().await;
        let token = login.tokens.refresh_token.clone();
        let refreshes = (0..4).map(|_| app.refresh(&token));
        let (revoked, refreshed) = tokio::join!(revoke(&app, &token), futures::future::join_all(refreshes));
        assert_eq!(revoked, StatusCode::OK);
        for response in refreshed {
            if response.status() == StatusCode::OK {
                let body: Value = response.json().await.unwrap();
                let successor = body["data"]["refresh_token"].as_str().unwrap().to_owned();
                let access = body["data"]["access_token"].as_str().unwrap().to_owned();
                assert_eq!(introspect(&app, &successor).await, json!({"active": false}), "round {round}");
                assert_eq!(app.get_with_token(paths::ME, &access).await.status(), StatusCode::UNAUTHORIZED);
                expect_error(app.refresh(&successor).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
            }
        }
    }
}

#[tokio::test]
async fn in_cookie_mode_revocation_ends_the_cookies_session_and_clears_it() {
    let app = spawn_app_with(CLIENTS).await;
    let (email, _) = app.new_session().await;
    let login = app
        .client
        .post(app.url(paths::LOGIN))
        .header("x-token-delivery", "cookie")
        .json(&json!({"email": email, "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let revoked = app
        .client
        .post(app.url(paths::REVOKE))
        .header("x-token-delivery", "cookie")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(revoked.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the cookie is cleared");
    let refresh = app
        .client
        .post(app.url(paths::REFRESH))
        .header("x-token-delivery", "cookie")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    expect_error(refresh, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
}
