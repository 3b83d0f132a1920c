//! How the layer reaches the auth server, which cookie it reads, and which mode it runs in.

use std::time::Duration;

use axum::http::Method;

use super::bff::SealingKey;

/// The layer's settings. [`SsrConfig::new`] gives the defaults for this project's auth server.
#[derive(Debug, Clone)]
pub struct SsrConfig {
    pub(crate) auth_url: String,
    pub(crate) refresh_path: String,
    pub(crate) login_path: String,
    pub(crate) logout_path: String,
    pub(crate) cookie_names: Vec<String>,
    pub(crate) refresh_ahead: Duration,
    pub(crate) mount: String,
    pub(crate) client_address: ClientAddress,
    pub(crate) csrf_header: String,
    pub(crate) mode: Mode,
}

/// Where the user's address comes from, for the auth server's per-address limits: without it every
/// user behind one app server would be throttled as one address. The auth server must trust the app
/// server as a proxy (`TRUST_FORWARDED_FOR=true` on this project's server) for it to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The TCP peer (`axum::extract::ConnectInfo<SocketAddr>`: serve the router with
    /// `into_make_service_with_connect_info`). The default.
    Peer,
    /// The last `X-Forwarded-For` entry, when a proxy of your own stands in front of the app server.
    LastForwardedFor,
}

/// Plain server rendering, or a backend-for-frontend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Mode {
    /// The auth server's own `HttpOnly` refresh cookie, relayed as it set it: the browser holds the
    /// refresh token (out of every script's reach), the app server holds the access token.
    Ssr,
    /// No token reaches the browser in any form: its cookie holds the refresh token sealed (AEAD) with
    /// a key only the app servers have, upstream APIs are called for it through an allowlist, and every
    /// state-changing request needs the custom header.
    Bff(BffConfig),
}

/// The backend-for-frontend settings.
#[derive(Debug, Clone)]
pub struct BffConfig {
    pub(crate) key: SealingKey,
    pub(crate) cookie_name: String,
    pub(crate) upstreams: Vec<Upstream>,
}

/// One upstream the browser may call through `{mount}/upstream/{name}/…`: a base URL and the methods
/// allowed on it. Anything else is refused.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub(crate) name: String,
    pub(crate) base_url: String,
    pub(crate) methods: Vec<Method>,
}

impl Upstream {
    /// `name` (letters, digits, `-`, `_`) for `base_url` with `methods`. Keep the base as narrow as the
    /// browser needs: an upstream that answers with tokens (a login or refresh endpoint) must never be
    /// listed, or the proxy would hand them to the page.
    pub fn new(name: &str, base_url: &str, methods: &[Method]) -> Self {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "an upstream's name is letters, digits, `-` and `_`"
        );
        Self { name: name.to_owned(), base_url: base_url.trim_end_matches('/').to_owned(), methods: methods.to_vec() }
    }
}

impl BffConfig {
    /// A BFF whose cookie is sealed with `key` (at least 32 bytes, the same on every app server;
    /// changing it logs every user out). Upstreams are added with [`BffConfig::upstream`].
    pub fn new(key: &[u8]) -> Self {
        Self { key: SealingKey::new(key), cookie_name: "__Host-session".to_owned(), upstreams: Vec::new() }
    }

    /// Allows one more upstream.
    #[must_use]
    pub fn upstream(mut self, upstream: Upstream) -> Self {
        self.upstreams.push(upstream);
        self
    }

    /// The browser's cookie name (default `__Host-session`; letters, digits, `-` and `_`).
    #[must_use]
    pub fn cookie_name(mut self, name: &str) -> Self {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "a cookie name is letters, digits, `-` and `_`"
        );
        name.clone_into(&mut self.cookie_name);
        self
    }
}

impl SsrConfig {
    /// The auth server at `auth_url` (scheme, host and port; this project's paths), in [`Mode::Ssr`].
    pub fn new(auth_url: &str) -> Self {
        Self {
            auth_url: auth_url.trim_end_matches('/').to_owned(),
            refresh_path: "/api/auth/refresh-token".to_owned(),
            login_path: "/api/auth/login".to_owned(),
            logout_path: "/api/auth/logout".to_owned(),
            // The `__Host-Http-` name first: it is the one a script cannot have planted.
            cookie_names: vec!["__Host-Http-refresh_token".to_owned(), "__Host-refresh_token".to_owned()],
            refresh_ahead: Duration::from_secs(10),
            mount: "/session".to_owned(),
            client_address: ClientAddress::Peer,
            csrf_header: "x-requested-with".to_owned(),
            mode: Mode::Ssr,
        }
    }

    /// Runs as a backend-for-frontend.
    #[must_use]
    pub fn bff(mut self, bff: BffConfig) -> Self {
        self.mode = Mode::Bff(bff);
        self
    }

    /// Refreshes when the access token has less than this left (default 10 s, and at most half the
    /// token's life), so that a page's server functions and API calls never start with a token about
    /// to expire.
    #[must_use]
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// Where the layer answers its own routes (default `/session`): `POST {mount}/login`,
    /// `POST {mount}/logout`, `GET {mount}` (the snapshot) and, in BFF mode, `{mount}/upstream/…`.
    #[must_use]
    pub fn mount(mut self, mount: &str) -> Self {
        let mount = mount.trim_end_matches('/');
        // An empty mount would make every path of the app one of the layer's routes.
        assert!(mount.starts_with('/') && mount.len() > 1, "the mount is a path below `/`, like `/session`");
        self.mount = mount.to_owned();
        self
    }

    /// Where the user's address comes from (default [`ClientAddress::Peer`]).
    #[must_use]
    pub fn client_address(mut self, source: ClientAddress) -> Self {
        self.client_address = source;
        self
    }

    /// The custom header a state-changing request must carry (default `X-Requested-With`, any value):
    /// a page of another site cannot add it without a CORS preflight this server never grants.
    #[must_use]
    pub fn csrf_header(mut self, name: &str) -> Self {
        assert!(axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok(), "{name:?} is not a header name");
        self.csrf_header = name.to_ascii_lowercase();
        self
    }

    /// The auth server's paths, for a server other than this project's.
    #[must_use]
    pub fn paths(mut self, login: &str, refresh: &str, logout: &str) -> Self {
        login.clone_into(&mut self.login_path);
        refresh.clone_into(&mut self.refresh_path);
        logout.clone_into(&mut self.logout_path);
        self
    }

    pub(crate) fn bff_config(&self) -> Option<&BffConfig> {
        match &self.mode {
            Mode::Bff(bff) => Some(bff),
            Mode::Ssr => None,
        }
    }
}
