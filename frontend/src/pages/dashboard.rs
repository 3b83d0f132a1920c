//! `/`: the protected dashboard.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::app::Services;
use crate::components::{Burst, EventLog, Profile, SessionList, TokenTimers};

#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    let services = expect_context::<Services>();
    let location = use_location();
    // Where to come back to after logging in again.
    let to_login = move || {
        let here = location.pathname.get_untracked();
        format!("/login?next={}", String::from(js_sys::encode_uri_component(&here)))
    };
    view! {
        <Show when=move || services.session.with(Option::is_some) fallback=move || view! { <Redirect path=to_login() /> }>
            <div class="grid">
                <Profile />
                <TokenTimers />
                <Burst />
                <SessionList />
                <EventLog />
            </div>
        </Show>
    }
}
