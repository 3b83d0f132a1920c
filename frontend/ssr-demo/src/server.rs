//! The app server: settings from the environment, the Leptos routes behind the `ssr` layer, and what
//! the server functions do.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::http::StatusCode;
use leptos::config::LeptosOptions;
use leptos::nonce::Nonce;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list};
use silent_refresh::ssr::{BffConfig, CspNonce, RefreshLayer, ServerSession, SsrConfig, Upstream};

use crate::app::{App, shell};

/// Where the auth server is, for the server functions.
static AUTH_URL: OnceLock<String> = OnceLock::new();

/// The environment the app server reads.
#[derive(Debug)]
pub struct Settings {
    /// `SSR_DEMO_ADDR`, default `127.0.0.1:8090` (port 0 picks one; the address is printed).
    pub addr: SocketAddr,
    /// `AUTH_URL`, default `http://127.0.0.1:3000`: the auth server (this project's backend).
    pub auth_url: String,
    /// `SSR_DEMO_SITE`, default `target/ssr-site`: the hydration bundle (`pkg/`) and `style.css`.
    pub site_root: String,
    /// `BFF_KEY`: when set (32 bytes or more), the backend-for-frontend mode with this sealing key.
    pub bff_key: Option<String>,
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let addr = var("SSR_DEMO_ADDR", "127.0.0.1:8090");
        let addr = addr.parse().map_err(|e| format!("SSR_DEMO_ADDR {addr:?}: {e}"))?;
        let bff_key = std::env::var("BFF_KEY").ok().filter(|key| !key.is_empty());
        if bff_key.as_ref().is_some_and(|key| key.len() < 32) {
            return Err("BFF_KEY must have at least 32 bytes".to_owned());
        }
        Ok(Self {
            addr,
            auth_url: var("AUTH_URL", "http://127.0.0.1:3000").trim_end_matches('/').to_owned(),
            site_root: var("SSR_DEMO_SITE", "target/ssr-site"),
            bff_key,
        })
    }

    fn layer(&self) -> RefreshLayer {
        let config = SsrConfig::new(&self.auth_url);
        let config = match &self.bff_key {
            // The browser's own calls go through the app server; only what the page needs is listed.
            Some(key) => config.bff(BffConfig::new(key.as_bytes()).upstream(Upstream::new(
                "me",
                &format!("{}/api/me", self.auth_url),
                &[axum::http::Method::GET],
            ))),
            None => config,
        };
        RefreshLayer::new(config)
    }
}

pub async fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    AUTH_URL.set(settings.auth_url.clone()).map_err(|_| "started twice")?;
    let options = LeptosOptions::builder()
        .output_name("ssr_demo")
        .site_root(settings.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(settings.addr)
        .build();
    let routes = generate_route_list(App);
    let app = Router::new()
        .leptos_routes_with_context(&options, routes, provide_layer_nonce, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(settings.layer());
    let listener = tokio::net::TcpListener::bind(settings.addr).await.map_err(|e| format!("{}: {e}", settings.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mode = if settings.bff_key.is_some() { "backend-for-frontend" } else { "server rendering" };
    println!("ssr-demo listening on http://{local} ({mode}, auth server {})", settings.auth_url);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.map_err(|e| e.to_string())
}

/// The hydration scripts must carry the nonce the layer's CSP names, not one of Leptos's own.
fn provide_layer_nonce() {
    let parts = use_context::<axum::http::request::Parts>();
    if let Some(nonce) = parts.as_ref().and_then(CspNonce::from_parts) {
        provide_context(Nonce::from_value(nonce.as_str().to_owned()));
    }
}

/// `whoami`'s body: `/api/me` with the request's token. A request without a session, or one whose
/// session ended since the page started, answers 401 (a Leptos 0.8 server function answers 500 on an
/// error unless it sets the status).
pub async fn whoami() -> Result<String, ServerFnError> {
    let parts = use_context::<axum::http::request::Parts>();
    let session = parts.as_ref().and_then(ServerSession::from_parts);
    let unauthorized = || {
        expect_context::<ResponseOptions>().set_status(StatusCode::UNAUTHORIZED);
        ServerFnError::new("not signed in")
    };
    let Some(session) = session else { return Err(unauthorized()) };
    let auth_url = AUTH_URL.get().map_or("", String::as_str);
    let answer = match session.send(session.http().get(format!("{auth_url}/api/me"))).await {
        Ok(answer) => answer,
        Err(silent_refresh::ssr::SessionError::NoSession) => return Err(unauthorized()),
        Err(error) => return Err(ServerFnError::new(error)),
    };
    if answer.status().as_u16() == 401 {
        return Err(unauthorized());
    }
    let body = answer.bytes().await.map_err(ServerFnError::new)?;
    let me: serde_json::Value = serde_json::from_slice(&body).map_err(ServerFnError::new)?;
    Ok(me["data"]["email"].as_str().unwrap_or_default().to_owned())
}
