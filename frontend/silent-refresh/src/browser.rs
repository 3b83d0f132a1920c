//! The ports for the browser: fetch (gloo-net), `localStorage` (gloo-storage), the wall clock and the
//! Web Locks API, plus [`Driver`], which keeps a session fresh with no help from the app, and the
//! browser half of the `next` rule.

mod broadcast;
mod config;
#[cfg(feature = "dpop")]
mod dpop_key;
mod driver;

pub use broadcast::{BroadcastStore, SESSION_CHANGED_EVENT};
pub use config::{BrowserConfig, IdlePolicy};
#[cfg(feature = "dpop")]
pub use dpop_key::WebCryptoDpopKey;
pub use driver::Driver;

use std::marker::PhantomData;

use futures::FutureExt;
use gloo_storage::Storage;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::config::Config;
use crate::error::{StorageError, TransportError};
use crate::http::{Body, CacheMode, Request, Response};
use crate::ports::{Clock, RefreshLock, TokenStore, Transport};
use crate::protocol::Protocol;
use crate::session::Session;
use crate::{RefreshClient, redirect};

/// A client with the default [`BrowserConfig`]; see [`BrowserConfig::client`].
pub fn client<P: Protocol + 'static>(protocol: P, base_url: &str, config: Config) -> RefreshClient<P> {
    BrowserConfig::default().client(protocol, base_url, config)
}

/// A cookie-mode client with the default [`BrowserConfig`]; see [`BrowserConfig::cookie_client`].
pub fn cookie_client<P: Protocol + 'static>(protocol: P, base_url: &str, config: Config) -> RefreshClient<P> {
    BrowserConfig::default().cookie_client(protocol, base_url, config)
}

/// `fetch`, with paths joined to a base URL. API calls bypass the browser's HTTP cache by default
/// ([`CacheMode::NoStore`]; a request's own mode wins): the cache lets only
/// one request per URL be in flight and makes identical concurrent requests wait for each other.
/// Dropping a send aborts its fetch, and while the browser says it is offline, sends fail at once.
#[derive(Debug, Clone)]
pub struct FetchTransport {
    base_url: String,
    include_credentials: bool,
}

impl FetchTransport {
    /// Requests go to `base_url` + path (absolute URLs in a request are used as they are). Cookies go
    /// along to the page's own origin only (fetch's default).
    pub fn new(base_url: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned(), include_credentials: false }
    }

    /// Cookies go along to other origins too (`credentials: "include"`), for an API on another origin.
    #[must_use]
    pub fn include_credentials(mut self) -> Self {
        self.include_credentials = true;
        self
    }

    fn url(&self, request: &Request) -> String {
        let url = request.url();
        if url.starts_with("http://") || url.starts_with("https://") { url } else { format!("{}{url}", self.base_url) }
    }
}

fn transport_error(error: gloo_net::Error) -> TransportError {
    TransportError::with_source(error.to_string(), error)
}

/// Aborts a fetch when dropped (after it finished, aborting does nothing).
struct AbortOnDrop(Option<web_sys::AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.0 {
            controller.abort();
        }
    }
}

fn cache_mode(mode: CacheMode) -> web_sys::RequestCache {
    match mode {
        CacheMode::Default => web_sys::RequestCache::Default,
        CacheMode::NoCache => web_sys::RequestCache::NoCache,
        CacheMode::Reload => web_sys::RequestCache::Reload,
        CacheMode::ForceCache => web_sys::RequestCache::ForceCache,
        CacheMode::NoStore => web_sys::RequestCache::NoStore,
    }
}

/// `navigator.onLine`; true where it cannot be read.
fn online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}

impl Transport for FetchTransport {
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        use gloo_net::http::{Method, RequestBuilder};
        if !online() {
            return Err(TransportError::new("offline: the browser reports no network"));
        }
        let method = Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| TransportError::new(format!("invalid method {:?}", request.method.as_str())))?;
        let abort = AbortOnDrop(web_sys::AbortController::new().ok());
        let signal = abort.0.as_ref().map(web_sys::AbortController::signal);
        let mut builder = RequestBuilder::new(&self.url(request))
            .method(method)
            .cache(cache_mode(request.cache.unwrap_or(CacheMode::NoStore)))
            .abort_signal(signal.as_ref());
        if self.include_credentials {
            builder = builder.credentials(web_sys::RequestCredentials::Include);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = bearer {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        let sent = match &request.body {
            Some(body) => {
                if request.header_value("content-type").is_none() {
                    builder = builder.header("Content-Type", body.content_type());
                }
                let bytes: JsValue = match body {
                    Body::Json(text) => JsValue::from_str(text),
                    other => js_sys::Uint8Array::from(&*other.to_bytes()).into(),
                };
                builder.body(bytes).map_err(transport_error)?.send().await
            }
            None => builder.send().await,
        };
        let response = sent.map_err(transport_error)?;
        let headers = response.headers().entries().collect();
        let body = response.binary().await.map_err(transport_error)?;
        drop(abort);
        Ok(Response { status: response.status(), headers, body })
    }
}

/// The session in `localStorage`: it survives reloads, and every tab of the origin shares it.
#[derive(Debug)]
pub struct LocalStorageStore<U> {
    key: String,
    user: PhantomData<fn() -> U>,
}

impl<U> Clone for LocalStorageStore<U> {
    fn clone(&self) -> Self {
        Self::new(&self.key)
    }
}

impl<U> LocalStorageStore<U> {
    /// The session under `key`.
    pub fn new(key: &str) -> Self {
        Self { key: key.to_owned(), user: PhantomData }
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<U: serde::Serialize + serde::de::DeserializeOwned> TokenStore<U> for LocalStorageStore<U> {
    fn load(&self) -> Option<Session<U>> {
        gloo_storage::LocalStorage::get(&self.key).ok()
    }

    fn save(&self, session: &Session<U>) -> Result<(), StorageError> {
        gloo_storage::LocalStorage::set(&self.key, session).map_err(|e| StorageError::new(e.to_string()))
    }

    fn clear(&self) {
        gloo_storage::LocalStorage::delete(&self.key);
    }
}

/// `Date.now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    fn sleep(&self, ms: u64) -> futures::future::LocalBoxFuture<'static, ()> {
        Box::pin(gloo_timers::future::TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)))
    }
}

/// `navigator.locks`, an exclusive lock per origin. Without the API (old browsers, insecure origins)
/// acquiring gives up at once and the client relies on compare-and-set writes and the grace window.
#[derive(Debug, Clone)]
pub struct WebLock {
    name: String,
    wait_ms: u32,
}

impl WebLock {
    /// The lock called `name`, waited for at most `wait_ms`.
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

/// Where to go after logging in, given the `next` a URL asked for: the path, query and fragment of
/// `next` when the browser's own URL parser resolves it, against the current page, to this page's
/// origin; `None` otherwise. Closes the open redirect that `/login?next=//evil.example` (or any of the
/// spellings the parser folds into it: tabs, newlines, backslashes) would be.
pub fn same_origin_target(next: &str) -> Option<String> {
    if !redirect::looks_like_local_path(next) {
        return None;
    }
    let location = web_sys::window()?.location();
    let url = web_sys::Url::new_with_base(next, &location.href().ok()?).ok()?;
    (url.origin() == location.origin().ok()?).then(|| format!("{}{}{}", url.pathname(), url.search(), url.hash()))
}
