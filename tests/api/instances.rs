//! Two `backend` processes sharing one database and one secret, as behind a load balancer. Run on the
//! suite's engine: PostgreSQL when `TEST_POSTGRES_URL` is set, otherwise one SQLite file shared by both
//! processes (its write lock spans processes, so the same rules must hold).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::{LoginResponse, TokenPair};
use shared::paths;
use shared::sessions::Session;

use crate::helpers::{
    BackendProcess, TestDatabase, data, eventually, expect_error, expect_status, login_on, start_backend,
};

struct Pair {
    a: BackendProcess,
    b: BackendProcess,
    http: reqwest::Client,
    _db: TestDatabase,
}

async fn two_instances(extra: &[&str]) -> Pair {
    let db = TestDatabase::new().await;
    // Start one first so migrations run once before the second connects.
    let a = start_backend(&db.url, extra);
    let b = start_backend(&db.url, extra);
    Pair { a, b, http: reqwest::Client::new(), _db: db }
}

impl Pair {
    async fn post(&self, on: &BackendProcess, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(on.url(path)).json(body).send().await.expect("request")
    }

    async fn login(&self, on: &BackendProcess, device: &str) -> LoginResponse {
        login_on(&self.http, on, "multi@example.com", Some(device)).await
    }

    async fn refresh(&self, on: &BackendProcess, token: &str) -> reqwest::Response {
        self.post(on, paths::REFRESH, &json!({"refreshToken": token})).await
    }
}

