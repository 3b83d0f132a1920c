//! The caller's profile from `/api/me`, plus logout buttons.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::auth::Me;
use shared::paths;
use silent_refresh::Request;

use crate::app::Services;
use crate::components::ErrorList;

#[component]
pub(crate) fn Profile() -> impl IntoView {
    let services = expect_context::<Services>();
    let profile = LocalResource::new(move || {
        let client = services.client();
        async move { client.fetch::<Me>(&Request::get(paths::ME)).await }
    });
    let logout = move |everywhere: bool| {
        let client = services.client();
        spawn_local(async move {
            if everywhere {
                client.logout_with(&Request::post(paths::LOGOUT_ALL)).await;
            } else {
                client.logout().await;
            }
        });
    };
    view! {
        <section class="card" id="profile">
            <h2>"Profile"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        profile.await.map(|me| view! {
                            <dl class="facts">
                                <dt>"Name"</dt><dd class="username">{me.user.username}</dd>
                                <dt>"Email"</dt><dd class="email">{me.user.email}</dd>
                                <dt>"Role"</dt><dd>{me.user.role}</dd>
                                <dt>"Session"</dt><dd class="mono">{me.session_id}</dd>
                            </dl>
                        })
                    })}
                </ErrorBoundary>
            </Suspense>
            <div class="actions">
                <button class="button" id="logout" on:click=move |_| logout(false)>"Log out"</button>
                <button class="button danger" id="logout-all" on:click=move |_| logout(true)>"Log out everywhere"</button>
            </div>
        </section>
    }
}
