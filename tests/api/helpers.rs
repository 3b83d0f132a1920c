//! `spawn_app` and typed helpers built on the `shared` wire types.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::clock::{ManualClock, SharedClock, SystemClock};
use backend::{App, Config};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::auth::{LoginResponse, TokenPair, User};
use shared::ops::Metrics;
use shared::{Envelope, paths};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::net::TcpListener;

pub(crate) use crate::backend_process::{BackendProcess, DEFAULT_FLAGS, SECRET, test_outbox};

pub(crate) const PASSWORD: &str = "correct horse battery";

/// Where a test's data lives. Dropping it removes the SQLite folder or drops the PostgreSQL database.
#[derive(Debug)]
pub(crate) struct TestDatabase {
    pub(crate) url: String,
    _dir: TempDir,
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, so the async cleanup gets a thread and runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    let _ = sqlx::Executor::execute(&mut admin, sql.as_str()).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl TestDatabase {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => {
                let (url, name) = create_postgres_database(&admin_url).await;
                Self { url, _dir: dir, postgres: Some((admin_url, name)) }
            }
            Err(_) => {
                Self { url: format!("sqlite://{}", dir.path().join("test.db").display()), _dir: dir, postgres: None }
            }
        }
    }

    pub(crate) fn folder(&self) -> &Path {
        self._dir.path()
    }
}

/// Creates a uniquely named database; returns its URL and name.
async fn create_postgres_database(admin_url: &str) -> (String, String) {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.expect("TEST_POSTGRES_URL must accept connections");
    sqlx::Executor::execute(&mut admin, format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create test database");
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    (format!("{base}/{name}"), name)
}

/// A server running in this process on 127.0.0.1:<random port>.
#[derive(Debug)]
pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) client: reqwest::Client,
    pub(crate) db: TestDatabase,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// The flags every test server starts with; `overrides` later on the command line win.
pub(crate) fn config(db_url: &str, overrides: &[&str]) -> Config {
    use clap::Parser;
    let outbox = test_outbox();
    let base = ["backend", "--database-url", db_url, "--jwt-secret", SECRET, "--mail-outbox", &outbox];
    let args = base.iter().chain(DEFAULT_FLAGS).chain(overrides);
    Config::try_parse_from(args).expect("test configuration parses")
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub(crate) async fn spawn_app_with(overrides: &[&str]) -> TestApp {
    spawn_app_on(TestDatabase::new().await, overrides).await
}

/// A server whose time stands still until the test moves the returned clock: expiry, grace and throttle
/// windows and key rotation are tested without waiting.
pub(crate) async fn spawn_app_with_manual_clock(overrides: &[&str]) -> (TestApp, ManualClock) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on_clock(TestDatabase::new().await, overrides, Arc::new(clock.clone())).await;
    (app, clock)
}

/// Starts a server on an existing database with the test's manual clock (a restart that keeps time).
pub(crate) async fn spawn_app_on_manual_clock(db: TestDatabase, overrides: &[&str], clock: ManualClock) -> TestApp {
    spawn_app_on_clock(db, overrides, Arc::new(clock)).await
}

/// Starts a server on an existing database (a restart, when the previous one was stopped).
pub(crate) async fn spawn_app_on(db: TestDatabase, overrides: &[&str]) -> TestApp {
    spawn_app_on_clock(db, overrides, Arc::new(SystemClock)).await
}

async fn spawn_app_on_clock(db: TestDatabase, overrides: &[&str], clock: SharedClock) -> TestApp {
    let config = config(&db.url, overrides);
    let app = App::build_with_clock(&config, clock).await.expect("app builds");
    serve(db, app).await
}

/// Serves an app the test built itself.
pub(crate) async fn serve(db: TestDatabase, app: App) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.serve(listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    TestApp { addr, client: reqwest::Client::new(), db, stop: Some(stop), server: Some(server) }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server gracefully and hands back its database for a restart.
    pub(crate) async fn stop(mut self) -> TestDatabase {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server stops cleanly");
        }
        self.db
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub(crate) async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub(crate) async fn post_with_token(&self, path: &str, token: &str) -> Response {
        self.client.post(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub(crate) async fn register(&self, email: &str) -> User {
        let response =
            self.post_json(paths::REGISTER, &json!({"username": "ann", "email": email, "password": PASSWORD})).await;
        data(expect_status(response, StatusCode::CREATED).await)
    }

    /// Registers a fresh account and logs it in.
    pub(crate) async fn new_session(&self) -> (String, LoginResponse) {
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        self.register(&email).await;
        let login = self.login(&email, None).await;
        (email, login)
    }

    pub(crate) async fn login(&self, email: &str, device_id: Option<&str>) -> LoginResponse {
        let body = json!({"email": email, "password": PASSWORD, "deviceId": device_id, "deviceName": "test device"});
        data(expect_status(self.post_json(paths::LOGIN, &body).await, StatusCode::OK).await)
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(paths::REFRESH, &json!({"refreshToken": refresh_token})).await
    }

    pub(crate) async fn refresh_ok(&self, refresh_token: &str) -> TokenPair {
        data(expect_status(self.refresh(refresh_token).await, StatusCode::OK).await)
    }

    pub(crate) async fn metrics(&self) -> Metrics {
        data(
            expect_status(self.client.get(self.url(paths::METRICS)).send().await.expect("request"), StatusCode::OK)
                .await,
        )
    }
}

/// Polls `probe` every 50 ms until it gives `Ok`, for what happens on another task or process's own
/// schedule (a purge, a key reload, a log line). Fails after `within`, naming `what` and the state the
/// last `Err` described.
pub(crate) async fn eventually<T, Fut>(within: Duration, what: &str, mut probe: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) => assert!(Instant::now() < deadline, "{what} within {within:?}: {state}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the status and returns the JSON body, which must be an envelope repeating that status.
pub(crate) async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(actual, status, "unexpected status; body: {body}");
    assert_eq!(body["code"], status.as_u16(), "envelope code must repeat the status: {body}");
    assert!(body["message"].is_string(), "envelope needs a message: {body}");
    body
}

/// Asserts a failure envelope with the given status and error code.
pub(crate) async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let body = expect_status(response, status).await;
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    body
}

pub(crate) fn data<T: DeserializeOwned>(body: Value) -> T {
    let envelope: Envelope<T> = serde_json::from_value(body).expect("envelope with the expected data");
    envelope.data.expect("data present")
}

/// Registers `email` on a server process (an existing account is fine) and logs it in from `device`.
pub(crate) async fn login_on(
    client: &reqwest::Client,
    server: &BackendProcess,
    email: &str,
    device: Option<&str>,
) -> LoginResponse {
    let body = json!({"username": "ann", "email": email, "password": PASSWORD});
    let registered = client.post(server.url(paths::REGISTER)).json(&body).send().await.expect("request");
    assert!(matches!(registered.status(), StatusCode::CREATED | StatusCode::CONFLICT), "{}", registered.status());
    let body = json!({"email": email, "password": PASSWORD, "deviceId": device});
    let response = client.post(server.url(paths::LOGIN)).json(&body).send().await.expect("request");
    data(expect_status(response, StatusCode::OK).await)
}

/// The binary with the test defaults plus `extra`, listening on a port the OS picks.
pub(crate) fn start_backend(db_url: &str, extra: &[&str]) -> BackendProcess {
    let mut args = vec!["--database-url", db_url];
    args.extend(extra);
    BackendProcess::spawn(std::path::Path::new(env!("CARGO_BIN_EXE_backend")), &args).expect("backend starts")
}
