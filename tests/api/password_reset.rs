//! Password reset: the request answers alike whether or not the account exists, the link arrives by
//! mail (an outbox folder, and a real SMTP server when aiosmtpd is installed), and its confirmation
//! sets the password and ends every session. Hostile cases: a token used twice, superseded or expired,
//! parallel confirmations, a reset racing a refresh, mail and request floods, malformed input.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::OthersRevoked;
use shared::paths;
use tempfile::TempDir;

use crate::helpers::{
    PASSWORD, TestApp, TestDatabase, data, eventually, expect_error, expect_status, spawn_app_on_manual_clock,
    spawn_app_with,
};
use crate::mail::decode_quoted_printable;

const NEW_PASSWORD: &str = "a brand new password";

async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json(paths::PASSWORD_RESET_REQUEST, &json!({"email": email})).await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(paths::PASSWORD_RESET_CONFIRM, &json!({"token": token, "newPassword": password})).await
}

/// Every mail in `folder` (an outbox, or a maildir's `new/`), oldest first, decoded.
pub(crate) fn mails(folder: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'));
    files.sort();
    files.iter().map(|path| decode_quoted_printable(&std::fs::read_to_string(path).unwrap())).collect()
}

/// The token of the link in a mail.
pub(crate) fn token_in(mail: &str) -> String {
    let at = mail.find("#token=").unwrap_or_else(|| panic!("no link in the mail:\n{mail}"));
    mail[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Waits for the `count`-th mail in `folder` and returns it.
pub(crate) async fn nth_mail(folder: &Path, count: usize) -> String {
    eventually(Duration::from_secs(10), "the reset mail", || async {
        let all = mails(folder);
        all.get(count - 1).cloned().ok_or_else(|| format!("{} mail(s)", all.len()))
    })
    .await
}

/// A folder the server creates for its mail, inside a temporary one of the test's.
struct Outbox {
    _dir: TempDir,
    path: std::path::PathBuf,
}

impl Outbox {
    fn path(&self) -> &Path {
        &self.path
    }
}

/// A server whose mail goes to a folder of the test's own, on a manual clock.
async fn app_with_outbox(extra: &[&str]) -> (TestApp, backend::clock::ManualClock, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox { path: dir.path().join("outbox"), _dir: dir };
    let folder = outbox.path().display().to_string();
    let mut flags = vec!["--mail-outbox", folder.as_str()];
    flags.extend_from_slice(extra);
    let clock = backend::clock::ManualClock::starting_now();
    let app = spawn_app_on_manual_clock(TestDatabase::new().await, &flags, clock.clone()).await;
    (app, clock, outbox)
}

#[tokio::test]
async fn a_link_from_the_mail_sets_the_password_and_ends_every_session_once() {
    let (app, _clock, outbox) =
        app_with_outbox(&["--introspection-clients", "gateway:gateway-secret-0123456789"]).await;
    let (email, laptop) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    expect_status(request_reset(&app, &email.to_uppercase()).await, StatusCode::ACCEPTED).await;
    let mail = nth_mail(outbox.path(), 1).await;
    assert!(mail.contains(&format!("To: {email}")), "{mail}");
    assert!(mail.contains("/reset-password#token="), "{mail}");
    let token = token_in(&mail);

    let done: OthersRevoked = data(expect_status(confirm(&app, &token, NEW_PASSWORD).await, StatusCode::OK).await);
    assert_eq!(done.revoked, 2);
    for device in [&laptop, &phone] {
        expect_error(app.refresh(&device.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
            .await;
        let me = app.get_with_token(paths::ME, &device.tokens.access_token).await;
        expect_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let introspected: Value = app
            .client
            .post(app.url(paths::INTROSPECT))
            .basic_auth("gateway", Some("gateway-secret-0123456789"))
            .form(&[("token", device.tokens.access_token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(introspected, json!({"active": false}));
    }
    let old = json!({"email": email, "password": PASSWORD});
    expect_error(app.post_json(paths::LOGIN, &old).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let new = json!({"email": email, "password": NEW_PASSWORD});
    expect_status(app.post_json(paths::LOGIN, &new).await, StatusCode::OK).await;
    // Single use.
    expect_error(confirm(&app, &token, "yet another password").await, StatusCode::FORBIDDEN, "reset_token_invalid")
        .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(outbox.path()), 0o700, "the outbox folder is the owner's only");
        let file = std::fs::read_dir(outbox.path()).unwrap().next().unwrap().unwrap().path();
        assert_eq!(mode(&file), 0o600, "a mail with a working link is the owner's only");
    }
    let raw_tokens_stored = appears_in_the_sqlite_file(&app, &token).await;
    assert!(!raw_tokens_stored, "the raw token is in the database");
}

/// Whether `token` appears in the SQLite file as it is (PostgreSQL tests look at the hash column).
async fn appears_in_the_sqlite_file(app: &TestApp, token: &str) -> bool {
    let folder = app.db.folder();
    std::fs::read_dir(folder).unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path()).is_ok_and(|bytes| bytes.windows(token.len()).any(|w| w == token.as_bytes()))
    })
}

#[tokio::test]
async fn the_request_answers_alike_whether_or_not_the_account_exists() {
    let (app, _clock, outbox) = app_with_outbox(&["--trust-forwarded-for", "true"]).await;
    let (email, _) = app.new_session().await;
    let nobody = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let known = request_reset(&app, &email).await;
    let (known_status, known_body) = (known.status(), known.bytes().await.unwrap());
    let unknown = request_reset(&app, &nobody).await;
    let (unknown_status, unknown_body) = (unknown.status(), unknown.bytes().await.unwrap());
    assert_eq!((known_status, &known_body), (unknown_status, &unknown_body));
    assert_eq!(known_status, StatusCode::ACCEPTED);
    nth_mail(outbox.path(), 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails(outbox.path()).len(), 1, "a mail went to an address with no account");

    // The time of the answer, side by side over many requests, each from an address of its own so the
    // per-address share never answers instead (printed for the record; timing is not asserted).
    let mut known_ms = Vec::new();
    let mut unknown_ms = Vec::new();
    for i in 0..60u32 {
        for (which, address, times) in [(1, &email, &mut known_ms), (2, &nobody, &mut unknown_ms)] {
            let client = format!("10.0.{which}.{i}");
            let request = app.client.post(app.url(paths::PASSWORD_RESET_REQUEST)).header("x-forwarded-for", client);
            let started = Instant::now();
            let status = request.json(&json!({"email": address})).send().await.unwrap().status();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, StatusCode::ACCEPTED, "{i}");
        }
    }
    known_ms.sort_by(f64::total_cmp);
    unknown_ms.sort_by(f64::total_cmp);
    let (known, unknown) = (known_ms[30], unknown_ms[30]);
    println!(
        "reset request, median of 60: existing account {known:.2} ms, no account {unknown:.2} ms ({:.2})",
        known / unknown
    );
}

#[tokio::test]
async fn a_superseded_an_expired_and_a_malformed_token_are_refused_alike() {
    let (app, clock, outbox) = app_with_outbox(&["--password-reset-ttl", "30m"]).await;
    let (email, _) = app.new_session().await;
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let first = token_in(&nth_mail(outbox.path(), 1).await);
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let second = token_in(&nth_mail(outbox.path(), 2).await);
    assert_ne!(first, second);
    expect_error(confirm(&app, &first, NEW_PASSWORD).await, StatusCode::FORBIDDEN, "reset_token_invalid").await;
    clock.advance(Duration::from_secs(31 * 60));
    expect_error(confirm(&app, &second, NEW_PASSWORD).await, StatusCode::FORBIDDEN, "reset_token_invalid").await;
    for bad in ["", "short", &"x".repeat(43), &format!("{second}x"), "../../etc/passwd"] {
        expect_error(confirm(&app, bad, NEW_PASSWORD).await, StatusCode::FORBIDDEN, "reset_token_invalid").await;
    }
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let third = token_in(&nth_mail(outbox.path(), 3).await);
    expect_error(confirm(&app, &third, "short").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    for body in [json!({}), json!({"token": third}), json!({"newPassword": NEW_PASSWORD}), json!({"token": 5})] {
        let status = app.post_json(paths::PASSWORD_RESET_CONFIRM, &body).await.status();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // The refusals above did not use it up.
    expect_status(confirm(&app, &third, NEW_PASSWORD).await, StatusCode::OK).await;
    for body in
        [json!({}), json!({"email": 5}), json!({"email": "a\u{0}b@example.com"}), json!({"email": "x".repeat(400)})]
    {
        let status = app.post_json(paths::PASSWORD_RESET_REQUEST, &body).await.status();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn parallel_confirmations_with_one_token_succeed_exactly_once() {
    let (app, _clock, outbox) = app_with_outbox(&[]).await;
    let (email, _) = app.new_session().await;
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let token = token_in(&nth_mail(outbox.path(), 1).await);
    let passwords: Vec<String> = (0..8).map(|i| format!("parallel password {i}")).collect();
    let answers = futures::future::join_all(passwords.iter().map(|p| confirm(&app, &token, p))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::FORBIDDEN), "{statuses:?}");
    // Exactly one of the passwords works.
    let mut working = 0;
    for password in &passwords {
        let body = json!({"email": email, "password": password});
        working += usize::from(app.post_json(paths::LOGIN, &body).await.status() == StatusCode::OK);
    }
    assert_eq!(working, 1);
}

#[tokio::test]
async fn a_reset_racing_a_refresh_on_another_device_leaves_it_no_live_session() {
    let (app, _clock, outbox) = app_with_outbox(&[]).await;
    let (email, _) = app.new_session().await;
    let phone = app.login(&email, Some("phone")).await;
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let token = token_in(&nth_mail(outbox.path(), 1).await);
    let (reset, refreshed) =
        tokio::join!(confirm(&app, &token, NEW_PASSWORD), app.refresh(&phone.tokens.refresh_token));
    expect_status(reset, StatusCode::OK).await;
    // Whichever came first, the phone holds nothing that works.
    let mut refresh_tokens = vec![phone.tokens.refresh_token.clone()];
    let mut access_tokens = vec![phone.tokens.access_token.clone()];
    if refreshed.status() == StatusCode::OK {
        let pair: shared::auth::TokenPair = data(expect_status(refreshed, StatusCode::OK).await);
        refresh_tokens.push(pair.refresh_token);
        access_tokens.push(pair.access_token);
    }
    for token in refresh_tokens {
        assert_eq!(app.refresh(&token).await.status(), StatusCode::FORBIDDEN);
    }
    for token in access_tokens {
        assert_eq!(app.get_with_token(paths::ME, &token).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn mail_floods_are_capped_per_account_and_requests_per_address() {
    let (app, _clock, outbox) = app_with_outbox(&[]).await;
    let (email, _) = app.new_session().await;
    // Ten requests from one address at once: all answered alike, at most three mails.
    let answers = futures::future::join_all((0..10).map(|_| request_reset(&app, &email))).await;
    assert!(answers.iter().all(|a| a.status() == StatusCode::ACCEPTED));
    nth_mail(outbox.path(), 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails(outbox.path()).len(), 3, "the account's share is three mails an hour");
    // The eleventh from the address is refused, whatever the address asked about.
    let nobody = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    expect_error(request_reset(&app, &nobody).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_server_on_its_own_database_with_no_mailer_does_not_start() {
    let db = TestDatabase::new().await;
    let mut config = crate::helpers::config(&db.url, &[]);
    config.mail_outbox = None;
    let error = backend::App::build(&config).await.expect_err("no mailer");
    assert!(error.to_string().contains("SMTP_URL"), "{error}");
    let bad = crate::helpers::config(&db.url, &["--smtp-url", "http://mail.example.com"]);
    let error = backend::App::build(&bad).await.expect_err("not an SMTP URL");
    assert!(error.to_string().contains("smtp://"), "{error}");
}

#[tokio::test]
async fn the_link_arrives_through_a_real_smtp_server() {
    let Some(smtp) = crate::mail::SmtpServer::start().unwrap() else { return };
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(&["--smtp-url", &url, "--mail-from", "Accounts <accounts@example.com>"]).await;
    let (email, session) = app.new_session().await;
    expect_status(request_reset(&app, &email).await, StatusCode::ACCEPTED).await;
    let mail = nth_mail(&smtp.inbox(), 1).await;
    assert!(mail.contains("From: Accounts <accounts@example.com>"), "{mail}");
    let token = token_in(&mail);
    expect_status(confirm(&app, &token, NEW_PASSWORD).await, StatusCode::OK).await;
    expect_error(app.refresh(&session.tokens.refresh_token).await, StatusCode::FORBIDDEN, "refresh_token_invalid")
        .await;
}
