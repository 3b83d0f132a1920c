//! The login form. It posts to the layer's `/session/login`, which logs in at the auth server and sets
//! the cookie; the home page is then rendered by the server with the session.

use leptos::prelude::*;

#[component]
pub fn Login() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let (error, set_error) = signal(String::new());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match crate::session::browser::login(&email.get_untracked(), &password.get_untracked()).await {
                Ok(_) => crate::session::browser::go("/"),
                Err(message) => set_error.set(message),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = set_error;
    };
    view! {
        <form id="login-form" on:submit=submit>
            <label>"E-mail" <input id="email" type="email" autocomplete="username" bind:value=email /></label>
            <label>"Password" <input id="password" type="password" autocomplete="current-password" bind:value=password /></label>
            <button id="login" type="submit">"Log in"</button>
            <p id="login-error" role="alert">{error}</p>
        </form>
    }
}
