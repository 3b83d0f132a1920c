//! `backend keys rotate | list | revoke` on the real binary: none of them can leave the servers without
//! a signing key, create a database by accident, or time a rotation by the shell's settings (a shell
//! that disagrees with the servers is refused).

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
async fn a_rotation_follows_the_servers_settings_and_refuses_a_shell_that_disagrees() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--key-activation-delay", "2m", "--access-token-ttl", "1m"]);
    login_on(&reqwest::Client::new(), &server, "policy@example.com", None).await;
    let (_, before, _) = keys(&db.url, &["keys", "list"]);
    // Settings the shell was given and the servers do not use: refused, naming both values and the way on.
    for (args, named) in [
        (
            &["--key-activation-delay", "10m"][..],
            "KEY_ACTIVATION_DELAY=10m here, but the servers run with KEY_ACTIVATION_DELAY=2m",
        ),
        (&["--access-token-ttl", "15m"], "ACCESS_TOKEN_TTL=15m here, but the servers run with ACCESS_TOKEN_TTL=1m"),
        (&["--jwt-algorithm", "es256"], "JWT_ALGORITHM=ES256 here, but the servers run with JWT_ALGORITHM=EdDSA"),
    ] {
        let (ok, _, err) = keys(&db.url, &[args, &["keys", "rotate"]].concat());
        assert!(!ok, "{args:?} rotated");
        assert!(err.contains(named) && err.contains("restart them"), "{args:?}: {err}");
    }
    let (_, after, _) = keys(&db.url, &["keys", "list"]);
    assert_eq!(before, after, "a refused rotation added a key");
    // Given the servers' own values, or none, the rotation follows the servers and says so.
    let (ok, _, err) = keys(&db.url, &["--key-activation-delay", "2m", "--jwt-algorithm", "eddsa", "keys", "rotate"]);
    assert!(ok, "agreeing settings: {err}");
    let (ok, said, err) = keys(&db.url, &["keys", "rotate"]);
    assert!(ok, "{err}");
    assert!(
        said.contains("EdDSA") && said.contains("signs in 120 s") && said.contains("the servers' settings"),
        "{said}"
    );
    assert!(said.contains("accepted for 180 s more"), "120 s + 60 s (the test servers have no leeway): {said}");
}

#[tokio::test]
async fn list_shows_each_key_and_revoke_ends_one_at_once_and_another_signs() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--key-reload-interval", "100ms"]);
    // A second instance, which learns of the revocation only from the database.
    let other = start_backend(&db.url, &["--key-reload-interval", "100ms"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "revoke@example.com", None).await;
    let compromised = header(&login.tokens.access_token)["kid"].as_str().unwrap().to_owned();
    // Both instances have verified the token, and remember that they did (`verified.rs`).
    let token = &login.tokens.access_token;
    for instance in [&server, &other, &server, &other] {
        let status = client.get(instance.url(paths::ME)).bearer_auth(token).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK);
    }
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

    // Its tokens are refused by each instance once it reloads, though each verified this one before,
    // and logins go on with the other key.
    for instance in [&server, &other] {
        eventually(Duration::from_secs(10), "the revoked key's token refused", || async {
            match client.get(instance.url(paths::ME)).bearer_auth(token).send().await.unwrap().status() {
                StatusCode::UNAUTHORIZED => Ok(()),
                other => Err(other.to_string()),
            }
        })
        .await;
    }
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

/// The kid of the key whose state `keys list` gives as `state`.
fn kid_in_state(db_url: &str, state: &str) -> Option<String> {
    let (_, listed, _) = keys(db_url, &["keys", "list"]);
    listed
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(state))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_owned)
}

