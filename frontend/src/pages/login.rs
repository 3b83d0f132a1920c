//! `/login`: log in or create an account, then go back to `next`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::auth::{LoginRequest, RegisterRequest};

use crate::app::Services;
use crate::components::device;

#[component]
pub(crate) fn LoginPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let query = use_query_map();
    let next = move || safe_next(query.with(|q| q.get("next")).as_deref());
    // Kept in a Copy handle so the submit handler is Copy and can be re-created on every render.
    let navigate = StoredValue::new_local(use_navigate());

    let registering = RwSignal::new(false);
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let device_name = RwSignal::new(device::default_name());
    let error = RwSignal::new(None::<String>);
    let info = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        info.set(None);
        busy.set(true);
        let client = services.client();
        let target = next();
        spawn_local(async move {
            if registering.get_untracked() {
                let request = RegisterRequest {
                    username: username.get_untracked(),
                    email: email.get_untracked(),
                    password: password.get_untracked(),
                };
                if let Err(e) = client.register(&request).await {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                    return;
                }
                registering.set(false);
                info.set(Some("Account created. Logging you in…".into()));
            }
            let request = LoginRequest {
                email: email.get_untracked(),
                password: password.get_untracked(),
                app_id: Some("silent-refresh-demo".into()),
                device_id: Some(device::id()),
                device_name: Some(device_name.get_untracked()).filter(|n| !n.trim().is_empty()),
            };
            match client.login(&request).await {
                Ok(_) => {
                    services.sync();
                    navigate.with_value(|navigate| navigate(&target, NavigateOptions::default()));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };

    view! {
        <Show when=move || services.session.with(Option::is_none) fallback=move || view! { <Redirect path=next() /> }>
            <section class="card narrow">
                <h1>{move || if registering.get() { "Create an account" } else { "Log in" }}</h1>
                <p class="muted">"Try demo@example.com / demo-password."</p>
                <form class="form" on:submit=submit>
                    <Show when=move || registering.get()>
                        <label>"Name" <input name="username" required bind:value=username autocomplete="name" /></label>
                    </Show>
                    <label>"Email" <input name="email" type="email" required bind:value=email autocomplete="username" /></label>
                    <label>
                        "Password"
                        <input name="password" type="password" required minlength="8" maxlength="128" bind:value=password
                            autocomplete=move || if registering.get() { "new-password" } else { "current-password" } />
                    </label>
                    <label>"This device" <input name="device" bind:value=device_name /></label>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    {move || info.get().map(|i| view! { <p class="info">{i}</p> })}
                    <button type="submit" class="button primary" disabled=move || busy.get()>
                        {move || match (busy.get(), registering.get()) {
                            (true, _) => "Please wait…",
                            (false, true) => "Create account",
                            (false, false) => "Log in",
                        }}
                    </button>
                </form>
                <button class="link" on:click=move |_| registering.update(|r| *r = !*r)>
                    {move || if registering.get() { "I already have an account" } else { "Create an account instead" }}
                </button>
            </section>
        </Show>
    }
}

/// Only targets the browser resolves to this origin; anything else would be an open redirect.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(crate::client::browser::same_origin_target).unwrap_or_else(|| "/".into())
}
