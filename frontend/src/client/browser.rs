//! The ports, implemented for the browser: fetch (gloo-net), `localStorage` (gloo-storage), the wall
//! clock with `setTimeout`, and the Web Locks API for cross-tab mutual exclusion.

use futures::FutureExt;
use gloo_storage::Storage;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::ApiClient;
use super::ports::{
    ApiRequest, Clock, Method, RawResponse, RefreshLock, StorageError, TokenStore, Transport, TransportError,
};
use super::session::StoredSession;

/// The `localStorage` key holding the session; every tab of the origin shares it.
pub const SESSION_KEY: &str = "silent-refresh.session";
const LOCK_NAME: &str = "silent-refresh.refresh";
/// How long a tab waits for another tab's refresh before refreshing anyway (the grace window covers it).
const LOCK_WAIT_MS: u32 = 10_000;

/// The client as the app uses it.
pub type BrowserClient = ApiClient<FetchTransport, LocalStorageStore, BrowserClock, WebLock>;

/// A client for the API at `base_url` (`""` for the page's own origin).
pub fn client(base_url: &str) -> BrowserClient {
    ApiClient::new(FetchTransport::new(base_url), LocalStorageStore, BrowserClock, WebLock::default())
}

#[derive(Debug, Clone)]
pub struct FetchTransport {
    base_url: String,
}

impl FetchTransport {
    pub fn new(base_url: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned() }
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: &ApiRequest, bearer: Option<&str>) -> Result<RawResponse, TransportError> {
        use gloo_net::http::RequestBuilder;
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = match request.method {
            Method::Get => RequestBuilder::new(&url).method(gloo_net::http::Method::GET),
            Method::Post => RequestBuilder::new(&url).method(gloo_net::http::Method::POST),
            Method::Delete => RequestBuilder::new(&url).method(gloo_net::http::Method::DELETE),
        };
        if let Some(token) = bearer {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        let sent = match &request.body {
            Some(body) => {
                let request = builder
                    .header("Content-Type", "application/json")
                    .body(body.as_str())
                    .map_err(|e| TransportError(e.to_string()))?;
                request.send().await
            }
            None => builder.send().await,
        };
        let response = sent.map_err(|e| TransportError(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| TransportError(e.to_string()))?;
        Ok(RawResponse { status, body })
    }
}

/// The session in `localStorage`, so it survives reloads and other tabs see rotations.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalStorageStore;

impl TokenStore for LocalStorageStore {
    fn load(&self) -> Option<StoredSession> {
        gloo_storage::LocalStorage::get(SESSION_KEY).ok()
    }

    fn save(&self, session: &StoredSession) -> Result<(), StorageError> {
        gloo_storage::LocalStorage::set(SESSION_KEY, session).map_err(|e| StorageError(e.to_string()))
    }

    fn clear(&self) {
        gloo_storage::LocalStorage::delete(SESSION_KEY);
    }
}

/// Where to go after logging in, given the `next` a URL asked for: the path, query and fragment of
/// `next` when the browser's own URL parser resolves it, against the current page, to this page's
/// origin; `None` otherwise. Closes the open redirect that `/login?next=//evil.example` (or any of the
/// spellings the parser folds into it: tabs, newlines, backslashes) would be.
pub fn same_origin_target(next: &str) -> Option<String> {
    if !super::redirect::looks_like_local_path(next) {
        return None;
    }
    let location = web_sys::window()?.location();
    let url = web_sys::Url::new_with_base(next, &location.href().ok()?).ok()?;
    (url.origin() == location.origin().ok()?).then(|| format!("{}{}{}", url.pathname(), url.search(), url.hash()))
}

#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    async fn sleep_ms(&self, ms: u64) {
        gloo_timers::future::TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await;
    }
}

/// `navigator.locks`, an exclusive lock per origin. Without the API (old browsers, insecure origins)
/// acquiring gives up at once and refreshes rely on the server's grace window.
#[derive(Debug, Clone)]
pub struct WebLock {
    name: String,
    wait_ms: u32,
}

impl Default for WebLock {
    fn default() -> Self {
        Self { name: LOCK_NAME.to_owned(), wait_ms: LOCK_WAIT_MS }
    }
}

impl WebLock {
    pub fn new(name: &str, wait_ms: u32) -> Self {
        Self { name: name.to_owned(), wait_ms }
    }
}

/// Holds the lock; dropping it resolves the promise the lock callback returned, which releases it.
#[derive(Debug)]
pub struct WebLockGuard {
    release: Option<js_sys::Function>,
}

impl Drop for WebLockGuard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

impl RefreshLock for WebLock {
    type Guard = WebLockGuard;

    async fn acquire(&self) -> Option<WebLockGuard> {
        let navigator = web_sys::window()?.navigator();
        let locks = js_sys::Reflect::get(&navigator, &"locks".into()).ok().filter(|l| !l.is_undefined())?;
        let request: js_sys::Function = js_sys::Reflect::get(&locks, &"request".into()).ok()?.dyn_into().ok()?;

        let (granted, on_granted) = futures::channel::oneshot::channel::<js_sys::Function>();
        // Runs when the lock is granted. The lock stays held until the returned promise settles, and
        // that happens when the guard drops (or at once, if the waiter already gave up).
        let callback = Closure::once_into_js(move |_lock: JsValue| {
            let mut granted = Some(granted);
            js_sys::Promise::new(&mut |resolve: js_sys::Function, _reject: js_sys::Function| {
                if let Some(granted) = granted.take()
                    && let Err(resolve) = granted.send(resolve)
                {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            })
        });
        let options = js_sys::Object::new();
        let timeout = web_sys::AbortSignal::timeout_with_u32(self.wait_ms);
        js_sys::Reflect::set(&options, &"signal".into(), &timeout).ok()?;
        let pending = request.call3(&locks, &self.name.as_str().into(), &options, &callback).ok()?;
        let pending = JsFuture::from(pending.dyn_into::<js_sys::Promise>().ok()?);

        // The request's own promise only settles early when the wait times out (AbortError).
        futures::select! {
            release = on_granted.fuse() => release.ok().map(|release| WebLockGuard { release: Some(release) }),
            _ = pending.fuse() => None,
        }
    }
}
