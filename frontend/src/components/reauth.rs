//! The password dialog for a request the server wants recent authentication for (RFC 9470): it asks
//! for the password, re-authenticates the same session, and runs the request again. Nothing refreshes
//! and nobody is logged out on the way.

use std::rc::Rc;

use leptos::prelude::*;
use silent_refresh::ClientError;

use crate::app::Services;

/// What a control that may be challenged needs: open the dialog, with what to run again after it.
#[derive(Clone, Copy)]
pub(crate) struct Reauth {
    open: RwSignal<bool>,
    retry: StoredValue<Option<Rc<dyn Fn()>>, LocalStorage>,
}

impl Reauth {
    /// Puts the dialog's state in context (once, for the dashboard).
    pub(crate) fn provide() -> Self {
        let reauth = Self { open: RwSignal::new(false), retry: StoredValue::new_local(None) };
        provide_context(reauth);
        reauth
    }

    /// When `result` is the step-up challenge, asks for the password and then runs `retry`.
    pub(crate) fn on_challenge<T>(&self, result: Option<&Result<T, ClientError>>, retry: impl Fn() + 'static) {
        if let Some(Err(ClientError::ReauthRequired { .. })) = result {
            self.retry.set_value(Some(Rc::new(retry)));
            self.open.set(true);
        }
    }
}

#[component]
pub(crate) fn ReauthDialog() -> impl IntoView {
    let services = expect_context::<Services>();
    let reauth = expect_context::<Reauth>();
    let password = RwSignal::new(String::new());
    let confirm = Action::new_unsync_local(move |password: &String| {
        let (client, password) = (services.client(), password.clone());
        async move { client.reauthenticate(&password).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = confirm.value().get() {
            reauth.open.set(false);
            password.set(String::new());
            if let Some(retry) = reauth.retry.get_value() {
                retry();
            }
        }
    });
    let cancel = move |_| {
        reauth.open.set(false);
        password.set(String::new());
        confirm.value().set(None);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        confirm.dispatch_local(password.get_untracked());
    };
    view! {
        <Show when=move || reauth.open.get()>
            <div class="dialog-backdrop">
                <section class="card dialog" id="reauth-dialog" role="dialog" aria-modal="true" aria-labelledby="reauth-title">
                    <h2 id="reauth-title">"Confirm it's you"</h2>
                    <p class="muted">"Enter your password again to do this. Your session goes on either way."</p>
                    <form class="form" on:submit=on_submit>
                        <label>"Password"
                            <input type="password" id="reauth-password" required autofocus bind:value=password autocomplete="current-password" /></label>
                        <div class="actions">
                            <button type="submit" class="button primary" id="reauth-confirm" disabled=move || confirm.pending().get()>"Confirm"</button>
                            <button type="button" class="button" id="reauth-cancel" on:click=cancel>"Cancel"</button>
                        </div>
                    </form>
                    {move || match confirm.value().get() {
                        Some(Err(e)) => Some(view! { <p class="error" role="alert" id="reauth-error">{e.to_string()}</p> }),
                        _ => None,
                    }}
                </section>
            </div>
        </Show>
    }
}
