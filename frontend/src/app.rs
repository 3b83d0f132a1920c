//! The app shell: the client in context (through silent-refresh's Leptos integration, whose driver
//! refreshes ahead of expiry and follows other tabs), the event log, a clock for the countdowns, and
//! the routes.

use std::time::Duration;

use gloo_storage::Storage as _;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use serde::{Deserialize, Serialize};
use silent_refresh::browser::{BrowserConfig, IdlePolicy, WebCryptoDpopKey};
use silent_refresh::leptos::{RefreshContext, provide_refresh_client_with};
use silent_refresh::{ClientEvent, Config, Counters, EnvelopeProtocol, RefreshClient, Session};

use crate::pages::{Dashboard, ForgotPasswordPage, LoginPage, NotFound, ResetPasswordPage};

const PROACTIVE_KEY: &str = "silent-refresh.proactive";
/// The name the demo's DPoP key is kept under in IndexedDB.
pub const DPOP_KEY_NAME: &str = "demo";
const EVENT_LOG_LEN: usize = 60;
/// Enough for a burst of 100 requests, each sent, refused, replayed and answered, and its refreshes.
const TIMELINE_LEN: usize = 450;

/// Who is logged in, as the login answer says (the fields beside the tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Account {
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) role: String,
}

/// This server's contract, in cookie mode: the refresh token stays in an `HttpOnly` cookie and the
/// access token in memory (shared between tabs), so no script can read a token from any storage.
pub(crate) type Api = EnvelopeProtocol<Account>;
pub(crate) type Client = RefreshClient<Api>;

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggedEvent {
    pub(crate) at: i64,
    pub(crate) event: ClientEvent,
}

/// What every page needs, handed down by context. All handles, so it is `Copy`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Services {
    auth: RefreshContext<Api>,
    pub(crate) session: RwSignal<Option<Session<Account>>, LocalStorage>,
    pub(crate) counters: RwSignal<Counters, LocalStorage>,
    pub(crate) events: RwSignal<Vec<LoggedEvent>>,
    /// When the idle policy will end the session (Unix ms), while it has warned.
    pub(crate) ending_at: RwSignal<Option<i64>>,
    /// The requests and refreshes since the last burst started, for the waterfall.
    pub(crate) timeline: RwSignal<Vec<LoggedEvent>>,
    pub(crate) now: RwSignal<i64>,
    pub(crate) proactive: RwSignal<bool>,
}

impl Services {
    fn new(dpop_key: Option<WebCryptoDpopKey>) -> Self {
        let api = Api::default().cookie_delivery();
        // Nobody at the page for 15 minutes: a minute's warning, then the session ends.
        let idle = IdlePolicy { after: Duration::from_secs(15 * 60), warning: Duration::from_secs(60) };
        let settings = BrowserConfig::default().idle(idle);
        // A DPoP proof with every request, when the browser could keep a key.
        let mut builder = settings.cookie_client_builder(api, "").config(Config::default());
        if let Some(key) = dpop_key {
            let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
            builder = builder.dpop(key, origin);
        }
        let auth = provide_refresh_client_with(builder.build(), &settings);
        let proactive = gloo_storage::LocalStorage::get::<bool>(PROACTIVE_KEY).unwrap_or(true);
        auth.set_proactive(proactive);
        let services = Self {
            auth,
            session: auth.session,
            counters: auth.counters,
            events: RwSignal::new(Vec::new()),
            timeline: RwSignal::new(Vec::new()),
            ending_at: RwSignal::new(None),
            now: RwSignal::new(js_sys::Date::now() as i64),
            proactive: RwSignal::new(proactive),
        };
        services.client().subscribe(move |event| {
            // Events are emitted as they happen, so the time they are heard is the time they happened.
            let at = js_sys::Date::now() as i64;
            match event {
                ClientEvent::SessionEndingSoon { in_ms } => services.ending_at.set(Some(at + *in_ms as i64)),
                ClientEvent::IdleWarningCleared | ClientEvent::LoggedOut { .. } => services.ending_at.set(None),
                _ => {}
            }
            let per_request = matches!(event, ClientEvent::RequestSent { .. } | ClientEvent::RequestAnswered { .. });
            let on_timeline = per_request
                || matches!(
                    event,
                    ClientEvent::RefreshStarted { .. }
                        | ClientEvent::RefreshSucceeded { .. }
                        | ClientEvent::RefreshFailed { .. }
                );
            if on_timeline {
                services.timeline.update(|t| {
                    if t.len() < TIMELINE_LEN {
                        t.push(LoggedEvent { at, event: event.clone() });
                    }
                });
            }
            if !per_request {
                services.events.update(|log| {
                    log.insert(0, LoggedEvent { at, event: event.clone() });
                    log.truncate(EVENT_LOG_LEN);
                });
            }
        });
        services
    }

    pub(crate) fn client(&self) -> Client {
        self.auth.client()
    }

    pub(crate) fn set_proactive(&self, on: bool) {
        let _ = gloo_storage::LocalStorage::set(PROACTIVE_KEY, on);
        self.auth.set_proactive(on);
        self.proactive.set(on);
    }
}

#[component]
pub fn App(
    /// The key every request's DPoP proof is signed with; `None`: Bearer tokens.
    dpop_key: Option<WebCryptoDpopKey>,
) -> impl IntoView {
    let services = Services::new(dpop_key);
    provide_context(services);
    // The countdowns move without events (the client's driver keeps session and counters in step).
    set_interval(move || services.now.set(js_sys::Date::now() as i64), Duration::from_millis(500));

    let banner = move || {
        services.ending_at.get().map(|at| {
            let left = ((at - services.now.get()) / 1000).max(0);
            view! {
                <p class="banner" id="ending-soon" role="alert">
                    {format!("No activity for a while: your session ends in {left} s. Move the mouse or press a key to stay.")}
                </p>
            }
        })
    };
    view! {
        <Router>
            {banner}
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
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage />
                    <Route path=path!("/reset-password") view=ResetPasswordPage />
                </Routes>
            </main>
        </Router>
    }
}
