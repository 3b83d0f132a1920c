//! The browser half of a server-rendered app on the [`ssr`](../ssr/index.html) layer (feature
//! `hydrate`): the session snapshot the server wrote into the page, and [`ServerFnClient`], a
//! `server_fn` client for Leptos server functions.
//!
//! The layer refreshes before every server-function call, so a call rarely meets an expired token.
//! When one still answers 401 (the auth server did not answer the layer, or an API refused the token
//! it held), the client asks the layer's session route once for every call that was already on its
//! way (however the browser spread them over its connections), and retries each call once if the
//! session is still there. Nothing retries twice, and a session that is over gives every waiting call
//! its 401 at once.
//!
//! ```text
//! #[server(client = silent_refresh::hydrate::ServerFnClient)]
//! pub async fn whoami() -> Result<String, ServerFnError> { /* … */ }
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use gloo_net::http::{Method, Request, RequestBuilder, Response};
use send_wrapper::SendWrapper;
use server_fn::client::Client;
use server_fn::client::browser::BrowserClient;
use server_fn::error::{FromServerFnError, IntoAppError, ServerFnErrorErr};
use server_fn::request::ClientReq;
use server_fn::request::browser::BrowserFormData;
use server_fn::response::ClientRes;

use crate::snapshot::{Presence, SessionSnapshot};

/// The layer's session route (`SsrConfig::mount`'s default).
pub const SESSION_ROUTE: &str = "/session";
/// The header the layer's CSRF rule asks for on state-changing requests (its default name).
pub const CSRF_HEADER: &str = "X-Requested-With";

/// The snapshot the server serialised into the element `element_id` (a `<script
/// type="application/json">`), for the first client render to match the server's HTML.
pub fn snapshot_in_page(element_id: &str) -> Option<SessionSnapshot> {
    let element = web_sys::window()?.document()?.get_element_by_id(element_id)?;
    serde_json::from_str(&element.text_content()?).ok()
}

/// What the server says about this browser's session now (`GET /session`, which refreshes on the
/// server when it must); [`Presence::Unknown`] when it could not be asked.
pub async fn current_session() -> SessionSnapshot {
    #[derive(serde::Deserialize)]
    struct Answer {
        data: Option<SessionSnapshot>,
    }
    let answer = match Request::get(SESSION_ROUTE).send().await {
        Ok(response) => response.json::<Answer>().await.ok().and_then(|answer| answer.data),
        Err(_) => None,
    };
    answer.unwrap_or_else(SessionSnapshot::unknown)
}

thread_local! {
    static CHECK: RefCell<Option<Shared<LocalBoxFuture<'static, bool>>>> = const { RefCell::new(None) };
    static CHECKS: Cell<u32> = const { Cell::new(0) };
    /// The number of checks finished, and what the last one found.
    static LAST: Cell<(u32, bool)> = const { Cell::new((0, false)) };
}

/// Whether the session is still there, for a call sent when `sent_after` checks had finished: a
/// check that finished since then answers for it (the browser holds back some of many parallel
/// calls, so their 401s arrive in waves); otherwise one check shared by every 401 meanwhile.
async fn session_alive(sent_after: u32) -> bool {
    let (finished, alive) = LAST.with(Cell::get);
    if finished > sent_after {
        return alive;
    }
    let check = CHECK.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| {
                CHECKS.with(|n| n.set(n.get() + 1));
                async {
                    let alive = current_session().await.presence == Presence::LoggedIn;
                    CHECK.with(|slot| slot.borrow_mut().take());
                    LAST.with(|last| last.set((last.get().0 + 1, alive)));
                    alive
                }
                .boxed_local()
                .shared()
            })
            .clone()
    });
    check.await
}

/// How many session checks 401s have caused in this page (for tests and diagnostics).
pub fn session_checks() -> u32 {
    CHECKS.with(Cell::get)
}

/// A `server_fn` client: the browser's fetch, the CSRF header on every call, and one shared session
/// check plus one retry on a 401. Streaming request bodies are not supported (they cannot be sent
/// twice); websockets go through `server_fn`'s own browser client.
#[derive(Debug, Clone, Copy)]
pub struct ServerFnClient;

/// A server-function call as it was built, so that it can be sent twice.
#[derive(Debug)]
pub struct ServerFnRequest(SendWrapper<Recipe>);

#[derive(Debug)]
struct Recipe {
    method: Method,
    url: String,
    content_type: Option<String>,
    accepts: String,
    body: Payload,
}

#[derive(Debug)]
enum Payload {
    None,
    Text(String),
    Bytes(Bytes),
    Form(web_sys::FormData),
}

impl Recipe {
    fn request(&self) -> Result<Request, gloo_net::Error> {
        let mut builder = RequestBuilder::new(&self.url)
            .method(self.method.clone())
            .header("Accept", &self.accepts)
            .header(CSRF_HEADER, "silent-refresh");
        if let Some(kind) = &self.content_type {
            builder = builder.header("Content-Type", kind);
        }
        match &self.body {
            Payload::None => builder.build(),
            Payload::Text(text) => builder.body(text.as_str()),
            Payload::Bytes(bytes) => builder.body(js_sys::Uint8Array::from(bytes.as_ref())),
            Payload::Form(form) => builder.body(form.clone()),
        }
    }

