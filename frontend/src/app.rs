//! The app shell: the client and the reactive state pages read, the routes, and the wiring that keeps
//! every tab in step (storage events) and refreshes ahead of expiry (a 1 s tick plus wake-up events).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::client::browser::{self, BrowserClient, SESSION_KEY};
use crate::client::{ClientEvent, Counters, StoredSession};
use crate::pages::{Dashboard, LoginPage, NotFound};

const PROACTIVE_KEY: &str = "silent-refresh.proactive";
const EVENT_LOG_LEN: usize = 60;

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggedEvent {
    pub(crate) at: i64,
    pub(crate) event: ClientEvent,
}

/// What every page needs, handed down by context. All handles, so it is `Copy`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Services {
    client: StoredValue<BrowserClient, LocalStorage>,
    pub(crate) session: RwSignal<Option<StoredSession>>,
    pub(crate) counters: RwSignal<Counters>,
    pub(crate) events: RwSignal<Vec<LoggedEvent>>,
    pub(crate) now: RwSignal<i64>,
    pub(crate) proactive: RwSignal<bool>,
}

impl Services {
    fn new(client: BrowserClient) -> Self {
        let proactive = gloo_storage::LocalStorage::get::<bool>(PROACTIVE_KEY).unwrap_or(true);
        let services = Self {
            session: RwSignal::new(client.session()),
            counters: RwSignal::new(client.counters()),
            events: RwSignal::new(Vec::new()),
            now: RwSignal::new(js_sys::Date::now() as i64),
            proactive: RwSignal::new(proactive),
            client: StoredValue::new_local(client),
        };
        let client = services.client();
        client.subscribe(move |event| {
            let at = js_sys::Date::now() as i64;
            services.events.update(|log| {
                log.insert(0, LoggedEvent { at, event: event.clone() });
                log.truncate(EVENT_LOG_LEN);
            });
            services.sync();
        });
        services
    }

    pub(crate) fn client(&self) -> BrowserClient {
        self.client.get_value()
    }

    /// Re-reads storage and counters into the signals (after any client event or another tab's write).
    pub(crate) fn sync(&self) {
        self.session.set(self.client.with_value(|c| c.session()));
        self.counters.set(self.client.with_value(|c| c.counters()));
    }

    pub(crate) fn set_proactive(&self, on: bool) {
        let _ = gloo_storage::LocalStorage::set(PROACTIVE_KEY, on);
        self.proactive.set(on);
    }

    /// The proactive refresh: runs on every tick and whenever the tab wakes or goes back online. The
    /// tick also refreshes the clock and the counters (requests in flight change without events).
    fn refresh_if_due(&self) {
        self.now.set(js_sys::Date::now() as i64);
        self.counters.set(self.client.with_value(|c| c.counters()));
        if !self.proactive.get_untracked() || self.session.with_untracked(Option::is_none) {
            return;
        }
        let client = self.client();
        spawn_local(async move {
            // Failures are already events in the log; reactive 401 handling remains the fallback.
            let _ = client.refresh_if_due().await;
        });
    }
}

use gloo_storage::Storage as _;

#[component]
pub fn App() -> impl IntoView {
    let services = Services::new(browser::client(""));
    provide_context(services);

    set_interval(move || services.refresh_if_due(), Duration::from_secs(1));
    // A laptop waking from sleep or a hidden tab coming back judges expiry by the wall clock at once.
    let _ = window_event_listener_untyped("online", move |_| services.refresh_if_due());
    on_document_event("visibilitychange", move || services.refresh_if_due());
    // Another tab rotated the tokens or logged out.
    let _ = window_event_listener(leptos::ev::storage, move |event| {
        if event.key().as_deref() != Some(SESSION_KEY) {
            return;
        }
        if event.new_value().is_none() && services.session.with_untracked(Option::is_some) {
            services.client().session_ended_elsewhere();
        }
        services.sync();
    });

    view! {
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"silent-refresh"</a>
                <span class="tagline">"JWT rotation you never notice"</span>
                <span class="status" id="in-flight">
                    {move || {
                        let counters = services.counters.get();
                        format!("{} in flight · {} refreshed", counters.in_flight, counters.refreshes)
                    }}
                </span>
            </header>
            <main class="content">
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=Dashboard />
                    <Route path=path!("/login") view=LoginPage />
                </Routes>
            </main>
        </Router>
    }
}

fn on_document_event(name: &str, handler: impl Fn() + 'static) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let closure = Closure::<dyn Fn()>::new(handler);
    let _ = document.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    closure.forget();
}
