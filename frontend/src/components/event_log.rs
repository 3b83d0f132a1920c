//! What the client did, newest first.

use leptos::prelude::*;

use silent_refresh::{ClientEvent, LogoutReason, RefreshReason};

use crate::app::{LoggedEvent, Services};

#[component]
pub(crate) fn EventLog() -> impl IntoView {
    let services = expect_context::<Services>();
    view! {
        <section class="card wide" id="events">
            <h2>"Refresh events"</h2>
            <ol class="log">
                {move || {
                    let events = services.events.get();
                    if events.is_empty() {
                        return view! { <li class="muted">"Nothing yet. Wait for the access token to expire, or expire it."</li> }.into_any();
                    }
                    events.into_iter().map(|e| {
                        let (class, text) = describe(&e);
                        view! { <li class=class><time>{clock(e.at)}</time>" "{text}</li> }
                    }).collect_view().into_any()
                }}
            </ol>
        </section>
    }
}

fn describe(logged: &LoggedEvent) -> (&'static str, String) {
    match &logged.event {
        ClientEvent::RefreshStarted { reason: RefreshReason::Proactive } => {
            ("start", "Refresh started (access token expiring)".into())
        }
        ClientEvent::RefreshStarted { reason: RefreshReason::Unauthorized } => {
            ("start", "Refresh started (a request got 401)".into())
        }
        ClientEvent::LoggedIn => ("ok", "Logged in".into()),
        ClientEvent::Resumed => ("ok", "Session restored from the refresh cookie".into()),
        ClientEvent::TokensChanged { .. } => ("muted", "New access token in use".into()),
        ClientEvent::RefreshSucceeded { duration_ms } => ("ok", format!("Refresh succeeded in {duration_ms} ms")),
        ClientEvent::TokenAdopted => ("ok", "Took over the token another tab refreshed".into()),
        ClientEvent::RefreshFailed { reason, retry_in_ms: Some(ms) } => {
            ("warn", format!("Refresh failed: {reason}; retrying after {ms} ms"))
        }
        ClientEvent::RefreshFailed { reason, retry_in_ms: None } => ("bad", format!("Refresh refused: {reason}")),
        ClientEvent::RequestsReplayed { count } => {
            ("ok", format!("Replayed {count} request(s) that waited for this refresh"))
        }
        ClientEvent::SessionNotSaved { reason } => {
            ("warn", format!("Could not save the session ({reason}); keeping it in memory"))
        }
        ClientEvent::LoggedOut { reason: LogoutReason::UserRequested } => ("bad", "Logged out".into()),
        ClientEvent::LoggedOut { reason: LogoutReason::OtherTab } => ("bad", "Logged out in another tab".into()),
        ClientEvent::LoggedOut { reason: LogoutReason::Idle } => ("bad", "Logged out after no activity".into()),
        ClientEvent::SessionEndingSoon { in_ms } => {
            ("warn", format!("No activity: the session ends in {} s", in_ms / 1000))
        }
        ClientEvent::IdleWarningCleared => ("ok", "Activity again: the session goes on".into()),
        ClientEvent::LoggedOut { reason: LogoutReason::SessionExpired(why) } => {
            ("bad", format!("Session ended: {why}"))
        }
        other => ("muted", format!("{other:?}")),
    }
}

fn clock(at_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}
