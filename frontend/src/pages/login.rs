//! `/login`: log in or create an account, then go back to `next`.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::auth::{LoginRequest, RegisterRequest};
use shared::paths;
use silent_refresh::browser::same_origin_target;
use silent_refresh::{ClientError, Request};

use crate::app::{Client, Services};
use crate::device;

/// What the form submits.
#[derive(Debug, Clone)]
struct SignIn {
    register: Option<RegisterRequest>,
    login: LoginRequest,
}

/// Creates the account first when asked to, then logs in.
async fn sign_in(client: Client, form: SignIn) -> Result<(), ClientError> {
    let encode = |e: serde_json::Error| ClientError::InvalidRequest(e.to_string());
    if let Some(register) = &form.register {
        client.send_unauthenticated(&Request::post(paths::REGISTER).json(register).map_err(encode)?).await?;
    }
    client.login(&Request::post(paths::LOGIN).json(&form.login).map_err(encode)?).await?;
    Ok(())
}

#[component]
pub(crate) fn LoginPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let query = use_query_map();
    let next = move || safe_next(query.with(|q| q.get("next")).as_deref());
    let navigate = use_navigate();

    let registering = RwSignal::new(false);
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let device_name = RwSignal::new(device::default_name());
    let remember = RwSignal::new(true);

    let submit = Action::new_unsync_local(move |form: &SignIn| sign_in(services.client(), form.clone()));
    Effect::new(move || {
        if let Some(Ok(())) = submit.value().get() {
            navigate(&next(), NavigateOptions::default());
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let register = registering.get_untracked().then(|| RegisterRequest {
            username: username.get_untracked(),
            email: email.get_untracked(),
            password: password.get_untracked(),
        });
        let login = LoginRequest {
            email: email.get_untracked(),
            password: password.get_untracked(),
            app_id: Some("silent-refresh-demo".into()),
            device_id: Some(device::id()),
            device_name: Some(device_name.get_untracked()).filter(|n| !n.trim().is_empty()),
            remember: Some(remember.get_untracked()),
        };
        submit.dispatch_local(SignIn { register, login });
    };
    let busy = submit.pending();
    let error = move || submit.value().get().and_then(Result::err).map(|e| e.to_string());

    view! {
        <Show when=move || services.session.with(Option::is_none) fallback=move || view! { <Redirect path=next() /> }>
            <section class="card narrow">
                <h1>{move || if registering.get() { "Create an account" } else { "Log in" }}</h1>
                <p class="muted">"Try demo@example.com / demo-password."</p>
                <form class="form" on:submit=on_submit>
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
                    <label class="check">
                        <input type="checkbox" id="remember" bind:checked=remember />
                        " Remember me (otherwise the session ends with the browser, and within 12 hours)"
                    </label>
                    {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
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
                <A href="/forgot-password" attr:id="forgot-password">"Forgot password?"</A>
            </section>
        </Show>
    }
}

/// Only targets the browser resolves to this origin; anything else would be an open redirect.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(same_origin_target).unwrap_or_else(|| "/".into())
}
