//! Silent refresh for server-rendered apps (feature `ssr`), and a backend-for-frontend mode.
//!
//! [`RefreshLayer`] goes on the app server's Axum router (a Leptos server's included). On every page
//! request and server-function call it reads the refresh cookie and, when this process holds no
//! access token for it that lives longer than `refresh_ahead`, refreshes **once** at the auth server,
//! whatever number of requests arrive with that cookie at once (five tabs restored together); every
//! response to them sets the same successor cookie, before the body starts. Nothing inside the page
//! ever refreshes: a streamed or nested resource could not set the rotated cookie, and the next
//! refresh would be taken for token reuse and end the session.
//!
//! The request then carries a [`ServerSession`] (`Send + Sync`): the [`SessionSnapshot`] to
//! serialise into the page and the access token for server functions and blocking resources
//! ([`ServerSession::send`]). Responses get `Cache-Control: private, no-store` and `Vary: Cookie`
//! whenever they set a cookie, answer a request with a session or are a page, and pages get a CSP
//! whose script nonce is the request's [`CspNonce`].
//!
//! In [`Mode::Bff`] no token reaches the browser in any form: its cookie seals the refresh token with
//! a key only the app servers hold, the page calls APIs through `{mount}/upstream/{name}/…` for the
//! upstreams you list, and every state-changing request with the cookie needs the custom header.
//!
//! ```no_run
//! # async fn serve() -> std::io::Result<()> {
//! use axum::http::Method;
//! use axum::{Router, routing::get};
//! use silent_refresh::ssr::{BffConfig, RefreshLayer, ServerSession, SsrConfig, Upstream};
//!
//! async fn page(session: ServerSession) -> axum::response::Html<String> {
//!     let name = session.snapshot().user_field("username").unwrap_or("stranger").to_owned();
//!     axum::response::Html(format!("<p>Hello, {name}</p>"))
//! }
//!
//! let auth_server = "http://127.0.0.1:3000";
//! let bff = BffConfig::new(b"a secret of 32 bytes or more, the same on every app server")
//!     .upstream(Upstream::new("me", &format!("{auth_server}/api/me"), &[Method::GET]));
//! let app = Router::new()
//!     .route("/", get(page))
//!     .layer(RefreshLayer::new(SsrConfig::new(auth_server).bff(bff)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // The peer address goes to the auth server, so its per-address limits see each user.
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # }
//! ```

mod auth_server;
mod bff;
mod config;
mod flights;
mod layer;
mod respond;
mod routes;
mod session;

pub use crate::snapshot::{Presence, SessionSnapshot};
pub use config::{BffConfig, ClientAddress, Mode, SsrConfig, Upstream};
pub use layer::{RefreshLayer, RefreshService};
pub use session::{CspNonce, ServerSession, SessionError};
