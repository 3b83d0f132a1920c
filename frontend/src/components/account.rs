//! The user's controls over their account: change the password (which signs the other devices out)
//! and sign out the other devices. Both need a recent password: when the server asks, the password
//! dialog asks the user and runs them again.

use leptos::prelude::*;
use silent_refresh::ClientError;

use crate::app::Services;
use crate::components::Reauth;

#[component]
pub(crate) fn AccountControls() -> impl IntoView {
    let services = expect_context::<Services>();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = Action::new_unsync_local(move |(current, new): &(String, String)| {
        let (client, current, new) = (services.client(), current.clone(), new.clone());
        async move { client.change_password(&current, &new).await }
    });
    let others = Action::new_unsync_local(move |_: &()| {
        let client = services.client();
        async move { client.logout_others().await }
    });
    let reauth = expect_context::<Reauth>();
    Effect::new(move |_| {
        reauth.on_challenge(change.value().get().as_ref(), move || {
            change.dispatch_local((current.get_untracked(), new.get_untracked()));
        });
    });
    Effect::new(move |_| {
        reauth.on_challenge(others.value().get().as_ref(), move || {
            others.dispatch_local(());
        });
    });
    let outcome = move |result: Option<Result<u64, ClientError>>, done: &'static str| {
        result.map(|result| match result {
            Ok(n) => view! { <p class="info account-result">{format!("{done}; {n} other session(s) signed out.")}</p> }
                .into_any(),
            Err(e) => view! { <p class="error account-result" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        change.dispatch_local((current.get_untracked(), new.get_untracked()));
    };
    view! {
        <section class="card" id="account">
            <h2>"Account"</h2>
            <form class="form" on:submit=on_submit>
                <label>"Current password"
                    <input type="password" id="current-password" required bind:value=current autocomplete="current-password" /></label>
                <label>"New password"
                    <input type="password" id="new-password" required minlength="8" maxlength="128" bind:value=new autocomplete="new-password" /></label>
                <button type="submit" class="button" id="change-password" disabled=move || change.pending().get()>"Change password"</button>
            </form>
            {move || outcome(change.value().get(), "Password changed")}
            <div class="actions">
                <button class="button danger" id="logout-others" disabled=move || others.pending().get()
                    on:click=move |_| { others.dispatch_local(()); }>"Sign out other devices"</button>
            </div>
            {move || outcome(others.value().get(), "Done")}
        </section>
    }
}
