//! Restarts, `kill -9`, signals and start-up errors, against the real `backend` binary where it matters.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shared::auth::TokenPair;
use shared::paths;

use crate::helpers::{
    PASSWORD, TestDatabase, data, eventually, expect_status, login_on, spawn_app, spawn_app_on, start_backend,
};

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
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(std::time::Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
}

/// Runs the binary with `args` and a scrubbed environment; returns (exit code, stderr).
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_backend")).args(args).env_clear().envs(env.iter().copied()).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn an_invalid_setting_stops_start_up_with_one_line_naming_the_variable() {
    for (variable, value) in
        [("ACCESS_TOKEN_TTL", "soon"), ("BIND", "nowhere"), ("REFRESH_EXPIRY", "weekly"), ("JWT_SECRET", "short")]
    {
        let (code, stderr) = run_binary(&[], &[(variable, value)]);
        assert_eq!(code, Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

#[test]
fn an_explicit_database_without_jwt_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let (code, stderr) = run_binary(&[], &[("DATABASE_URL", url.as_str())]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let (code, _) = run_binary(&["--help"], &[]);
    assert_eq!(code, Some(0));
    let output = Command::new(env!("CARGO_BIN_EXE_backend")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "BIND",
        "DATABASE_URL",
        "JWT_SECRET",
        "ACCESS_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "REFRESH_EXPIRY",
        "SESSION_MAX_LIFETIME",
        "REFRESH_REUSE_GRACE",
        "JWT_LEEWAY",
        "STATIC_DIR",
        "DEMO_USER",
    ] {
        assert!(help.contains(&format!("[env: {variable}")), "{variable} missing from --help");
    }
}

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

#[tokio::test]
async fn ended_sessions_are_purged_periodically() {
    let db = TestDatabase::new().await;
    let server = start_backend(&db.url, &["--purge-interval", "1s"]);
    let client = reqwest::Client::new();
    let login = login_on(&client, &server, "purge@example.com", None).await;
    let response = client.post(server.url(paths::LOGOUT)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;

    sqlx::any::install_default_drivers();
    let pool = &sqlx::AnyPool::connect(&db.url).await.unwrap();
    eventually(Duration::from_secs(10), "the revoked session purged", || async move {
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions").fetch_one(pool).await.unwrap();
        if rows == 0 { Ok(()) } else { Err(format!("{rows} session row(s) left")) }
    })
    .await;
    pool.close().await;
}
