//! The home page: who is signed in, as the server rendered it, and server functions that call the
//! auth server with the request's token.

use leptos::prelude::*;
use silent_refresh::Presence;

use crate::session::SessionState;

/// `GET /api/me` at the auth server with this request's access token; the user's e-mail address.
/// Called through the crate's client: a 401 makes one session check shared by every call that got
/// one, and one retry.
#[server(prefix = "/fn", input = leptos::server_fn::codec::GetUrl, client = silent_refresh::hydrate::ServerFnClient)]
pub async fn whoami() -> Result<String, ServerFnError> {
    crate::server::whoami().await
}

#[component]
pub fn Home() -> impl IntoView {
    let state = expect_context::<SessionState>();
    // A page the server could not decide ("unknown": arrived from another site without the cookie,
    // or the auth server did not answer) asks again from the browser, where the cookie is sent.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if state.presence() == Presence::Unknown {
            leptos::task::spawn_local(async move {
                state.0.set(silent_refresh::hydrate::current_session().await);
            });
        }
    });
    move || match state.presence() {
        Presence::LoggedIn => {
            let name = state.0.with(|s| s.user_field("username").unwrap_or_default().to_owned());
            view! {
                <p id="greeting">"Signed in as " <strong id="user">{name}</strong></p>
                <ServerCalls />
                <LogoutButton />
            }
            .into_any()
        }
        Presence::LoggedOut => view! {
            <p id="greeting">"You are not signed in."</p>
            <a id="login-link" href="/login">"Log in"</a>
        }
        .into_any(),
        Presence::Unknown => view! { <p id="greeting">"Checking your session…"</p> }.into_any(),
    }
}

#[cfg(feature = "hydrate")]
fn session_checks() -> u32 {
    silent_refresh::hydrate::session_checks()
}

#[cfg(not(feature = "hydrate"))]
fn session_checks() -> u32 {
    0
}

/// One server-function call, and twenty at once (the layer refreshes once for all of them).
#[component]
fn ServerCalls() -> impl IntoView {
    let (result, set_result) = signal(String::new());
    let one = move |_| {
        leptos::task::spawn_local(async move {
            set_result.set(match whoami().await {
                Ok(email) => format!("server function: {email}"),
                Err(error) => format!("server function failed: {error}"),
            });
        });
    };
    let twenty = move |_| {
        leptos::task::spawn_local(async move {
            let answers = futures::future::join_all((0..20).map(|_| whoami())).await;
            let ok = answers.iter().filter(|answer| answer.is_ok()).count();
            let checks = session_checks();
            set_result.set(format!("{ok}/20 server calls answered; session checks so far: {checks}"));
        });
    };
    view! {
        <button id="whoami" on:click=one>"Who am I? (server function)"</button>
        <button id="twenty" on:click=twenty>"20 at once"</button>
        <p id="server-result">{result}</p>
    }
}

#[component]
fn LogoutButton() -> impl IntoView {
    let logout = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let _ = crate::session::browser::logout().await;
            crate::session::browser::go("/");
        });
    };
    view! { <button id="logout" on:click=logout>"Log out"</button> }
}
