//! The user's sessions, this device marked, each revocable (with a recent password: the dialog asks
//! when the server wants it), with the outcome of a revocation shown.

use leptos::prelude::*;
use shared::paths;
use shared::sessions::Session;
use silent_refresh::{ClientError, Request};

use super::{ErrorList, Reauth, countdown};
use crate::app::Services;

#[component]
pub(crate) fn SessionList() -> impl IntoView {
    let services = expect_context::<Services>();
    let sessions = LocalResource::new(move || {
        let client = services.client();
        async move { client.fetch::<Vec<Session>>(&Request::get(paths::SESSIONS)).await }
    });
    let last_revoked = StoredValue::new_local(String::new());
    let revoke = Action::new_unsync_local(move |id: &String| {
        last_revoked.set_value(id.clone());
        let (client, id) = (services.client(), id.clone());
        async move {
            let result = client.send(&Request::delete(paths::session(&id))).await.map(|_| ());
            sessions.refetch();
            result
        }
    });
    let reauth = expect_context::<Reauth>();
    Effect::new(move |_| {
        reauth.on_challenge(revoke.value().get().as_ref(), move || {
            revoke.dispatch_local(last_revoked.get_value());
        });
    });
    let outcome = move || {
        revoke.value().get().map(|result: Result<(), ClientError>| match result {
            Ok(()) => view! { <p class="info" id="revoke-result">"Session revoked."</p> }.into_any(),
            Err(e) => view! { <p class="error" id="revoke-result">{format!("Could not revoke: {e}")}</p> }.into_any(),
        })
    };
    view! {
        <section class="card wide" id="sessions">
            <div class="card-head">
                <h2>"Sessions"</h2>
                <button class="button small" on:click=move |_| sessions.refetch()>"Reload"</button>
            </div>
            {outcome}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        sessions.await.map(|list| view! {
                            <ul class="sessions">
                                {list.into_iter().map(|s| {
                                    let id = s.id.clone();
                                    let name = s.device_name.clone().unwrap_or_else(|| "Unnamed device".into());
                                    let expires = (s.expires_at * 1000) - services.now.get_untracked();
                                    view! {
                                        <li class:current=s.current>
                                            <div>
                                                <strong>{name}</strong>
                                                {s.current.then(|| view! { <span class="badge">"this device"</span> })}
                                                <div class="muted small">{format!("expires in {}", countdown(expires))}</div>
                                                <div class="muted small session-origin">
                                                    {format!("{} · {}{}",
                                                        s.ip.clone().unwrap_or_else(|| "unknown address".into()),
                                                        s.user_agent.clone().unwrap_or_else(|| "unknown browser".into()),
                                                        if s.remembered { "" } else { " · ends with the browser" })}
                                                </div>
                                            </div>
                                            <button class="button small danger" disabled=move || revoke.pending().get()
                                                on:click=move |_| { revoke.dispatch_local(id.clone()); }>"Revoke"</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
