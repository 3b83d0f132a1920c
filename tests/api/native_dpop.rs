//! The client crate's `dpop` feature natively against the real server: a file-stored key, a fresh
//! proof on every send (the server refuses a replayed one), one refresh for a burst of 401s, and a
//! lost key that ends in a clean logout rather than a session nobody can use.

use serde_json::Value;
use shared::paths;
use silent_refresh::native::{FileDpopKey, FileStore, ReqwestTransport, SystemClock};
use silent_refresh::{ClientError, Clock as _, EnvelopeProtocol, RefreshClient, Request};

use crate::helpers::{TestApp, spawn_app_with};
use crate::jose::claims;
use crate::native_client::{Client, logged_in, twenty_after_expiry};

fn client(app: &TestApp, key: &std::path::Path, store: &std::path::Path) -> Client {
    let transport = ReqwestTransport::new(&app.url(""));
    RefreshClient::builder(EnvelopeProtocol::default(), transport, SystemClock)
        .store(FileStore::new(store))
        .dpop(FileDpopKey::load_or_create(key).expect("key"), app.url(""))
        .build()
}

#[tokio::test]
async fn twenty_concurrent_requests_on_an_expired_bound_token_take_one_refresh_and_fresh_proofs() {
    let app = spawn_app_with(&["--access-token-ttl", "2s"]).await;
    let folder = tempfile::tempdir().unwrap();
    let client = client(&app, &folder.path().join("key"), &folder.path().join("session.json"));
    logged_in(&app, &client).await;
    let session = client.session().unwrap();
    assert!(session.dpop, "the server bound the session");
    assert_eq!(claims(&session.access_token)["cnf"]["jkt"], client.dpop_thumbprint().unwrap());

    // Each of the twenty goes out with a proof of its own: the server refuses a proof it has seen.
    assert_eq!(twenty_after_expiry(&app, &client).await, 1);
    assert!(client.session().unwrap().dpop, "still bound after the refresh");
}

/// Marks the stored access token expired by the device's clock, so the next request refreshes first.
fn expire_access_token(client: &Client) {
    let mut session = client.session().unwrap();
    session.access_expires_at = SystemClock.now_ms() - 1;
    client.store().save(&session).unwrap();
}

#[tokio::test]
async fn a_restart_with_the_same_key_resumes_and_a_lost_key_ends_in_a_clean_logout() {
    let app = spawn_app_with(&["--access-token-ttl", "2s"]).await;
    let folder = tempfile::tempdir().unwrap();
    let (key, store) = (folder.path().join("key"), folder.path().join("session.json"));
    logged_in(&app, &client(&app, &key, &store)).await;

    // A restarted program: the same key file and session file; its access token is due, and the
    // refresh it takes is proved by the same key.
    let restarted = client(&app, &key, &store);
    expire_access_token(&restarted);
    assert!(restarted.fetch::<Value>(&Request::get(paths::ME)).await.is_ok());
    assert_eq!(restarted.counters().refreshes, 1);

    // The key file is gone (a wiped profile): the session cannot be proved, so it ends cleanly.
    std::fs::remove_file(&key).unwrap();
    let lost = client(&app, &key, &store);
    expire_access_token(&lost);
    let refused = lost.fetch::<Value>(&Request::get(paths::ME)).await;
    assert!(matches!(refused, Err(ClientError::SessionExpired)), "{refused:?}");
    assert!(lost.session().is_none(), "nothing left that no key can use");
}

/// This device's clock, five minutes behind.
struct FiveMinutesBehind;

impl silent_refresh::Clock for FiveMinutesBehind {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() - 300_000
    }
}

#[tokio::test]
async fn a_device_clock_minutes_behind_still_makes_proofs_the_server_takes() {
    let app = spawn_app_with(&[]).await;
    let folder = tempfile::tempdir().unwrap();
    let client =
        RefreshClient::builder(EnvelopeProtocol::default(), ReqwestTransport::new(&app.url("")), FiveMinutesBehind)
            .dpop(FileDpopKey::load_or_create(folder.path().join("key")).unwrap(), app.url(""))
            .build();
    // The first proof's iat is five minutes old by the server's clock: refused, and retried once on
    // the server's clock, which its Date said.
    logged_in(&app, &client).await;
    assert!(client.session().unwrap().dpop);
    assert!(client.fetch::<Value>(&Request::get(paths::ME)).await.is_ok());
}
