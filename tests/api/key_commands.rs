//! `backend keys rotate | list | revoke` on the real binary: none of them can leave the servers without
//! a signing key, create a database by accident, or time a rotation by the shell's settings.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use shared::paths;

use crate::helpers::{SECRET, TestDatabase, eventually, login_on, start_backend};
use crate::jose::header;

/// Runs `backend <args>` against `db_url`; (succeeded, stdout, stderr).
fn keys(db_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--database-url", db_url])
        .args(args)
        .env("JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn a_rotation_before_the_first_start_leaves_a_key_that_signs_at_once() {
    let db = TestDatabase::new().await;
    let (ok, said, err) = keys(&db.url, &["keys", "rotate", "--create"]);
    assert!(ok, "{err}");
    assert!(said.contains("signs in 0 s"), "{said}");
    let server = start_backend(&db.url, &[]);
    let login = login_on(&reqwest::Client::new(), &server, "first@example.com", None).await;
    assert!(!login.tokens.access_token.is_empty());
}

#[tokio::test]
async fn the_commands_refuse_to_create_a_database_that_does_not_exist() {
    let folder = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", folder.path().join("typo.db").display());
    for args in [&["keys", "rotate"][..], &["keys", "list"], &["keys", "revoke", "some-kid"]] {
        let (ok, _, err) = keys(&missing, args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains("no database at") && err.contains("--create"), "{args:?}: {err}");
    }
    assert!(!folder.path().join("typo.db").exists(), "a database was created");
}

#[tokio::test]
async fn a_rotation_follows_the_servers_settings_not_the_shells() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--key-activation-delay", "2m", "--access-token-ttl", "1m"]);
    login_on(&reqwest::Client::new(), &server, "policy@example.com", None).await;
    // The shell says otherwise; the servers' settings win, and the command says whose it used.
    let (ok, said, err) =
        keys(&db.url, &["--key-activation-delay", "10m", "--access-token-ttl", "15m", "keys", "rotate"]);
    assert!(ok, "{err}");
    assert!(said.contains("signs in 120 s") && said.contains("the servers' settings"), "{said}");
    assert!(said.contains("accepted for 180 s more"), "120 s + 60 s (the test servers have no leeway): {said}");
}

#[tokio::test]
async fn list_shows_each_key_and_revoke_ends_one_at_once_and_another_signs() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--key-reload-interval", "100ms"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "revoke@example.com", None).await;
    let compromised = header(&login.tokens.access_token)["kid"].as_str().unwrap().to_owned();
    keys(&db.url, &["keys", "rotate"]);

    let (ok, listed, err) = keys(&db.url, &["keys", "list"]);
    assert!(ok, "{err}");
    let state_of = |listed: &str, kid: &str| {
        listed.lines().find(|l| l.starts_with(kid)).map(|l| l.split_whitespace().nth(2).unwrap_or("").to_owned())
    };
    assert_eq!(state_of(&listed, &compromised).as_deref(), Some("active"), "{listed}");
    assert_eq!(listed.lines().filter(|l| l.contains("standby")).count(), 1, "{listed}");
    assert!(listed.lines().nth(1).is_some_and(|l| l.contains("EdDSA")), "{listed}");

    let (ok, said, err) = keys(&db.url, &["keys", "revoke", &compromised]);
    assert!(ok, "{err}");
    assert!(said.starts_with("WARNING") && said.contains("standby key"), "{said}");
    let (_, listed, _) = keys(&db.url, &["keys", "list"]);
    assert_eq!(state_of(&listed, &compromised).as_deref(), Some("retired"), "{listed}");
    assert_eq!(listed.lines().filter(|l| l.contains(" active ")).count(), 1, "{listed}");

    // Its tokens are refused by the server once it reloads, and logins go on with the other key.
    let token = &login.tokens.access_token;
    eventually(Duration::from_secs(10), "the revoked key's token refused", || async {
        match client.get(server.url(paths::ME)).bearer_auth(token).send().await.unwrap().status() {
            StatusCode::UNAUTHORIZED => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    let again = login_on(&client, &server, "revoke@example.com", None).await;
    assert_ne!(header(&again.tokens.access_token)["kid"], compromised.as_str());
    let (ok, _, err) = keys(&db.url, &["keys", "revoke", &compromised]);
    assert!(!ok && err.contains("no valid key"), "{err}");
}

// The commands block their thread; the refresher runs on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reloading_during_revocations_always_has_a_key_to_sign_with() {
    let db = TestDatabase::new().await;
    // Reloads every few milliseconds, so one lands inside a revocation if the revocation has an inside.
    let server = start_backend(&db.url, &["--key-reload-interval", "2ms"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "reload@example.com", None).await;
    let stop = Arc::new(AtomicBool::new(false));
    let refresher = tokio::spawn({
        let (client, url, stop) = (client.clone(), server.url(paths::REFRESH), stop.clone());
        let mut refresh_token = login.tokens.refresh_token.clone();
        async move {
            let mut refreshes = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let response =
                    client.post(&url).json(&serde_json::json!({ "refreshToken": refresh_token })).send().await.unwrap();
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap();
                if status != StatusCode::OK {
                    return Err(format!("refresh {refreshes}: {status} {body}"));
                }
                refresh_token = body["data"]["refresh_token"].as_str().unwrap().to_owned();
                refreshes += 1;
            }
            Ok(refreshes)
        }
    });

    for round in 0..8 {
        let (ok, _, err) = keys(&db.url, &["keys", "rotate"]);
        assert!(ok, "{err}");
        let (_, listed, _) = keys(&db.url, &["keys", "list"]);
        let active = listed
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some("active"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("round {round}: no active key in {listed}"))
            .to_owned();
        let (ok, said, err) = keys(&db.url, &["keys", "revoke", &active]);
        assert!(ok && said.contains("standby key"), "round {round}: {said}{err}");
    }
    stop.store(true, Ordering::SeqCst);
    let refreshes =
        refresher.await.unwrap().unwrap_or_else(|failure| panic!("{failure}\nserver log:\n{}", server.log()));
    assert!(refreshes > 0, "no refresh ran beside the revocations");
}
