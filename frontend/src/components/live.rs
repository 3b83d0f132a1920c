//! A live connection that authenticates with the access token itself, as a WebSocket or an SSE stream
//! must: it asks the client for the headers of a token valid a while longer (`authorization_headers`: with
//! DPoP, the `DPoP` scheme and a proof made for this request), and reconnects with the
//! new one whenever the session's token changes. The stream ends when its token expires, so without the
//! reconnect it would simply stop.
//!
//! It reads the server-sent events with `fetch` and a streamed body, not `EventSource`: `EventSource`
//! cannot send an `Authorization` header, and a token in the URL ends up in logs and history (RFC 6750
//! §2.3).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::demo::LiveTick;
use shared::paths;
use wasm_bindgen::{JsCast, JsValue};

use crate::app::Services;

/// The open stream; dropping it aborts the request.
struct Connection(web_sys::AbortController);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens the stream with `headers` (the token, and its DPoP proof) and hands every tick to `on_tick`
/// until the stream ends or fails.
async fn stream(
    headers: &[(String, String)],
    signal: &web_sys::AbortSignal,
    on_tick: impl Fn(LiveTick),
) -> Result<(), JsValue> {
    let mut request = gloo_net::http::Request::get(paths::DEMO_LIVE);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response =
        request.abort_signal(Some(signal)).send().await.map_err(|error| JsValue::from_str(&error.to_string()))?;
    let body = response.body().filter(|_| response.ok()).ok_or_else(|| JsValue::from_str("refused"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut pending = String::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.as_bool().unwrap_or(true) {
            return Ok(());
        }
        let bytes = js_sys::Uint8Array::new(&js_sys::Reflect::get(&chunk, &"value".into())?).to_vec();
        pending.push_str(&String::from_utf8_lossy(&bytes));
        // Events end with a blank line; a partial one waits for the next chunk.
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let data = event.lines().find_map(|line| line.strip_prefix("data:")).map(str::trim);
            if let Some(tick) = data.and_then(|data| serde_json::from_str::<LiveTick>(data).ok()) {
                on_tick(tick);
            }
        }
    }
}

#[component]
pub(crate) fn Live() -> impl IntoView {
    let services = expect_context::<Services>();
    let last = RwSignal::new(None::<LiveTick>);
    let connections = RwSignal::new(0u32);
    let connection = StoredValue::new_local(None::<Connection>);
    // Bumped when a stream ends, so the effect below opens the next one.
    let ended = RwSignal::new(0u32);

    let connect = move || {
        spawn_local(async move {
            let live = silent_refresh::Request::get(paths::DEMO_LIVE);
            let Ok(headers) = services.client().authorization_headers(&live, Duration::from_secs(1)).await else {
                connection.set_value(None);
                return;
            };
            let Ok(abort) = web_sys::AbortController::new() else { return };
            let signal = abort.signal();
            connections.update(|n| *n += 1);
            let this = connections.get_untracked();
            connection.set_value(Some(Connection(abort)));
            let _ = stream(&headers, &signal, move |tick| last.set(Some(tick))).await;
            // It ended (its token expired) or was refused, and no newer stream replaced it: the next
            // token comes from the client.
            if connections.get_untracked() == this && !signal.aborted() {
                connection.set_value(None);
                set_timeout(move || ended.update(|n| *n += 1), Duration::from_millis(500));
            }
        });
    };
    // A new access token (a refresh, a login, another tab's rotation), or a stream that ended:
    // (re)connect with the client's current token.
    Effect::new(move |previous: Option<(Option<String>, u32)>| {
        let token = services.session.with(|s| s.as_ref().map(|s| s.access_token.clone()));
        let now = (token, ended.get());
        if now.0.is_none() {
            connection.set_value(None);
        } else if previous.as_ref() != Some(&now) {
            connect();
        }
        now
    });
    on_cleanup(move || connection.set_value(None));

    view! {
        <section class="card" id="live">
            <h2>"Live connection"</h2>
            <p class="muted">"A server-sent-events stream opened with the access token in its Authorization header; it reconnects with each new token."</p>
            <dl class="facts">
                <dt>"Connections opened"</dt><dd id="live-connections">{move || connections.get()}</dd>
                <dt>"Messages on this one"</dt><dd id="live-sequence">{move || last.get().map(|t| t.sequence).unwrap_or(0)}</dd>
                <dt>"Its token expires in"</dt>
                <dd>{move || last.get().map(|t| format!("{}s", t.token_expires_in)).unwrap_or_else(|| "-".into())}</dd>
            </dl>
        </section>
    }
}
