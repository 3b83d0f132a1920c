//! The ports outside the browser (feature `native`): a `reqwest` transport, the system clock, a tokio
//! driver that refreshes ahead of expiry, and a store that survives a restart.
//!
//! The client is `!Send` (its state is `Rc`-based, like the browser it was built for): drive it from a
//! current-thread runtime, or inside a [`tokio::task::LocalSet`] on a multi-threaded one.
//!
//! ```no_run
//! # async fn quick_start() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use silent_refresh::native::{Driver, FileStore, ReqwestTransport, SystemClock};
//! use silent_refresh::{Config, EnvelopeProtocol, RefreshClient, Request};
//!
//! let client = RefreshClient::builder(
//!     EnvelopeProtocol::<serde_json::Value>::default(),
//!     ReqwestTransport::new("http://127.0.0.1:3000"),
//!     SystemClock,
//! )
//! .store(FileStore::new(std::env::temp_dir().join("my-cli-session.json")))
//! .config(Config::default())
//! .build();
//! if client.session().is_none() {
//!     let credentials = serde_json::json!({"email": "demo@example.com", "password": "demo-password"});
//!     client.login(&Request::post("/api/auth/login").json(&credentials)?).await?;
//! }
//! let driver = Driver::start(client.clone(), Duration::from_secs(1)); // needs a LocalSet
//! let me: serde_json::Value = client.fetch(&Request::get("/api/me")).await?;
//! driver.stop();
//! # let _ = me; Ok(()) }
//! ```

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::LocalBoxFuture;

#[cfg(feature = "dpop")]
mod dpop_key;

#[cfg(feature = "dpop")]
pub use dpop_key::FileDpopKey;

use crate::RefreshClient;
use crate::error::{StorageError, TransportError};
use crate::http::{Body, Request, Response};
use crate::ports::{Clock, TokenStore, Transport};
use crate::protocol::Protocol;
use crate::session::Session;

/// HTTP through `reqwest` (rustls), with paths joined to a base URL. Clones share one connection pool,
/// so many clients built from clones of one transport reuse connections. Dropping a send cancels it.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    http: reqwest::Client,
    base_url: String,
}

impl ReqwestTransport {
    /// Requests go to `base_url` + path (absolute URLs in a request are used as they are).
    pub fn new(base_url: &str) -> Self {
        Self::with_client(reqwest::Client::new(), base_url)
    }

    /// The same over a `reqwest::Client` of your own (proxies, TLS roots, pool sizes).
    pub fn with_client(http: reqwest::Client, base_url: &str) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    fn url(&self, request: &Request) -> String {
        let url = request.url();
        if url.starts_with("http://") || url.starts_with("https://") { url } else { format!("{}{url}", self.base_url) }
    }
}

fn transport_error(error: reqwest::Error) -> TransportError {
    TransportError::with_source(error.to_string(), error)
}

impl Transport for ReqwestTransport {
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| TransportError::new(format!("invalid method {:?}", request.method.as_str())))?;
        let mut builder = self.http.request(method, self.url(request));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
            if request.header_value("content-type").is_none() {
                builder = builder.header("content-type", body.content_type());
            }
            builder = builder.body(match body {
                Body::Json(text) => text.clone().into_bytes(),
                other => other.to_bytes().into_owned(),
            });
        }
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        Ok(Response { status, headers, body })
    }
}

/// The system's wall clock, sleeping on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }
}

/// The session in a JSON file, for a CLI or a desktop app that should stay logged in across restarts.
///
/// Written atomically (a new file beside it, then a rename), readable by its owner only (mode 0600 on
/// Unix). Anyone who can read the file can use the session, as with a browser's `localStorage`; an OS
/// keyring would keep it from other programs of the same user, but needs a secret service that headless
/// machines lack, so the file is the portable choice.
#[derive(Debug)]
pub struct FileStore<U> {
    path: PathBuf,
    user: PhantomData<fn() -> U>,
}

impl<U> Clone for FileStore<U> {
    fn clone(&self) -> Self {
        Self::new(self.path.clone())
    }
}

impl<U> FileStore<U> {
    /// The session kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), user: PhantomData }
    }

    /// Where the session is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<U: serde::Serialize + serde::de::DeserializeOwned> TokenStore<U> for FileStore<U> {
    fn load(&self) -> Option<Session<U>> {
        let text = std::fs::read(&self.path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn save(&self, session: &Session<U>) -> Result<(), StorageError> {
        let text = serde_json::to_vec(session).map_err(|e| StorageError::new(e.to_string()))?;
        write_private(&self.path, &text).map_err(|e| StorageError::new(format!("{}: {e}", self.path.display())))
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `contents` to a new file beside `path`, readable by its owner only, and renames it over
/// `path`: a crash leaves the old session or the new one, never half of one.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Refreshes a client ahead of expiry every `tick`, on tokio, until stopped (or dropped).
#[derive(Debug)]
pub struct Driver {
    task: tokio::task::JoinHandle<()>,
}

impl Driver {
    /// Starts driving `client`. Must be called inside a [`tokio::task::LocalSet`] (or on a
    /// current-thread runtime's local set), since the client is `!Send`.
    pub fn start<P: Protocol + 'static>(client: RefreshClient<P>, tick: Duration) -> Self {
        let task = tokio::task::spawn_local(async move {
            loop {
                // Failures are events already; a request that needs a token refreshes itself.
                let _ = client.refresh_if_due().await;
                tokio::time::sleep(tick).await;
            }
        });
        Self { task }
    }

    /// Stops refreshing.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