/// After `revoke`, waits until every key there was before has retired, then logs in and refreshes:
/// both must be signed by a key that is neither.
async fn logins_and_refreshes_go_on_after(db_url: &str, server: &crate::helpers::BackendProcess, before: &[String]) {
    let client = reqwest::Client::new();
    let login = login_on(&client, server, "gap@example.com", None).await;
    eventually(Duration::from_secs(15), "the keys before the revocation retired", || async {
        let (_, listed, _) = keys(db_url, &["keys", "list"]);
        let live =
            before.iter().filter(|kid| listed.lines().any(|l| l.starts_with(kid.as_str()) && !l.contains("retired")));
        match live.count() {
            0 => Ok(()),
            n => Err(format!("{n} still valid:\n{listed}")),
        }
    })
    .await;
    let again = login_on(&client, server, "gap@example.com", None).await;
    let kid = header(&again.tokens.access_token)["kid"].as_str().unwrap().to_owned();
    assert!(!before.contains(&kid), "signed by {kid}, one of {before:?}");
    let refreshed = client
        .post(server.url(paths::REFRESH))
        .json(&serde_json::json!({ "refreshToken": login.tokens.refresh_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK, "server log:\n{}", server.log());
}

#[tokio::test]
async fn revoking_a_rotations_standby_key_leaves_a_signer_for_after_the_old_key_retires() {
    let db = TestDatabase::new().await;
    let flags = ["--key-activation-delay", "1s", "--access-token-ttl", "1s", "--key-reload-interval", "100ms"];
    let server = start_backend(&db.url, &flags);
    login_on(&reqwest::Client::new(), &server, "gap@example.com", None).await;
    let signing = kid_in_state(&db.url, "active").unwrap();
    keys(&db.url, &["keys", "rotate"]);
    let standby = kid_in_state(&db.url, "standby").unwrap();
    let (ok, said, err) = keys(&db.url, &["keys", "revoke", &standby]);
    assert!(ok && said.contains("the remaining keys all retire"), "{said}{err}");
    logins_and_refreshes_go_on_after(&db.url, &server, &[signing, standby]).await;
}

#[tokio::test]
async fn revoking_the_key_that_just_took_over_leaves_a_signer_for_after_the_old_key_retires() {
    let db = TestDatabase::new().await;
    let flags = ["--key-activation-delay", "1s", "--access-token-ttl", "2s", "--key-reload-interval", "100ms"];
    let server = start_backend(&db.url, &flags);
    login_on(&reqwest::Client::new(), &server, "gap@example.com", None).await;
    let first = kid_in_state(&db.url, "active").unwrap();
    keys(&db.url, &["keys", "rotate"]);
    let second = kid_in_state(&db.url, "standby").unwrap();
    eventually(Duration::from_secs(5), "the new key signs", || async {
        match kid_in_state(&db.url, "active") {
            Some(kid) if kid == second => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (ok, said, err) = keys(&db.url, &["keys", "revoke", &second]);
    assert!(ok && said.contains("the remaining keys all retire"), "{said}{err}");
    logins_and_refreshes_go_on_after(&db.url, &server, &[first, second]).await;
}

/// Two commands that raced, or an edit by hand, can still leave every key retiring. The server finds
/// the gap at its next reload and closes it before the last key ends: refreshes never see a 500 (whose
/// retry would be taken for reuse and end the session).
#[tokio::test]
async fn a_ring_whose_keys_all_retire_is_repaired_by_the_server_before_it_must_sign() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--key-reload-interval", "100ms", "--access-token-ttl", "1s"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "gap@example.com", None).await;
    let first = kid_in_state(&db.url, "active").unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    let soon = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis())
        .unwrap()
        + 1_500;
    sqlx::query("UPDATE signing_keys SET retires_at = $1").bind(soon).execute(&mut conn).await.unwrap();
    let mut refresh_token = login.tokens.refresh_token.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < deadline {
        let response = client
            .post(server.url(paths::REFRESH))
            .json(&serde_json::json!({ "refreshToken": refresh_token }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}\nserver log:\n{}", server.log());
        refresh_token = body["data"]["refresh_token"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = login_on(&client, &server, "gap@example.com", None).await;
    assert_ne!(header(&again.tokens.access_token)["kid"], first.as_str(), "a new key signs");
}
