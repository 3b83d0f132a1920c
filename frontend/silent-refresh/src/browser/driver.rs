//! What keeps a session fresh when the app does nothing: a tick, the wake-up events, and other tabs.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::callback::Interval;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::RefreshClient;
use crate::events::{ClientEvent, LogoutReason};
use crate::protocol::Protocol;

use super::{BrowserConfig, IdlePolicy};

/// Drives a client: every tick (1 s by default) and whenever the tab becomes visible again or the
/// browser comes back online, it refreshes if the token is due by the wall clock (a laptop waking from
/// sleep is caught at once); when another tab clears the stored session it ends it here too. `on_change`
/// runs after each of these, so a UI can re-read the session and counters. Everything stops when the
/// driver is dropped.
pub struct Driver {
    proactive: Rc<Cell<bool>>,
    _tick: Interval,
    _listeners: Vec<Listener>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("proactive", &self.proactive.get()).finish_non_exhaustive()
    }
}

struct Listener {
    target: web_sys::EventTarget,
    name: &'static str,
    closure: Closure<dyn Fn(web_sys::Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.name, self.closure.as_ref().unchecked_ref());
    }
}

impl Driver {
    /// Starts driving `client`, ticking every `tick`, with the default [`BrowserConfig`] (no idle
    /// policy); a client built with other settings is driven by [`BrowserConfig::start_driver`].
    pub fn start<P: Protocol + 'static>(
        client: RefreshClient<P>,
        tick: Duration,
        on_change: impl Fn() + 'static,
    ) -> Self {
        Self::start_with(client, &BrowserConfig::default(), tick, on_change)
    }

    pub(super) fn start_with<P: Protocol + 'static>(
        client: RefreshClient<P>,
        settings: &BrowserConfig,
        tick: Duration,
        on_change: impl Fn() + 'static,
    ) -> Self {
        let proactive = Rc::new(Cell::new(true));
        let on_change: Rc<dyn Fn()> = Rc::new(on_change);
        let idle = Rc::new(IdleWatch::new(settings.idle));
        let wake = {
            let (client, proactive, on_change) = (client.clone(), Rc::clone(&proactive), Rc::clone(&on_change));
            let idle = Rc::clone(&idle);
            Rc::new(move || {
                // The idle check runs whatever the switch says; a session in no use is not refreshed.
                let in_use = idle.check(&client);
                if in_use && proactive.get() {
                    let (client, on_change) = (client.clone(), Rc::clone(&on_change));
                    wasm_bindgen_futures::spawn_local(async move {
                        // Failures are events already; a request that needs a token refreshes itself.
                        let _ = client.refresh_if_due().await;
                        on_change();
                    });
                }
                on_change();
            })
        };
        let millis = u32::try_from(tick.as_millis()).unwrap_or(u32::MAX).max(1);
        let tick = Interval::new(millis, {
            let wake = Rc::clone(&wake);
            move || wake()
        });

        let mut listeners = Vec::new();
        if let Some(window) = web_sys::window() {
            if settings.idle.is_some() {
                for name in ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll"] {
                    let (idle, client) = (Rc::clone(&idle), client.clone());
                    listeners.extend(Listener::add(window.clone().into(), name, move |_| idle.input(&client)));
                }
            }
            for name in ["online", "focus"] {
                let wake = Rc::clone(&wake);
                listeners.extend(Listener::add(window.clone().into(), name, move |_| wake()));
            }
            if let Some(document) = window.document() {
                let wake = Rc::clone(&wake);
                listeners.extend(Listener::add(document.into(), "visibilitychange", move |_| wake()));
            }
            let key = settings.storage_key.clone();
            let storage_changed = {
                let (client, on_change) = (client.clone(), Rc::clone(&on_change));
                move |event: web_sys::Event| {
                    let Some(event) = event.dyn_ref::<web_sys::StorageEvent>() else { return };
                    if event.key().as_deref() != Some(key.as_str()) {
                        return;
                    }
                    if event.new_value().is_none() && event.old_value().is_some() {
                        client.session_ended_elsewhere();
                    }
                    on_change();
                }
            };
            listeners.extend(Listener::add(window.clone().into(), "storage", storage_changed));
            // Another tab changed the session of a `BroadcastStore`; `detail` says whether it ended it.
            let broadcast = move |event: web_sys::Event| {
                let ended = event.dyn_ref::<web_sys::CustomEvent>().is_some_and(|e| e.detail().as_bool() == Some(true));
                if ended {
                    client.session_ended_elsewhere();
                }
                on_change();
            };
            listeners.extend(Listener::add(window.into(), super::SESSION_CHANGED_EVENT, broadcast));
        }
        Self { proactive, _tick: tick, _listeners: listeners }
    }

    /// Turns refreshing ahead of expiry on or off (requests still refresh when they need to).
    pub fn set_proactive(&self, on: bool) {
        self.proactive.set(on);
    }

    /// Whether refreshing ahead of expiry is on.
    pub fn proactive(&self) -> bool {
        self.proactive.get()
    }
}

/// The idle policy's state: when the user last did something, and whether they were warned.
struct IdleWatch {
    policy: Option<IdlePolicy>,
    last_input: Cell<f64>,
    warned: Cell<bool>,
}

impl IdleWatch {
    fn new(policy: Option<IdlePolicy>) -> Self {
        Self { policy, last_input: Cell::new(js_sys::Date::now()), warned: Cell::new(false) }
    }

    /// Input: the user is here.
    fn input<P: Protocol + 'static>(&self, client: &RefreshClient<P>) {
        self.last_input.set(js_sys::Date::now());
        if self.warned.replace(false) {
            client.emit(ClientEvent::IdleWarningCleared);
        }
    }

    /// At a tick: warns, or ends the session, as the policy says. True while the session is in use (so
    /// proactive refresh goes on); always true without a policy. A hidden page has no input, so it
    /// grows idle too.
    fn check<P: Protocol + 'static>(&self, client: &RefreshClient<P>) -> bool {
        let Some(policy) = self.policy else { return true };
        if client.session().is_none() {
            self.last_input.set(js_sys::Date::now());
            self.warned.set(false);
            return true;
        }
        let quiet = (js_sys::Date::now() - self.last_input.get()).max(0.0) as u64;
        let after = u64::try_from(policy.after.as_millis()).unwrap_or(u64::MAX);
        let end = after.saturating_add(u64::try_from(policy.warning.as_millis()).unwrap_or(u64::MAX));
        if quiet >= end {
            self.warned.set(false);
            let client = client.clone();
            wasm_bindgen_futures::spawn_local(async move { client.logout_because(LogoutReason::Idle).await });
            return false;
        }
        if quiet >= after {
            if !self.warned.replace(true) {
                client.emit(ClientEvent::SessionEndingSoon { in_ms: end - quiet });
            }
            return false;
        }
        true
    }
}

impl Listener {
    fn add(
        target: web_sys::EventTarget,
        name: &'static str,
        handler: impl Fn(web_sys::Event) + 'static,
    ) -> Option<Self> {
        let closure = Closure::<dyn Fn(web_sys::Event)>::new(handler);
        target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref()).ok()?;
        Some(Self { target, name, closure })
    }
}
