//! The tower layer: before the inner service runs, it finds the request's session (refreshing at the
//! auth server when the access token is missing or due, once per session in this process); after,
//! it sets the cookie and the hygiene headers on the response, before the body starts.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use tower_layer::Layer;
use tower_service::Service;

use super::auth_server::AuthServer;
use super::config::{ClientAddress, Mode, SsrConfig};
use super::flights::{Flights, Outcome};
use super::respond::{self, DEFAULT_CSP};
use super::routes;
use super::session::{CspNonce, ServerSession};
use crate::snapshot::SessionSnapshot;

/// Refresh before render, for an Axum router (a Leptos server's included): add it with
/// `router.layer(RefreshLayer::new(config))`. Clones share one refresh table.
#[derive(Debug, Clone)]
pub struct RefreshLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SsrConfig,
    pub(crate) auth: AuthServer,
    pub(crate) flights: Flights,
    csp: String,
}

impl RefreshLayer {
    /// A layer with its own refresh table and connection pool.
    pub fn new(config: SsrConfig) -> Self {
        Self::with_csp(config, DEFAULT_CSP)
    }

    /// The same with a Content-Security-Policy of your own for HTML answers; `{nonce}` in it becomes
    /// the request's nonce.
    pub fn with_csp(config: SsrConfig, csp: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                auth: AuthServer::new(),
                flights: Flights::default(),
                csp: csp.to_owned(),
            }),
        }
    }
}

impl<S> Layer<S> for RefreshLayer {
    type Service = RefreshService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RefreshService { inner, shared: Arc::clone(&self.shared) }
    }
}

/// The service [`RefreshLayer`] wraps around a router.
#[derive(Debug, Clone)]
pub struct RefreshService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for RefreshService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The instance that was polled ready serves this request; a fresh clone waits for the next.
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move { shared.handle(ready, request).await })
    }
}

/// A session cookie that does not open with this layer's key.
#[derive(Debug)]
pub(crate) struct Unreadable;

/// A request's session as the layer resolved it, and the cookies its response must set.
pub(crate) struct Resolved {
    pub(crate) session: ServerSession,
    pub(crate) set_cookie: Vec<HeaderValue>,
    /// Whether the request carried a session cookie (its answer is then private).
    pub(crate) presented: bool,
}

impl Shared {
    async fn handle<S>(self: Arc<Self>, mut inner: S, mut request: Request<Body>) -> Result<Response<Body>, S::Error>
    where
        S: Service<Request<Body>, Response = Response<Body>>,
    {
        let nonce = CspNonce(random_token().into());
        request.extensions_mut().insert(nonce.clone());
        let client = self.client_address(&request);
        if let Some(rest) = routes::own_route(&self.config.mount, request.uri().path()) {
            let rest = rest.to_owned();
            return Ok(routes::answer(&self, request, &rest, client).await);
        }
        if self.needs_csrf_header(&request) {
            return Ok(csrf_refusal(&self.config.csrf_header));
        }
        let resolved = self.resolve(request.headers(), client).await;
        request.extensions_mut().insert(resolved.session.clone());
        let mut response = inner.call(request).await?;
        let csp = self.csp.replace("{nonce}", nonce.as_str());
        respond::finish(&mut response, &resolved.set_cookie, resolved.presented, Some(&csp));
        Ok(response)
    }

    /// RFC 10017's rule for a cookie-authenticated backend-for-frontend: a state-changing request
    /// with the session cookie must carry the custom header, which another site cannot add.
    pub(crate) fn needs_csrf_header(&self, request: &Request<Body>) -> bool {
        let Some(bff) = self.config.bff_config() else { return false };
        changes_state(request.method())
            && cookie(request.headers(), &bff.cookie_name).is_some()
            && !request.headers().contains_key(self.config.csrf_header.as_str())
    }