#[tokio::test]
async fn an_access_token_from_one_instance_works_on_the_other() {
    let pair = two_instances(&[]).await;
    let login = pair.login(&pair.a, "laptop").await;
    let response = pair.http.get(pair.b.url(paths::ME)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;
}

#[tokio::test]
async fn reuse_on_one_instance_after_rotation_on_the_other_revokes_the_session_everywhere() {
    // No grace window, so the second use is reuse at once (the window itself is timed on a manual
    // clock in rotation.rs; separate processes keep the wall clock).
    let pair = two_instances(&["--refresh-reuse-grace", "0"]).await;
    let login = pair.login(&pair.a, "laptop").await;
    let rotated: TokenPair =
        data(expect_status(pair.refresh(&pair.a, &login.tokens.refresh_token).await, StatusCode::OK).await);
    expect_error(
        pair.refresh(&pair.b, &login.tokens.refresh_token).await,
        StatusCode::FORBIDDEN,
        "refresh_token_reused",
    )
    .await;
    expect_error(pair.refresh(&pair.a, &rotated.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
        .await;
}

#[tokio::test]
async fn twenty_concurrent_refreshes_split_across_instances_make_one_successor() {
    let pair = two_instances(&[]).await;
    let login = pair.login(&pair.a, "laptop").await;
    let token = &login.tokens.refresh_token;
    let attempts = (0..20).map(|i| pair.refresh(if i % 2 == 0 { &pair.a } else { &pair.b }, token));
    let mut successors = HashSet::new();
    for response in futures::future::join_all(attempts).await {
        let pair: TokenPair = data(expect_status(response, StatusCode::OK).await);
        successors.insert(pair.refresh_token);
    }
    assert_eq!(successors.len(), 1, "instances forked the chain");
    let successor = successors.into_iter().next().unwrap();
    expect_status(pair.refresh(&pair.b, &successor).await, StatusCode::OK).await;
}

#[tokio::test]
async fn logout_on_one_instance_ends_refresh_on_the_other() {
    let pair = two_instances(&[]).await;
    let login = pair.login(&pair.a, "laptop").await;
    let response =
        pair.http.post(pair.a.url(paths::LOGOUT)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;
    expect_error(
        pair.refresh(&pair.b, &login.tokens.refresh_token).await,
        StatusCode::FORBIDDEN,
        "refresh_token_invalid",
    )
    .await;
}

#[tokio::test]
async fn sessions_listed_on_one_instance_include_those_created_on_the_other() {
    let pair = two_instances(&[]).await;
    pair.login(&pair.a, "laptop").await;
    let phone = pair.login(&pair.b, "phone").await;
    let response =
        pair.http.get(pair.b.url(paths::SESSIONS)).bearer_auth(&phone.tokens.access_token).send().await.unwrap();
    let sessions: Vec<Session> = data(expect_status(response, StatusCode::OK).await);
    let devices: HashSet<_> = sessions.iter().filter_map(|s| s.device_id.as_deref()).collect();
    assert_eq!(devices, HashSet::from(["laptop", "phone"]));
}

#[tokio::test]
async fn login_throttling_is_shared_by_both_instances() {
    let pair = two_instances(&["--login-max-failures", "4"]).await;
    pair.login(&pair.a, "laptop").await;
    let wrong = json!({"email": "multi@example.com", "password": "wrong-password"});
    for i in 0..4 {
        let on = if i % 2 == 0 { &pair.a } else { &pair.b };
        expect_error(pair.post(on, paths::LOGIN, &wrong).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    expect_error(pair.post(&pair.a, paths::LOGIN, &wrong).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    expect_error(pair.post(&pair.b, paths::LOGIN, &wrong).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn parallel_guesses_split_across_both_instances_get_exactly_the_limit_evaluated() {
    let pair = two_instances(&["--login-max-failures", "5"]).await;
    pair.login(&pair.a, "laptop").await;
    let wrong = json!({"email": "multi@example.com", "password": "wrong-password"});
    let sends = (0..40).map(|i| pair.post(if i % 2 == 0 { &pair.a } else { &pair.b }, paths::LOGIN, &wrong));
    let statuses: Vec<_> = futures::future::join_all(sends).await.iter().map(reqwest::Response::status).collect();
    let evaluated = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((evaluated, throttled), (5, 35), "{statuses:?}");
}

#[tokio::test]
async fn both_instances_sign_with_the_same_key_and_accept_each_others_tokens() {
    let pair = two_instances(&[]).await;
    let on_a = pair.login(&pair.a, "laptop").await.tokens.access_token;
    let on_b = pair.login(&pair.b, "phone").await.tokens.access_token;
    let kid = |token: &str| {
        let head = token.split('.').next().unwrap();
        let head: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, head).unwrap(),
        )
        .unwrap();
        head["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid(&on_a), kid(&on_b), "one current key for both");
    for (token, on) in [(&on_a, &pair.b), (&on_b, &pair.a)] {
        let response = pair.http.get(on.url(paths::ME)).bearer_auth(token).send().await.unwrap();
        expect_status(response, StatusCode::OK).await;
    }
}

/// Instance B trusts a session it checked for up to `SESSION_CACHE_TTL`; a revocation on A reaches it
/// within that bound, while on A itself it acts at once.
#[tokio::test]
async fn a_revocation_reaches_the_other_instance_within_the_session_cache_ttl() {
    let pair = two_instances(&["--session-cache-ttl", "1s"]).await;
    let login = pair.login(&pair.a, "laptop").await;
    let token = &login.tokens.access_token;
    let me = |on: &BackendProcess| pair.http.get(on.url(paths::ME)).bearer_auth(token).send();
    assert_eq!(me(&pair.b).await.unwrap().status(), StatusCode::OK, "B has now cached the session");

    let response = pair.http.post(pair.a.url(paths::LOGOUT)).bearer_auth(token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;
    assert_eq!(me(&pair.a).await.unwrap().status(), StatusCode::UNAUTHORIZED, "immediate where it was revoked");
    let me = &me;
    let b = &pair.b;
    eventually(Duration::from_secs(3), "B refuses the revoked session", || async move {
        match me(b).await.unwrap().status() {
            StatusCode::OK => Err("B still accepts it".to_owned()),
            _ => Ok(()),
        }
    })
    .await;
}

/// A password reset confirmed on A ends the session that B has cached, within `SESSION_CACHE_TTL`, and
/// its refresh token at once on both.
#[tokio::test]
async fn a_password_reset_on_one_instance_ends_the_session_on_the_other_within_the_session_cache_ttl() {
    let outbox = tempfile::tempdir().unwrap();
    let folder = outbox.path().display().to_string();
    let pair = two_instances(&["--session-cache-ttl", "1s", "--mail-outbox", &folder]).await;
    let login = pair.login(&pair.b, "phone").await;
    let token = &login.tokens.access_token;
    let me = |on: &BackendProcess| pair.http.get(on.url(paths::ME)).bearer_auth(token).send();
    assert_eq!(me(&pair.b).await.unwrap().status(), StatusCode::OK, "B has now cached the session");

    let asked = pair.post(&pair.a, paths::PASSWORD_RESET_REQUEST, &json!({"email": "multi@example.com"})).await;
    expect_status(asked, StatusCode::ACCEPTED).await;
    let reset_token = crate::password_reset::token_in(&crate::password_reset::nth_mail(outbox.path(), 1).await);
    let confirm = json!({"token": reset_token, "newPassword": "a password after the reset"});
    expect_status(pair.post(&pair.a, paths::PASSWORD_RESET_CONFIRM, &confirm).await, StatusCode::OK).await;
    // The same link does not work twice, whichever instance it is shown to.
    let again = pair.post(&pair.b, paths::PASSWORD_RESET_CONFIRM, &confirm).await;
    expect_error(again, StatusCode::FORBIDDEN, "reset_token_invalid").await;
    expect_error(
        pair.refresh(&pair.b, &login.tokens.refresh_token).await,
        StatusCode::FORBIDDEN,
        "refresh_token_invalid",
    )
    .await;
    let me = &me;
    let b = &pair.b;
    eventually(Duration::from_secs(3), "B refuses the reset account's session", || async move {
        match me(b).await.unwrap().status() {
            StatusCode::OK => Err("B still accepts it".to_owned()),
            _ => Ok(()),
        }
    })
    .await;
}

/// Clients rotate through instance A as fast as they can; A is killed mid-load. Every token A had
/// acknowledged must still refresh on B (a commit A made but never acknowledged leaves the client with
/// the previous token, which the grace window honours).
#[tokio::test]
async fn killing_one_instance_mid_load_loses_no_rotation_it_acknowledged() {
    let mut pair = two_instances(&["--refresh-reuse-grace", "60s"]).await;
    let mut tokens = Vec::new();
    for device in 0..4 {
        tokens.push(pair.login(&pair.a, &format!("device-{device}")).await.tokens.refresh_token);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let url = pair.a.url(paths::REFRESH);
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|mut token| {
            let (http, url, stop) = (pair.http.clone(), url.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut acknowledged = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(response) = http.post(&url).json(&json!({"refreshToken": token})).send().await else {
                        break;
                    };
                    if response.status() != StatusCode::OK {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else { break };
                    token = data::<TokenPair>(body).refresh_token;
                    acknowledged += 1;
                }
                (token, acknowledged)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    pair.a.kill_9();
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for worker in workers {
        let (token, acknowledged) = worker.await.unwrap();
        total += acknowledged;
        expect_status(pair.refresh(&pair.b, &token).await, StatusCode::OK).await;
    }
    assert!(total >= 4, "the load did not get going: {total} rotations");
}

/// Forty wrong guesses for one account, split across two instances sharing the database: exactly
/// the limit reach the password check; and sixteen right ones split the same way all get in.
#[tokio::test]
async fn parallel_guesses_split_across_two_instances_get_exactly_the_limit() {
    let pair = two_instances(&[]).await;
    login_on(&pair.http, &pair.a, "guarded@example.com", None).await;
    let wrong = json!({"email": "guarded@example.com", "password": "wrong-password"});
    let sends = (0..40).map(|i| pair.post(if i % 2 == 0 { &pair.a } else { &pair.b }, paths::LOGIN, &wrong));
    let statuses: Vec<StatusCode> = futures::future::join_all(sends).await.iter().map(|r| r.status()).collect();
    let evaluated = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((evaluated, refused), (5, 35), "{statuses:?}");

    login_on(&pair.http, &pair.a, "crowd@example.com", None).await;
    let right = json!({"email": "crowd@example.com", "password": crate::helpers::PASSWORD});
    let sends = (0..16).map(|i| pair.post(if i % 2 == 0 { &pair.a } else { &pair.b }, paths::LOGIN, &right));
    let statuses: Vec<StatusCode> = futures::future::join_all(sends).await.iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}
