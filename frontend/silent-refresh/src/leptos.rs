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

use crate::browser::{BrowserClient, Driver};
use crate::events::Counters;
use crate::protocol::Protocol;
use crate::session::Session;

/// How often the driver ticks.
const TICK: Duration = Duration::from_secs(1);

/// The client and its reactive state; `Copy`, handed down by context.
#[derive(Debug)]
pub struct RefreshContext<P: Protocol + 'static> {
    client: StoredValue<BrowserClient<P>, LocalStorage>,
    driver: StoredValue<Option<Driver>, LocalStorage>,
    /// The current session (`None` when logged out), kept in step with the client and other tabs.
    pub session: RwSignal<Option<Session<P::User>>, LocalStorage>,
    /// The client's counters, refreshed on every event and tick.
    pub counters: RwSignal<Counters, LocalStorage>,
}

impl<P: Protocol + 'static> Clone for RefreshContext<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Protocol + 'static> Copy for RefreshContext<P> {}

/// Whether anyone is logged in, without the protocol's types (what [`RequireSession`] reads).
#[derive(Debug, Clone, Copy)]
pub struct SessionPresence(pub Signal<bool>);

/// Puts `client` in context with its signals, and starts its [`Driver`] for as long as the current
/// owner lives.
pub fn provide_refresh_client<P: Protocol + 'static>(client: BrowserClient<P>) -> RefreshContext<P> {
    let context = RefreshContext {
        session: RwSignal::new_local(client.session()),
        counters: RwSignal::new_local(client.counters()),
        client: StoredValue::new_local(client.clone()),
        driver: StoredValue::new_local(None),
    };
    client.subscribe(move |_| context.sync());
    context.driver.set_value(Some(Driver::start(client, TICK, move || context.sync())));
    provide_context(context);
    provide_context(SessionPresence(Signal::derive(move || context.session.with(Option::is_some))));
    context
}

/// The context [`provide_refresh_client`] put up.
pub fn use_refresh_client<P: Protocol + 'static>() -> RefreshContext<P> {
    expect_context()
}

impl<P: Protocol + 'static> RefreshContext<P> {
    /// The client (a cheap handle).
    pub fn client(&self) -> BrowserClient<P> {
        self.client.get_value()
    }

    /// Re-reads the session and counters into the signals.
    pub fn sync(&self) {
        if let Some((session, counters)) = self.client.try_with_value(|c| (c.session(), c.counters())) {
            self.session.set(session);
            self.counters.set(counters);
        }
    }

    /// Turns refreshing ahead of expiry on or off.
    pub fn set_proactive(&self, on: bool) {
        self.driver.with_value(|driver| driver.as_ref().map(|d| d.set_proactive(on)));
    }
}

/// Shows `children` while a session exists; otherwise redirects to `login_path?next=<this page>`.
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
    view! {
        <Show when=move || presence.0.get() fallback=move || view! { <Redirect path=to_login() /> }>
            {children()}
        </Show>
    }
}
