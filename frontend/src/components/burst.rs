//! "Fire N concurrent requests": many protected calls at once, and how many refreshes they took.

use futures::future::join_all;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::demo::Echo;
use shared::paths;

use silent_refresh::{ClientError, Request};

use crate::app::Services;
use crate::components::Waterfall;

const CHOICES: [usize; 6] = [1, 5, 10, 20, 50, 100];
/// Each call waits this long server-side, so the burst overlaps any refresh it triggers.
const DELAY_MS: u32 = 150;

#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    /// Which burst this is, so a watcher can tell a new result from the previous one.
    run: u32,
    succeeded: usize,
    total: usize,
    refreshes: u32,
    first_error: Option<String>,
    /// From the first request out to the last answer in.
    elapsed_ms: u64,
}

#[component]
pub(crate) fn Burst() -> impl IntoView {
    let services = expect_context::<Services>();
    let count = RwSignal::new(20usize);
    let running = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);

    let fire = move |_| {
        let client = services.client();
        let total = count.get_untracked();
        running.set(true);
        services.timeline.set(Vec::new());
        spawn_local(async move {
            let started = js_sys::Date::now();
            let before = client.counters().refreshes;
            let request = Request::get(paths::DEMO_ECHO).query("delay_ms", DELAY_MS.to_string());
            let results: Vec<Result<Echo, ClientError>> = join_all((0..total).map(|_| client.fetch(&request))).await;
            let first_error = results.iter().find_map(|r| r.as_ref().err()).map(ToString::to_string);
            let run = outcome.with_untracked(|o| o.as_ref().map_or(1, |o| o.run + 1));
            outcome.set(Some(Outcome {
                run,
                succeeded: results.iter().filter(|r| r.is_ok()).count(),
                total,
                refreshes: client.counters().refreshes - before,
                first_error,
                elapsed_ms: (js_sys::Date::now() - started).max(0.0) as u64,
            }));
            running.set(false);
        });
    };

    view! {
        <section class="card" id="burst">
            <h2>"Concurrent requests"</h2>
            <p class="muted">"Many protected calls at once. After expiry they share a single refresh."</p>
            <div class="actions">
                <select id="burst-size" on:change=move |ev| count.set(event_target_value(&ev).parse().unwrap_or(20))>
                    {CHOICES.map(|n| view! { <option value=n.to_string() selected=n == 20>{n}</option> }).collect_view()}
                </select>
                <button class="button primary" id="fire" on:click=fire disabled=move || running.get()>
                    {move || format!("Fire {} concurrent requests", count.get())}
                </button>
            </div>
            {move || outcome.get().map(|o| {
                let class = if o.succeeded == o.total { "result ok" } else { "result failed" };
                let refreshes = if o.refreshes == 1 { "1 refresh".to_owned() } else { format!("{} refreshes", o.refreshes) };
                view! {
                    <p class=class id="burst-result" data-run=o.run>
                        <span id="burst-succeeded">{format!("{}/{}", o.succeeded, o.total)}</span>
                        " succeeded · "
                        <span id="burst-refreshes">{refreshes}</span>
                        " · "
                        <span id="burst-ms">{o.elapsed_ms}</span>
                        " ms"
                    </p>
                    {o.first_error.map(|e| view! { <p class="error" id="burst-error" role="alert">{e}</p> })}
                }
            })}
            <Waterfall />
        </section>
    }
}
