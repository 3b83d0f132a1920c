//! Restarts, `kill -9` and signals, against the real `backend` binary.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::auth::TokenPair;
use shared::paths;

use crate::helpers::{TestDatabase, data, eventually, expect_status, login_on, spawn_app, spawn_app_on, start_backend};

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_sessions() {
    let app = spawn_app().await;
    let (_, login) = app.new_session().await;
    let pair = app.refresh_ok(&login.tokens.refresh_token).await;
    let db = app.stop().await;

    let app = spawn_app_on(db, &[]).await;
    expect_status(app.get_with_token(paths::ME, &pair.access_token).await, StatusCode::OK).await;
    app.refresh_ok(&pair.refresh_token).await;
}

/// Several clients rotate their own sessions as fast as they can; the server is killed mid-load. After a
/// restart, the last token each client saw acknowledged must still refresh.
#[tokio::test]
async fn kill_9_during_refresh_load_loses_no_acknowledged_rotation() {
    let db = TestDatabase::new().await;
    // A generous grace window: a rotation committed but never acknowledged leaves the client holding
    // the previous token, which the grace window must still honour after the restart.
    let flags = ["--refresh-reuse-grace", "60s"];
    let mut server = start_backend(&db.url, &flags);
    let client = reqwest::Client::new();
    let base = server.url("");

    let mut sessions = Vec::new();
    for i in 0..6 {
        let login = login_on(&client, &server, &format!("load{i}@example.com"), None).await;
        sessions.push(login.tokens.refresh_token);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = sessions
        .into_iter()
        .map(|mut token| {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            tokio::spawn(async move {
                let mut acknowledged = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(format!("{base}{}", paths::REFRESH))
                        .json(&json!({"refreshToken": token}))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status() != StatusCode::OK {
                        break;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else { break };
                    token = data::<TokenPair>(body).refresh_token;
                    acknowledged += 1;
                }
                (token, acknowledged)
            })
        })
        .collect();

    // The load runs for a while first, so the kill lands among many acknowledged rotations.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9();
    stop.store(true, Ordering::Relaxed);
    let mut last_tokens = Vec::new();
    let mut total = 0;
    for worker in workers {
        let (token, acknowledged) = worker.await.unwrap();
        total += acknowledged;
        last_tokens.push(token);
    }
    assert!(total >= 6, "the load did not get going: {total} rotations");

    let server = start_backend(&db.url, &flags);
    for token in last_tokens {
        let response =
            client.post(server.url(paths::REFRESH)).json(&json!({"refreshToken": token})).send().await.unwrap();
        expect_status(response, StatusCode::OK).await;
    }
    eprintln!("{total} acknowledged rotations before kill -9; all survived");
}

#[tokio::test]
async fn sigterm_shuts_the_binary_down_cleanly() {
    let db = TestDatabase::new().await;
    let mut server = start_backend(&db.url, &[]);
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let child = &mut server.child;
    let exit = eventually(Duration::from_secs(10), "an exit after SIGTERM", || {
        let exited = child.try_wait().unwrap();
        async move { exited.ok_or_else(|| "still running".to_owned()) }
    })
    .await;
    assert!(exit.success(), "{exit:?}");
}
