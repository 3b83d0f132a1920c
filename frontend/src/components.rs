//! Dashboard building blocks.

use leptos::prelude::*;

mod account;
mod burst;
mod event_log;
mod live;
mod profile;
mod reauth;
mod session_list;
mod token_timers;
mod waterfall;

pub(crate) use account::AccountControls;
pub(crate) use burst::Burst;
pub(crate) use event_log::EventLog;
pub(crate) use live::Live;
pub(crate) use profile::Profile;
pub(crate) use reauth::{Reauth, ReauthDialog};
pub(crate) use session_list::SessionList;
pub(crate) use token_timers::TokenTimers;
pub(crate) use waterfall::Waterfall;

/// What an `ErrorBoundary` caught, one line per error.
#[component]
pub(crate) fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <ul class="errors">
            {move || errors.get().into_iter().map(|(_, e)| view! { <li class="error">{e.to_string()}</li> }).collect_view()}
        </ul>
    }
}

/// `95` → `1m 35s`; negative → `expired`.
pub(crate) fn countdown(ms: i64) -> String {
    if ms <= 0 {
        return "expired".into();
    }
    let secs = ms / 1000;
    match (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, 0, s) => format!("{s}s"),
        (0, 0, m, s) => format!("{m}m {s:02}s"),
        (0, h, m, _) => format!("{h}h {m:02}m"),
        (d, h, _, _) => format!("{d}d {h}h"),
    }
}
