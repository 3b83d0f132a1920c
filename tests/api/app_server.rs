//! An app server in front of the real auth server, as a server-rendered app would be: an Axum router
//! with the client crate's `RefreshLayer`, a page that renders the session, and a server-function-like
//! route that calls the auth server's `/api/me` with the request's token.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use shared::paths;
use silent_refresh::ssr::{Presence, RefreshLayer, ServerSession, SsrConfig};
use tokio::net::TcpListener;

use crate::helpers::{PASSWORD, TestApp};

/// A JWT anywhere in a text: three base64url parts, the first an encoded `{"`.
pub(crate) const JWT: &str = r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+";

pub(crate) struct AppServer {
    pub(crate) addr: SocketAddr,
    pub(crate) client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn page(session: ServerSession) -> Html<String> {
    let shown = match session.presence() {
        Presence::LoggedIn => session.snapshot().user_field("email").unwrap_or("?").to_owned(),
        Presence::LoggedOut => "logged out".to_owned(),
        Presence::Unknown => "unknown".to_owned(),
    };
    let snapshot = serde_json::to_string(session.snapshot()).unwrap_or_default();
    Html(format!("<p id=\"user\">{shown}</p><script type=\"application/json\" id=\"snapshot\">{snapshot}</script>"))
}

/// What a server function does: one API call with the request's token.
async fn me(State(auth_url): State<String>, session: ServerSession) -> impl IntoResponse {
    let call = session.http().get(format!("{auth_url}{}", paths::ME));
    match session.send(call).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, answer.text().await.unwrap_or_default())
        }
        Err(error) => (StatusCode::UNAUTHORIZED, error.to_string()),
    }
}

impl AppServer {
    pub(crate) async fn start(auth_url: &str, layer: RefreshLayer) -> Self {
        let router = Router::new()
            .route("/", get(page))
            .route("/fn/me", post(me))
            .route("/asset.wasm", get(|| async { ([("content-type", "application/wasm")], "\0asm") }))
            .with_state(auth_url.to_owned())
            .layer(layer);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).await.expect("app server runs");
        });
        Self { addr, client: reqwest::Client::new(), server }
    }

    /// An app server in SSR mode in front of `auth`.
    pub(crate) async fn ssr(auth: &TestApp, config: impl FnOnce(SsrConfig) -> SsrConfig) -> Self {
        Self::start(&auth.url(""), RefreshLayer::new(config(SsrConfig::new(&auth.url(""))))).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let request = self.client.get(self.url(path));
        let request = match cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        };
        request.send().await.expect("request")
    }

    /// A state-changing call with the custom header, as the app's own scripts send it.
    pub(crate) async fn post(&self, path: &str, cookie: Option<&str>, body: &Value) -> reqwest::Response {
        let request = self.client.post(self.url(path)).header("x-requested-with", "test").json(body);
        let request = match cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        };
        request.send().await.expect("request")
    }

    /// Logs a new account in through the app server; the browser's cookie (`name=value`).
    pub(crate) async fn login(&self, auth: &TestApp) -> (String, String) {
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        auth.register(&email).await;
        let response = self.post("/session/login", None, &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = cookie_pair(&response).expect("a session cookie");
        (email, cookie)
    }
}

/// The `name=value` of the one cookie a response sets with a value.
pub(crate) fn cookie_pair(response: &reqwest::Response) -> Option<String> {
    let set: Vec<&str> = response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    let pairs: Vec<&str> = set.iter().filter_map(|c| c.split(';').next()).filter(|pair| !pair.ends_with('=')).collect();
    assert!(pairs.len() <= 1, "several cookies set: {set:?}");
    pairs.first().map(|pair| (*pair).to_owned())
}

/// Logs a new account in at the auth server itself in cookie mode: the refresh cookie a browser would
/// hold, with no access token anywhere in the app server.
pub(crate) async fn refresh_cookie_only(auth: &TestApp) -> (String, String) {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    auth.register(&email).await;
    let response = auth
        .client
        .post(auth.url(paths::LOGIN))
        .header("x-token-delivery", "cookie")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    (email, cookie_pair(&response).expect("refresh cookie"))
}

pub(crate) fn json_body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