    async fn send(&self) -> Result<Response, gloo_net::Error> {
        self.request()?.send().await
    }
}

fn url(path: &str, query: Option<&str>) -> String {
    let mut url = format!("{}{path}", server_fn::client::get_server_url());
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn recipe(
    method: http::Method,
    url: String,
    content_type: Option<&str>,
    accepts: &str,
    body: Payload,
) -> ServerFnRequest {
    let content_type = content_type.map(str::to_owned);
    ServerFnRequest(SendWrapper::new(Recipe { method, url, content_type, accepts: accepts.to_owned(), body }))
}

impl<E: FromServerFnError> ClientReq<E> for ServerFnRequest {
    type FormData = BrowserFormData;

    fn try_new_req_query(
        path: &str,
        content_type: &str,
        accepts: &str,
        query: &str,
        method: http::Method,
    ) -> Result<Self, E> {
        Ok(recipe(method, url(path, Some(query)), Some(content_type), accepts, Payload::None))
    }

    fn try_new_req_text(
        path: &str,
        content_type: &str,
        accepts: &str,
        body: String,
        method: http::Method,
    ) -> Result<Self, E> {
        Ok(recipe(method, url(path, None), Some(content_type), accepts, Payload::Text(body)))
    }

    fn try_new_req_bytes(
        path: &str,
        content_type: &str,
        accepts: &str,
        body: Bytes,
        method: http::Method,
    ) -> Result<Self, E> {
        Ok(recipe(method, url(path, None), Some(content_type), accepts, Payload::Bytes(body)))
    }

    fn try_new_req_form_data(
        path: &str,
        accepts: &str,
        content_type: &str,
        body: Self::FormData,
        method: http::Method,
    ) -> Result<Self, E> {
        Ok(recipe(method, url(path, None), Some(content_type), accepts, Payload::Form(body.take())))
    }

    fn try_new_req_multipart(path: &str, accepts: &str, body: Self::FormData, method: http::Method) -> Result<Self, E> {
        // The browser writes the multipart boundary into Content-Type itself.
        Ok(recipe(method, url(path, None), None, accepts, Payload::Form(body.take())))
    }

    fn try_new_req_streaming(
        _path: &str,
        _accepts: &str,
        _content_type: &str,
        _body: impl futures::Stream<Item = Bytes> + Send + 'static,
        _method: http::Method,
    ) -> Result<Self, E> {
        Err(ServerFnErrorErr::Request("a streaming body cannot be sent twice: use server_fn's BrowserClient".into())
            .into_app_error())
    }
}

/// A server function's answer.
#[derive(Debug)]
pub struct ServerFnResponse(SendWrapper<Response>);

impl<E: FromServerFnError> ClientRes<E> for ServerFnResponse {
    fn try_into_string(self) -> impl Future<Output = Result<String, E>> + Send {
        SendWrapper::new(async move {
            self.0.text().await.map_err(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error())
        })
    }

    fn try_into_bytes(self) -> impl Future<Output = Result<Bytes, E>> + Send {
        SendWrapper::new(async move {
            self.0
                .binary()
                .await
                .map(Bytes::from)
                .map_err(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error())
        })
    }

    fn try_into_stream(self) -> Result<impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + Sync + 'static, E> {
        Err::<futures::stream::Empty<Result<Bytes, Bytes>>, E>(
            ServerFnErrorErr::Response("a streamed answer needs server_fn's BrowserClient".into()).into_app_error(),
        )
    }

    fn status(&self) -> u16 {
        self.0.status()
    }

    fn status_text(&self) -> String {
        self.0.status_text()
    }

    fn location(&self) -> String {
        self.0.headers().get("Location").unwrap_or_else(|| self.0.url())
    }

    fn has_redirect(&self) -> bool {
        self.0.headers().get(server_fn::redirect::REDIRECT_HEADER).is_some()
    }
}

impl<E, IS, OS> Client<E, IS, OS> for ServerFnClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = ServerFnRequest;
    type Response = ServerFnResponse;

    fn send(request: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        SendWrapper::new(async move {
            let recipe = request.0.take();
            let failed = |e: gloo_net::Error| ServerFnErrorErr::Request(e.to_string()).into_app_error();
            let sent_after = LAST.with(Cell::get).0;
            let first = recipe.send().await.map_err(failed)?;
            if first.status() != 401 || !session_alive(sent_after).await {
                return Ok(ServerFnResponse(SendWrapper::new(first)));
            }
            let second = recipe.send().await.map_err(failed)?;
            Ok(ServerFnResponse(SendWrapper::new(second)))
        })
    }

    #[allow(clippy::type_complexity)]
    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl futures::Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future);
    }
}