    fn client_address(&self, request: &Request<Body>) -> Option<IpAddr> {
        match self.config.client_address {
            ClientAddress::Peer => request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
            ClientAddress::LastForwardedFor => request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|last| last.trim().parse().ok()),
        }
    }

    /// The refresh token the browser presented: the auth server's cookie, or in BFF mode the sealed
    /// cookie opened. `Err` for a sealed cookie this key cannot open (tampered, or another key's).
    pub(crate) fn presented(&self, headers: &HeaderMap) -> Result<Option<String>, Unreadable> {
        match &self.config.mode {
            Mode::Ssr => Ok(self.config.cookie_names.iter().find_map(|name| cookie(headers, name)).map(str::to_owned)),
            Mode::Bff(bff) => match cookie(headers, &bff.cookie_name) {
                None => Ok(None),
                Some(sealed) => bff.key.open(&bff.cookie_name, sealed).map(Some).ok_or(Unreadable),
            },
        }
    }

    /// The request's session: none, unknown, or live with a fresh enough access token.
    pub(crate) async fn resolve(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Resolved {
        let http = self.auth.http().clone();
        let presented = match self.presented(headers) {
            Ok(presented) => presented,
            Err(Unreadable) => {
                let session = ServerSession::new(SessionSnapshot::logged_out(), None, http);
                return Resolved { session, set_cookie: self.clearing_cookies(&[]), presented: true };
            }
        };
        let Some(token) = presented else {
            // A navigation from another site arrives without a `SameSite=Strict` cookie even when
            // the user is logged in: say so, rather than render "logged out".
            let cross_site = headers.get("sec-fetch-site").is_some_and(|site| site == "cross-site");
            let snapshot = if cross_site { SessionSnapshot::unknown() } else { SessionSnapshot::logged_out() };
            return Resolved {
                session: ServerSession::new(snapshot, None, http),
                set_cookie: vec![],
                presented: false,
            };
        };
        let refresh = || self.auth.refresh(&self.config, &token, client);
        let outcome = self.flights.resolve(&token, self.config.refresh_ahead, refresh).await;
        let (snapshot, grant, set_cookie) = match outcome {
            Outcome::Live(grant) => {
                let cookies = grant.successor.as_ref().map(|s| self.successor_cookies(s)).unwrap_or_default();
                let snapshot = SessionSnapshot::logged_in(grant.user.clone(), grant.expires_at_unix);
                (snapshot, Some(grant), cookies)
            }
            Outcome::Ended(clear) => (SessionSnapshot::logged_out(), None, self.clearing_cookies(&clear)),
            Outcome::Unavailable => (SessionSnapshot::unknown(), None, vec![]),
        };
        Resolved { session: ServerSession::new(snapshot, grant, http), set_cookie, presented: true }
    }

    /// The cookies that hand the browser the successor: the auth server's own, or sealed.
    pub(crate) fn successor_cookies(&self, successor: &super::auth_server::Successor) -> Vec<HeaderValue> {
        match &self.config.mode {
            Mode::Ssr => successor.set_cookie.clone(),
            Mode::Bff(bff) => bff
                .key
                .seal(&bff.cookie_name, &successor.token)
                .and_then(|sealed| respond::host_cookie(&bff.cookie_name, &sealed, successor.max_age))
                .into_iter()
                .collect(),
        }
    }

    /// The cookies that end the browser's session: the auth server's clearing headers (or our own
    /// for both of its names when it sent none), or the BFF cookie cleared.
    pub(crate) fn clearing_cookies(&self, from_auth_server: &[HeaderValue]) -> Vec<HeaderValue> {
        match &self.config.mode {
            Mode::Ssr if !from_auth_server.is_empty() => from_auth_server.to_vec(),
            Mode::Ssr => {
                self.config.cookie_names.iter().filter_map(|name| respond::host_cookie(name, "", Some(0))).collect()
            }
            Mode::Bff(bff) => respond::host_cookie(&bff.cookie_name, "", Some(0)).into_iter().collect(),
        }
    }
}

pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

pub(crate) fn csrf_refusal(header: &str) -> Response<Body> {
    let mut response = respond::failure(
        StatusCode::FORBIDDEN,
        "csrf_rejected",
        &format!("a state-changing request needs the {header} header"),
    );
    respond::finish(&mut response, &[], true, None);
    response
}

/// The value of cookie `wanted` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == wanted && !value.is_empty()).then_some(value))
}

/// 128 random bits, base64url: a CSP nonce.
fn random_token() -> String {
    let mut bytes = [0; 16];
    // SystemRandom fails only without an OS random source, where nothing else here would work either.
    SystemRandom::new().fill(&mut bytes).expect("the OS random source");
    URL_SAFE_NO_PAD.encode(bytes)
}
