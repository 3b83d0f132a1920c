//! A token store for cookie mode: the session in this tab's memory only, shared with the app's other
//! tabs over a `BroadcastChannel`, so a token one tab refreshed serves every tab (N tabs, one refresh)
//! and a logout in one tab logs out all of them. Nothing is written to any storage area.

use std::cell::RefCell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::error::StorageError;
use crate::ports::TokenStore;
use crate::session::Session;

/// The DOM event this store dispatches on `window` when another tab changed the session; its `detail`
/// is `true` when the session was ended. [`Driver`](super::Driver) listens for it.
pub const SESSION_CHANGED_EVENT: &str = "silent-refresh:session-changed";

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Message<U> {
    Session { session: Session<U> },
    Cleared,
}

/// Memory plus a `BroadcastChannel`. Clones share one session and one channel.
#[derive(Debug)]
pub struct BroadcastStore<U> {
    inner: Rc<Inner<U>>,
}

impl<U> Clone for BroadcastStore<U> {
    fn clone(&self) -> Self {
        Self { inner: Rc::clone(&self.inner) }
    }
}

#[derive(Debug)]
struct Inner<U> {
    session: Rc<RefCell<Option<Session<U>>>>,
    channel: Option<web_sys::BroadcastChannel>,
    _on_message: Option<Closure<dyn Fn(web_sys::MessageEvent)>>,
}

impl<U> Drop for Inner<U> {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}

impl<U: Clone + Serialize + DeserializeOwned + 'static> BroadcastStore<U> {
    /// A store on the channel called `name` (every tab of an app must agree). Without
    /// `BroadcastChannel` it still works, for this tab alone.
    pub fn new(name: &str) -> Self {
        let session = Rc::new(RefCell::new(None));
        let channel = web_sys::BroadcastChannel::new(name).ok();
        let on_message = channel.as_ref().map(|channel| {
            let session = Rc::clone(&session);
            let closure = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else { return };
                let Ok(message) = serde_json::from_str::<Message<U>>(&text) else { return };
                apply(&session, message);
            });
            channel.set_onmessage(Some(closure.as_ref().unchecked_ref()));
            closure
        });
        Self { inner: Rc::new(Inner { session, channel, _on_message: on_message }) }
    }

    fn post(&self, message: &Message<U>) {
        if let (Some(channel), Ok(text)) = (&self.inner.channel, serde_json::to_string(message)) {
            let _ = channel.post_message(&text.into());
        }
    }
}

/// Takes another tab's news, and tells this tab's driver when it changed anything.
fn apply<U>(session: &RefCell<Option<Session<U>>>, message: Message<U>) {
    let ended = match message {
        Message::Session { session: newer } => {
            let changed = session.borrow().as_ref().is_none_or(|current| !current.same_tokens(&newer));
            if !changed {
                return;
            }
            *session.borrow_mut() = Some(newer);
            false
        }
        Message::Cleared => {
            if session.borrow_mut().take().is_none() {
                return;
            }
            true
        }
    };
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&ended.into());
    if let (Some(window), Ok(event)) =
        (web_sys::window(), web_sys::CustomEvent::new_with_event_init_dict(SESSION_CHANGED_EVENT, &init))
    {
        let _ = window.dispatch_event(&event);
    }
}

impl<U: Clone + Serialize + DeserializeOwned + 'static> TokenStore<U> for BroadcastStore<U> {
    fn load(&self) -> Option<Session<U>> {
        self.inner.session.borrow().clone()
    }

    fn save(&self, session: &Session<U>) -> Result<(), StorageError> {
        *self.inner.session.borrow_mut() = Some(session.clone());
        self.post(&Message::Session { session: session.clone() });
        Ok(())
    }

    fn clear(&self) {
        if self.inner.session.borrow_mut().take().is_some() {
            self.post(&Message::Cleared);
        }
    }
}
