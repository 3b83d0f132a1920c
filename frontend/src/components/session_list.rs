//! The user's sessions, this device marked, each revocable.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::paths;
use shared::sessions::Session;

use super::countdown;
use crate::app::Services;
use crate::client::ApiRequest;

#[component]
pub(crate) fn SessionList() -> impl IntoView {
    let services = expect_context::<Services>();
    let sessions = LocalResource::new(move || {
        let client = services.client();
        async move { client.fetch::<Vec<Session>>(&ApiRequest::get(paths::SESSIONS)).await }
    });
    let revoke = move |id: String| {
        let client = services.client();
        spawn_local(async move {
            let _ = client.send(&ApiRequest::delete(paths::session(&id))).await;
            sessions.refetch();
        });
    };
    view! {
        <section class="card wide" id="sessions">
            <div class="card-head">
                <h2>"Sessions"</h2>
                <button class="button small" on:click=move |_| sessions.refetch()>"Reload"</button>
            </div>
            {move || match sessions.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) => view! {
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
                                    </div>
                                    <button class="button small danger" on:click=move |_| revoke(id.clone())>"Revoke"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}
