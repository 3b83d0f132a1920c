//! `/forgot-password` asks for a reset link by mail; `/reset-password` opens from that link, reads the
//! token from the fragment (which no server ever sees) and sets the new password.

use leptos::prelude::*;
use leptos_router::components::A;
use shared::auth::{PasswordResetConfirm, PasswordResetRequest};
use shared::paths;
use silent_refresh::{ClientError, Request};

use crate::app::Services;

/// Sends `body` to `path` without a token, and reads nothing back but success or the error.
async fn post<B: serde::Serialize>(services: Services, path: &'static str, body: B) -> Result<(), ClientError> {
    let request = Request::post(path).json(&body).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
    services.client().send_unauthenticated(&request).await.map(drop)
}

#[component]
pub(crate) fn ForgotPasswordPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let email = RwSignal::new(String::new());
    let send = Action::new_unsync_local(move |email: &String| {
        post(services, paths::PASSWORD_RESET_REQUEST, PasswordResetRequest { email: email.clone() })
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send.dispatch_local(email.get_untracked());
    };
    view! {
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            <p class="muted">"We will mail a link to choose a new one. It works once, for 30 minutes."</p>
            <form class="form" on:submit=on_submit>
                <label>"Email" <input name="email" type="email" required bind:value=email autocomplete="username" /></label>
                <button type="submit" class="button primary" id="send-reset" disabled=move || send.pending().get()>"Send the link"</button>
            </form>
            {move || send.value().get().map(|result| match result {
                Ok(()) => view! { <p class="info" id="reset-sent">"If an account has this address, a link is on its way. Check your mail."</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
            <A href="/login">"Back to log in"</A>
        </section>
    }
}

/// The token in the page's fragment (`#token=…`), once; the fragment is then removed from the address
/// bar and the history, so the token is not left behind for the next person at this screen.
fn take_token() -> String {
    let Some(window) = web_sys::window() else { return String::new() };
    let hash = window.location().hash().unwrap_or_default();
    let token =
        hash.trim_start_matches('#').split('&').find_map(|pair| pair.strip_prefix("token=")).unwrap_or_default();
    if !token.is_empty()
        && let Ok(history) = window.history()
    {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/reset-password"));
    }
    token.to_owned()
}

#[component]
pub(crate) fn ResetPasswordPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let token = StoredValue::new(take_token());
    let password = RwSignal::new(String::new());
    let confirm = Action::new_unsync_local(move |new_password: &String| {
        let body = PasswordResetConfirm { token: token.get_value(), new_password: new_password.clone() };
        post(services, paths::PASSWORD_RESET_CONFIRM, body)
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        confirm.dispatch_local(password.get_untracked());
    };
    view! {
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <Show when=move || !token.with_value(String::is_empty) fallback=|| view! {
                <p class="error" role="alert">"This page needs the link from the reset mail."</p>
                <A href="/forgot-password">"Ask for a new link"</A>
            }>
                <Show when=move || !matches!(confirm.value().get(), Some(Ok(()))) fallback=|| view! {
                    <p class="info" id="reset-done">"Your password is changed, and every device was signed out."</p>
                    <A href="/login">"Log in"</A>
                }>
                    <form class="form" on:submit=on_submit>
                        <label>"New password"
                            <input type="password" id="reset-new-password" required minlength="8" maxlength="128" bind:value=password autocomplete="new-password" /></label>
                        <button type="submit" class="button primary" id="reset-confirm" disabled=move || confirm.pending().get()>"Set the password"</button>
                    </form>
                    {move || match confirm.value().get() {
                        Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }),
                        _ => None,
                    }}
                </Show>
            </Show>
        </section>
    }
}
