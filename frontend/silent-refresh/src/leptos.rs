//! A thin Leptos 0.8 integration: the client in context, its session and counters as signals, a
//! driver that lives as long as the context's owner, and a guard that sends the user to the login
//! page when the session ends.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use leptos_router::components::{Route, Router, Routes};
//! use leptos_router::path;
//! use silent_refresh::leptos::{RequireSession, provide_refresh_client};
//! use silent_refresh::{Config, EnvelopeProtocol};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Account {
//!     email: String,
//! }
//!
//! #[component]
//! fn App() -> impl IntoView {
//!     let api = EnvelopeProtocol::<Account>::default();
//!     provide_refresh_client(silent_refresh::browser::client(api, "", Config::default()));
//!     view! {
//!         <Router>
//!             <Routes fallback=|| "not found">
//!                 <Route path=path!("/") view=|| view! {
//!                     <RequireSession login_path="/login">"only for the logged in"</RequireSession>
//!                 } />
//!             </Routes>
//!         </Router>
//!     }
//! }
//! ```

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::RefreshClient;
use crate::browser::{BrowserConfig, Driver};
use crate::error::ClientError;
use crate::events::Counters;
use crate::protocol::Protocol;
use crate::session::Session;

/// How often the driver ticks.
const TICK: Duration = Duration::from_secs(1);

/// The client and its reactive state; `Copy`, handed down by context. Any client works, whatever its
/// ports: [`browser::client`](crate::browser::client), [`browser::cookie_client`](crate::browser::cookie_client),
/// or one built with a transport of your own.
#[derive(Debug)]
pub struct RefreshContext<P: Protocol + 'static> {
    client: StoredValue<RefreshClient<P>, LocalStorage>,
    driver: StoredValue<Option<Driver>, LocalStorage>,
    resuming: StoredValue<bool, LocalStorage>,
    /// The current session (`None` when logged out), kept in step with the client and other tabs.
    pub session: RwSignal<Option<Session<P::User>>, LocalStorage>,
    /// The client's counters, refreshed on every event and tick.
    pub counters: RwSignal<Counters, LocalStorage>,
    /// True while a freshly loaded page restores its session with a refresh call (cookie mode). It
    /// stays true, retrying every tick, while the server cannot be reached.
    pub restoring: RwSignal<bool, LocalStorage>,
}

impl<P: Protocol + 'static> Clone for RefreshContext<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Protocol + 'static> Copy for RefreshContext<P> {}

/// Whether anyone is logged in, and whether that is still being found out, without the protocol's
/// types (what [`RequireSession`] reads).
#[derive(Debug, Clone, Copy)]
pub struct SessionPresence {
    /// A session exists.
    pub logged_in: Signal<bool>,
    /// The page is still restoring its session.
    pub restoring: Signal<bool>,
}

/// Puts `client` in context with its signals, restores the session when the protocol can (cookie
/// mode, after a reload), and starts the client's [`Driver`] for as long as the
/// current owner lives, with the default [`BrowserConfig`].
pub fn provide_refresh_client<P: Protocol + 'static>(client: RefreshClient<P>) -> RefreshContext<P> {
    provide_refresh_client_with(client, &BrowserConfig::default())
}

/// [`provide_refresh_client`] for a client built with other browser settings (an idle policy, another
/// storage key): the driver follows `browser`, which should be the settings that built `client`.
pub fn provide_refresh_client_with<P: Protocol + 'static>(
    client: RefreshClient<P>,
    browser: &BrowserConfig,
) -> RefreshContext<P> {
    let restoring = client.session().is_none();
    let context = RefreshContext {
        session: RwSignal::new_local(client.session()),
        counters: RwSignal::new_local(client.counters()),
        restoring: RwSignal::new_local(restoring),
        resuming: StoredValue::new_local(false),
        client: StoredValue::new_local(client.clone()),
        driver: StoredValue::new_local(None),
    };
    client.subscribe(move |_| context.sync());
    context.driver.set_value(Some(browser.start_driver(client, TICK, move || context.sync())));
    provide_context(context);
    let presence = SessionPresence {
        logged_in: Signal::derive(move || context.session.with(Option::is_some)),
        restoring: Signal::derive(move || context.restoring.get()),
    };
    provide_context(presence);
    if restoring {
        context.resume();
    }
    context
}

/// The context [`provide_refresh_client`] put up.
pub fn use_refresh_client<P: Protocol + 'static>() -> RefreshContext<P> {
    expect_context()
}

impl<P: Protocol + 'static> RefreshContext<P> {
    /// The client (a cheap handle).
    pub fn client(&self) -> RefreshClient<P> {
        self.client.get_value()
    }

    /// Re-reads the session and counters into the signals (and retries restoring the session). Every
    /// client event and driver tick calls it.
    fn sync(&self) {
        if let Some((session, counters)) = self.client.try_with_value(|c| (c.session(), c.counters())) {
            if session.is_some() && self.restoring.get_untracked() {
                self.restoring.set(false);
            }
            self.session.set(session);
            self.counters.set(counters);
            if self.restoring.get_untracked() {
                self.resume();
            }
        }
    }

    /// Turns refreshing ahead of expiry on or off.
    pub fn set_proactive(&self, on: bool) {
        self.driver.with_value(|driver| driver.as_ref().map(|d| d.set_proactive(on)));
    }

    fn resume(&self) {
        if self.resuming.try_get_value() != Some(false) {
            return;
        }
        self.resuming.set_value(true);
        let context = *self;
        leptos::task::spawn_local(async move {
            let result = context.client().resume().await;
            context.resuming.set_value(false);
            // A server that cannot be reached says nothing about the session: keep trying.
            if !matches!(result, Err(ClientError::Network(_))) {
                context.restoring.set(false);
            }
            context.sync();
        });
    }
}

/// Shows `children` while a session exists; while the page restores its session, a short notice;
/// otherwise redirects to `login_path?next=<this page>`.
#[component]
pub fn RequireSession(
    /// The login page.
    #[prop(into)]
    login_path: String,
    /// What to show while logged in.
    children: ChildrenFn,
) -> impl IntoView {
    let presence = expect_context::<SessionPresence>();
    let location = use_location();
    let to_login = move || {
        let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
        let next = String::from(js_sys::encode_uri_component(&here));
        format!("{login_path}?next={next}")
    };
    let signed_out = move || {
        if presence.restoring.get() {
            view! { <p class="muted" id="restoring">"Restoring your session…"</p> }.into_any()
        } else {
            view! { <Redirect path=to_login() /> }.into_any()
        }
    };
    view! {
        <Show when=move || presence.logged_in.get() fallback=signed_out>
            {children()}
        </Show>
    }
}
