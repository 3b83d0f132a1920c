//! What the server logs: request ids, never tokens or passwords.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::auth::TokenPair;
use shared::paths;

use crate::helpers::{PASSWORD, TestDatabase, data, eventually, expect_status, login_on, start_backend};

#[tokio::test]
async fn logs_carry_request_ids_but_never_tokens_or_passwords() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &[]);
    let client = reqwest::Client::new();
    let email = "logs@example.com";
    let login = login_on(&client, &server, email, None).await;
    let refresh = json!({"refreshToken": login.tokens.refresh_token});
    let pair: TokenPair = data(
        expect_status(client.post(server.url(paths::REFRESH)).json(&refresh).send().await.unwrap(), StatusCode::OK)
            .await,
    );
    let wrong = json!({"email": email, "password": "a-wrong-password"});
    client.post(server.url(paths::LOGIN)).json(&wrong).send().await.unwrap();
    client.get(server.url(paths::ME)).bearer_auth(&pair.access_token).send().await.unwrap();

    // Wait until the last request has been logged, then look for every secret.
    let server = &server;
    eventually(Duration::from_secs(10), "the requests logged", || async move {
        let log = server.log();
        if log.contains("path=/api/me") { Ok(()) } else { Err(log) }
    })
    .await;
    let log = server.log();
    assert!(log.contains("request{id="), "no request ids in:\n{log}");
    for secret in [
        PASSWORD,
        "a-wrong-password",
        &login.tokens.access_token,
        &login.tokens.refresh_token,
        &pair.refresh_token,
        &pair.access_token,
    ] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    // Not even a recognisable piece of a token.
    assert!(!log.contains(&pair.access_token[..20]), "a token prefix reached the log");
}
