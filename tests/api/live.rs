//! The demo's live stream: opened with the access token in the `Authorization` header, never in the
//! URL; it sends ticks while the token and its session are valid, and ends with the session.

use reqwest::StatusCode;
use shared::paths;

use crate::helpers::{expect_error, spawn_app};

/// Reads the stream until one whole event has arrived, and returns its `data:` line.
async fn first_event(response: reqwest::Response) -> String {
    let mut response = response;
    let mut seen = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(line) = seen.lines().find(|line| line.starts_with("data:")) {
            return line.trim_start_matches("data:").trim().to_owned();
        }
    }
    panic!("the stream ended before an event: {seen:?}");
}

#[tokio::test]
async fn the_live_stream_takes_the_token_in_the_header_and_never_in_the_url() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let token = &login.tokens.access_token;

    let response = app.client.get(app.url(paths::DEMO_LIVE)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let tick: serde_json::Value = serde_json::from_str(&first_event(response).await).unwrap();
    assert_eq!(tick["sequence"], 1);
    assert!(tick["token_expires_in"].as_i64().unwrap() > 0, "{tick}");

    // A token in the query is not a credential.
    let in_url = app.client.get(format!("{}?access_token={token}", app.url(paths::DEMO_LIVE))).send().await.unwrap();
    expect_error(in_url, StatusCode::UNAUTHORIZED, "missing_token").await;
    let garbage = app.client.get(app.url(paths::DEMO_LIVE)).bearer_auth("not-a-token").send().await.unwrap();
    expect_error(garbage, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Once the session ends, the token opens no stream.
    app.post_with_token(paths::LOGOUT, token).await;
    let ended = app.client.get(app.url(paths::DEMO_LIVE)).bearer_auth(token).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
}
