//! A live connection that authenticates with the access token itself, as a WebSocket or an SSE stream
//! must: it asks the client for a token valid a while longer (`access_token`), and reconnects with the
//! new one whenever the session's token changes. The stream ends when its token expires, so without the
//! reconnect it would simply stop.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::demo::LiveTick;
use shared::paths;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::app::Services;

/// The stream and the callbacks it holds; dropping it closes the stream.
struct Connection {
    source: web_sys::EventSource,
    _on_message: Closure<dyn Fn(web_sys::MessageEvent)>,
    _on_error: Closure<dyn Fn(web_sys::Event)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.source.close();
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
            let Ok(token) = services.client().access_token(Duration::from_secs(1)).await else {
                connection.set_value(None);
                return;
            };
            let url =
                format!("{}?access_token={}", paths::DEMO_LIVE, String::from(js_sys::encode_uri_component(&token)));
            let Ok(source) = web_sys::EventSource::new(&url) else { return };
            let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Some(tick) = event.data().as_string().and_then(|d| serde_json::from_str::<LiveTick>(&d).ok()) {
                    last.set(Some(tick));
                }
            });
            // The stream ended (its token expired) or was refused: the next token comes from the client.
            let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
                connection.set_value(None);
                set_timeout(move || ended.update(|n| *n += 1), Duration::from_millis(500));
            });
            source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            connections.update(|n| *n += 1);
            connection.set_value(Some(Connection { source, _on_message: on_message, _on_error: on_error }));
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
            <p class="muted">"A server-sent-events stream opened with the access token itself; it reconnects with each new token."</p>
            <dl class="facts">
                <dt>"Connections opened"</dt><dd id="live-connections">{move || connections.get()}</dd>
                <dt>"Messages on this one"</dt><dd id="live-sequence">{move || last.get().map(|t| t.sequence).unwrap_or(0)}</dd>
                <dt>"Its token expires in"</dt>
                <dd>{move || last.get().map(|t| format!("{}s", t.token_expires_in)).unwrap_or_else(|| "-".into())}</dd>
            </dl>
        </section>
    }
}
