//! Upgrades from real databases an earlier release wrote (`tests/upgrade/fixtures/<release>/`, made by
//! `tests/upgrade/make_fixture.py`): every account logs in as typed and as the earlier release let it,
//! every live session rotates, dead ones stay dead, earlier tokens and keys keep working, the issuer
//! stays, collisions are reported, and a second start is clean.

use std::path::PathBuf;
use std::time::Duration;

use backend::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::REFRESH_COOKIE;
use shared::paths;

use crate::helpers::{TestApp, TestDatabase, config, data, expect_error, expect_status, spawn_app_on_manual_clock};
use crate::jose::claims;

/// Every release whose database this one must open.
const RELEASES: &[&str] = &["80a24b0"];

fn fixture(release: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/upgrade/fixtures").join(release)
}

/// The fixture for this run's engine, copied or restored into `db`; returns its manifest part.
fn restore(db: &TestDatabase, release: &str) -> Value {
    let folder = fixture(release);
    let manifest: Value = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    if db.url.starts_with("sqlite:") {
        std::fs::copy(folder.join("sqlite.db"), db.folder().join("test.db")).unwrap();
        return manifest["sqlite"].clone();
    }
    let restored = std::process::Command::new("psql")
        .args([db.url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(folder.join("postgres.sql"))
        .output()
        .expect("psql runs (PostgreSQL's client, installed with the server)");
    assert!(restored.status.success(), "restore: {}", String::from_utf8_lossy(&restored.stderr));
    manifest["postgres"].clone()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.client.get(app.url(paths::ME)).bearer_auth(token).send().await.unwrap()
}

/// Logs in with `email` and answers which account that reached, and the new access token.
async fn login_as(app: &TestApp, email: &str) -> (String, String) {
    let body = json!({"email": email, "password": "correct horse battery"});
    let login: Value = data(expect_status(app.post_json(paths::LOGIN, &body).await, StatusCode::OK).await);
    let token = text(&login["access_token"]).to_owned();
    let who: Value = data(expect_status(me(app, &token).await, StatusCode::OK).await);
    (text(&who["id"]).to_owned(), token)
}

async fn refresh(app: &TestApp, session: &Value) -> reqwest::Response {
    let token = text(&session["refresh"]);
    if session["mode"] == "cookie" {
        let request = app.client.post(app.url(paths::REFRESH)).header("X-Token-Delivery", "cookie");
        let request = request.header("Origin", format!("http://{}", app.addr));
        request.header("Cookie", format!("{REFRESH_COOKIE}={token}")).json(&json!({})).send().await.unwrap()
    } else {
        app.refresh(token).await
    }
}

#[tokio::test]
async fn every_account_session_key_and_issuer_survives_the_upgrade() {
    for release in RELEASES {
        upgrade_from(release).await;
    }
}

async fn upgrade_from(release: &str) {
    let db = TestDatabase::new().await;
    let cases = restore(&db, release);
    // Opened a second after the earlier release stopped, as an operator's upgrade would.
    let clock = ManualClock::starting_at(cases["made_at_ms"].as_i64().unwrap() + 1000);
    let app = spawn_app_on_manual_clock(db, &["--register-max-per-ip", "1000"], clock.clone()).await;
    let sessions = cases["sessions"].as_array().unwrap();

    // Tokens the earlier release issued verify, with its issuer.
    for session in sessions.iter().filter(|s| s["state"] == "live") {
        let status = me(&app, text(&session["access"])).await.status();
        assert_eq!(status, StatusCode::OK, "{release}: an earlier access token of {}", session["account"]);
    }
    // Every account logs in as typed and with every spelling the earlier release took, and reaches itself.
    for account in cases["accounts"].as_array().unwrap() {
        let typed = text(&account["typed"]);
        let spellings = account["spellings"].as_array().unwrap().iter().map(text);
        for spelling in std::iter::once(typed).chain(spellings) {
            let (id, token) = login_as(&app, spelling).await;
            assert_eq!(id, text(&account["id"]), "{release}: {spelling:?} reached another account");
            assert_eq!(claims(&token)["iss"], cases["issuer"], "{release}: the issuer changed");
        }
    }
    // A new sign-up cannot take an earlier account's key or look-alike.
    for (email, code) in [("οδυσσεας@EXAMPLE.gr", "email_taken"), ("PAYPAL@example.com", "email_taken")] {
        let body = json!({"username": "twin", "email": email, "password": "correct horse battery"});
        expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::CONFLICT, code).await;
    }
    let look_alike = json!({"username": "twin", "email": "pаypal@EXAMPLE.com", "password": "correct horse battery"});
    expect_error(app.post_json(paths::REGISTER, &look_alike).await, StatusCode::CONFLICT, "email_taken").await;

    // Past the grace window: every live session rotates once, and dead ones stay dead.
    clock.advance(Duration::from_secs(60));
    for session in sessions {
        let response = refresh(&app, session).await;
        let status = response.status();
        if session["state"] == "live" {
            assert_eq!(status, StatusCode::OK, "{release}: a live session of {}", session["account"]);
            // A session the earlier release opened was opened by a password when it was created.
            let body: Value = response.json().await.unwrap();
            let token = claims(text(&body["data"]["access_token"]));
            assert_eq!(token["amr"], json!(["pwd"]), "{release}");
            let auth_time = token["auth_time"].as_i64().expect("an upgraded session's token carries auth_time");
            assert!(auth_time > 0 && auth_time < token["iat"].as_i64().unwrap(), "{release}: {token}");
        } else {
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::FORBIDDEN, "{release}: a {} session: {body}", session["state"]);
        }
    }
    // A token the earlier release retired is still recognised as reuse, and ends its chain.
    let chain = sessions.iter().find(|s| s["state"] == "live" && !s["retired"].as_array().unwrap().is_empty()).unwrap();
    let reused = app.refresh(text(&chain["retired"][0])).await;
    expect_error(reused, StatusCode::FORBIDDEN, "refresh_token_reused").await;

    // The earlier keys are still published.
    let jwks: Value = app.client.get(app.url(paths::JWKS)).send().await.unwrap().json().await.unwrap();
    let published: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| text(&k["kid"])).collect();
    for kid in cases["kids"].as_array().unwrap() {
        assert!(published.contains(&text(kid)), "{release}: {kid} is no longer published: {published:?}");
    }

    // The operator is told which earlier accounts collide.
    let report = backend::account_conflicts(&config(&app.db.url, &[])).await.unwrap();
    for expected in ["key οδυσσεασ@example.gr", "key o'brien@example.ie", "skeleton paypal@example.com"] {
        assert!(report.contains(expected), "{release}: the report misses {expected:?}:\n{report}");
    }
    println!("{release} collision report:\n{report}");

    // A second start on the upgraded database: nothing to redo, and the same answers.
    let db = app.stop().await;
    let app = spawn_app_on_manual_clock(db, &[], clock).await;
    let ann = &cases["accounts"][0];
    let (id, token) = login_as(&app, text(&ann["typed"])).await;
    assert_eq!(id, text(&ann["id"]));
    assert_eq!(claims(&token)["iss"], cases["issuer"], "{release}: the issuer changed at the second start");
    assert_eq!(backend::account_conflicts(&config(&app.db.url, &[])).await.unwrap(), report);
}
