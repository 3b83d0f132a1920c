//! Live countdowns of both tokens, the proactive-refresh switch and "expire my access token".

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::demo::ExpiredToken;
use shared::paths;
use silent_refresh::{Request, Session};

use super::countdown;
use crate::app::{Account, Services};

#[component]
pub(crate) fn TokenTimers() -> impl IntoView {
    let services = expect_context::<Services>();
    let margin = services.client().config().refresh_margin;
    let left = move |pick: fn(&Session<Account>, &silent_refresh::RefreshMargin) -> i64| {
        move || {
            let now = services.now.get();
            services.session.with(|s| s.as_ref().map(|s| countdown(pick(s, &margin) - now))).unwrap_or_default()
        }
    };
    let notice = RwSignal::new(None::<String>);
    let thumbprint = services.client().dpop_thumbprint();
    let expire = move |_| {
        let client = services.client();
        spawn_local(async move {
            match client.fetch::<ExpiredToken>(&Request::post(paths::DEMO_EXPIRED_TOKEN)).await {
                Ok(expired) => match install_access_token(&client, expired.access_token) {
                    Ok(()) => {
                        notice.set(Some("Your next request carries an expired token; watch the log.".into()));
                    }
                    Err(e) => notice.set(Some(e)),
                },
                Err(e) => notice.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <section class="card" id="tokens">
            <h2>"Tokens"</h2>
            <dl class="facts">
                <dt>"Access token expires in"</dt><dd id="access-countdown">{left(|s, _| s.access_expires_at)}</dd>
                <dt>"Refresh due in"</dt><dd>{left(|s, margin| s.refresh_due_at(margin))}</dd>
                <dt>"Session expires in"</dt><dd id="refresh-countdown">{left(|s, _| s.refresh_expires_at.unwrap_or(s.access_expires_at))}</dd>
                <dt>"Access token"</dt>
                <dd class="mono token" id="access-token">
                    {move || services.session.with(|s| s.as_ref().map(|s| abbreviate(&s.access_token))).unwrap_or_default()}
                </dd>
                <dt>"Refreshes in this tab"</dt><dd id="refresh-count">{move || services.counters.get().refreshes}</dd>
                <dt>"DPoP key (thumbprint)"</dt>
                <dd class="mono" id="dpop-key">{thumbprint.unwrap_or_else(|| "none: Bearer tokens".into())}</dd>
                <dt>"Token bound to (cnf.jkt)"</dt>
                <dd class="mono" id="token-cnf">
                    {move || services.session.with(|s| s.as_ref().map(|s| bound_to(&s.access_token))).unwrap_or_default()}
                </dd>
            </dl>
            <label class="switch">
                <input type="checkbox" id="proactive" prop:checked=move || services.proactive.get()
                    on:change=move |ev| services.set_proactive(event_target_checked(&ev)) />
                " Refresh ahead of expiry"
            </label>
            <div class="actions">
                <button class="button" id="expire" on:click=expire>"Expire my access token"</button>
            </div>
            {move || notice.get().map(|n| view! { <p class="info">{n}</p> })}
        </section>
    }
}

/// The demo's "expire my token": the stored session keeps everything but its access token, so the
/// next request carries an expired one and takes the 401 path. The app does this through the store,
/// as any user of the client could; the client itself has no such hook.
fn install_access_token(client: &crate::app::Client, token: String) -> Result<(), String> {
    let store = client.store();
    let mut session = store.load().ok_or("not logged in")?;
    session.access_token = token;
    store.save(&session).map_err(|e| e.to_string())
}

/// The `cnf.jkt` of an access token (a JWT), or what stands in for it.
fn bound_to(token: &str) -> String {
    let claims = token.split('.').nth(1).and_then(|part| {
        let mut base64 = part.replace('-', "+").replace('_', "/");
        while base64.len() % 4 != 0 {
            base64.push('=');
        }
        let text = web_sys::window()?.atob(&base64).ok()?;
        serde_json::from_str::<serde_json::Value>(&text).ok()
    });
    match claims {
        Some(claims) => claims["cnf"]["jkt"].as_str().map_or_else(|| "not bound (Bearer)".into(), str::to_owned),
        None => "not a JWT".into(),
    }
}

/// The first and last characters: enough to see a rotation happen, without showing the token.
fn abbreviate(token: &str) -> String {
    match (token.get(..10), token.len().checked_sub(8).and_then(|start| token.get(start..))) {
        (Some(head), Some(tail)) if token.len() > 24 => format!("{head}…{tail}"),
        _ => token.to_owned(),
    }
}
