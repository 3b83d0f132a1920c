//! The client crate's `native` feature against the real server: reqwest, the system clock, the tokio
//! driver and the file store, with real token lifetimes of two seconds.

use std::time::Duration;

use serde_json::Value;
use shared::auth::Me;
use shared::demo::ExpiredToken;
use shared::paths;
use silent_refresh::native::{Driver, FileStore, ReqwestTransport, SystemClock};
use silent_refresh::{Clock as _, EnvelopeProtocol, RefreshClient, Request};

use crate::helpers::{PASSWORD, TestApp, eventually, spawn_app_with};

pub(crate) type Client = RefreshClient<EnvelopeProtocol<Value>>;

fn client(app: &TestApp, store: Option<FileStore<Value>>) -> Client {
    let builder = RefreshClient::builder(EnvelopeProtocol::default(), ReqwestTransport::new(&app.url("")), SystemClock);
    match store {
        Some(store) => builder.store(store).build(),
        None => builder.build(),
    }
}

pub(crate) async fn logged_in(app: &TestApp, client: &Client) {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let credentials = serde_json::json!({"email": email, "password": PASSWORD});
    client.login(&Request::post(paths::LOGIN).json(&credentials).unwrap()).await.expect("login");
}

#[tokio::test]
async fn twenty_concurrent_requests_on_an_expired_token_take_one_refresh() {
    let app = spawn_app_with(&["--access-token-ttl", "2s"]).await;
    let client = client(&app, None);
    logged_in(&app, &client).await;
    assert_eq!(twenty_after_expiry(&app, &client).await, 1);
}

/// Puts the server's already expired token for the client's session in its store (which says it has
/// expired), sends twenty requests at once and checks every one succeeds; returns how many refreshes
/// the server made meanwhile.
pub(crate) async fn twenty_after_expiry(app: &TestApp, client: &Client) -> u64 {
    let expired: ExpiredToken = client.fetch(&Request::post(paths::DEMO_EXPIRED_TOKEN)).await.unwrap();
    let mut session = client.session().unwrap();
    session.access_token = expired.access_token;
    session.access_expires_at = SystemClock.now_ms() - 60_000;
    client.store().save(&session).unwrap();
    let before = app.metrics().await.refreshes;
    let request = Request::get(paths::ME);
    let answers = futures::future::join_all((0..20).map(|_| client.fetch::<Value>(&request))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    app.metrics().await.refreshes - before
}

/// The driver keeps a session fresh across three lifetimes with no request needing a refresh; once
/// stopped, it refreshes no more.
#[tokio::test]
async fn the_driver_refreshes_across_three_lifetimes_and_stops_when_stopped() {
    let app = spawn_app_with(&["--access-token-ttl", "2s"]).await;
    tokio::task::LocalSet::new()
        .run_until(async {
            let client = client(&app, None);
            logged_in(&app, &client).await;
            let driver = Driver::start(client.clone(), Duration::from_millis(100));
            let client = &client;
            eventually(Duration::from_secs(15), "three proactive refreshes", || async move {
                let fresh = client.fetch::<Value>(&Request::get(paths::ME)).await.map_err(|e| e.to_string())?;
                let refreshes = client.counters().refreshes;
                if refreshes >= 3 { Ok(fresh) } else { Err(format!("{refreshes} refreshes so far")) }
            })
            .await;
            assert_eq!(client.counters().replays, 0, "no request ever met an expired token");
            driver.stop();
            let stopped_at = client.counters().refreshes;
            // Proving that nothing happens takes waiting: past two more lifetimes.
            tokio::time::sleep(Duration::from_millis(4_500)).await;
            assert_eq!(client.counters().refreshes, stopped_at, "a stopped driver refreshed");
        })
        .await;
}

#[tokio::test]
async fn a_restarted_program_resumes_from_its_file_store() {
    let app = spawn_app_with(&[]).await;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("session.json");
    let first = client(&app, Some(FileStore::new(&path)));
    logged_in(&app, &first).await;
    let me: Me = first.fetch(&Request::get(paths::ME)).await.unwrap();
    assert!(!me.user.email.is_empty() && !me.session_id.is_empty(), "{me:?}");
    drop(first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the session file is readable by its owner only");
    }
    let restarted = client(&app, Some(FileStore::new(&path)));
    assert!(restarted.session().is_some(), "the session survived the restart");
    // Typed, so a field that is not there fails to decode instead of comparing two nulls.
    let again: Me = restarted.fetch(&Request::get(paths::ME)).await.unwrap();
    assert_eq!(again, me, "the same user on the same session after the restart");
    restarted.logout().await;
    assert!(!path.exists(), "logging out removes the file");
}
