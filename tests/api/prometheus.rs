//! `/metrics` in Prometheus's text format: requests by route template and status class with their
//! latency, refresh and login outcomes, live sessions and the pool; on the API listener, on one of its
//! own, or off.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::paths;

use crate::helpers::{TestDatabase, eventually, spawn_app, spawn_app_with, start_backend};

async fn scrape(client: &reqwest::Client, url: String) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_outcomes_sessions_and_the_pool() {
    let app = spawn_app().await;
    let (email, login) = app.new_session().await;
    let wrong = json!({"email": email, "password": "not-the-password"});
    app.post_json(paths::LOGIN, &wrong).await;
    app.refresh_ok(&login.tokens.refresh_token).await;
    app.refresh_ok(&login.tokens.refresh_token).await; // again, inside the grace window
    app.refresh("not-a-token").await;
    let sessions: serde_json::Value =
        app.get_with_token(paths::SESSIONS, &login.tokens.access_token).await.json().await.unwrap();
    let id = sessions["data"][0]["id"].as_str().unwrap().to_owned();
    app.client.delete(app.url(&paths::session(&id))).bearer_auth(&login.tokens.access_token).send().await.unwrap();

    let text = scrape(&app.client, app.url("/metrics")).await;
    for line in [
        r#"logins_total{outcome="succeeded"} 1"#,
        r#"logins_total{outcome="failed"} 1"#,
        r#"refreshes_total{outcome="rotated"} 1"#,
        r#"refreshes_total{outcome="grace"} 1"#,
        r#"refreshes_total{outcome="invalid"} 1"#,
        r#"http_requests_total{route="/api/auth/login",status="2xx"} 1"#,
        r#"http_requests_total{route="/api/auth/login",status="4xx"} 1"#,
        r#"http_request_duration_seconds_bucket{le="+Inf",route="/api/auth/login",status="2xx"} 1"#,
        r#"http_requests_total{route="/api/sessions/{id}",status="2xx"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains(&id), "a session id became a label value");
    assert!(text.contains(r#"db_connections{state="idle"}"#) && text.contains("sessions_active"), "{text}");
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(&["--metrics", "off"]).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_can_live_on_a_listener_of_their_own() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--metrics", "127.0.0.1:0"]);
    let client = reqwest::Client::new();
    let server = &server;
    let address = eventually(Duration::from_secs(10), "a metrics listener logged", || async move {
        let log = server.log();
        let address = log.split("metrics on http://").nth(1).and_then(|rest| rest.split_whitespace().next());
        address.map(str::to_owned).ok_or(log)
    })
    .await;
    assert!(scrape(&client, format!("http://{address}")).await.contains(r#"db_connections{state="idle"}"#));
    let public = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND, "not on the public listener too");
}
