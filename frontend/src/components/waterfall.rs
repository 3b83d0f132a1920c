//! The last burst as a waterfall: one bar per request (sent, refused, waiting, replayed, done) and the
//! refresh bar they waited on, drawn from the client's events, so one refresh serving twenty requests
//! can be seen. Plain SVG.

use std::collections::BTreeMap;

use leptos::prelude::*;
use silent_refresh::ClientEvent;

use crate::app::{LoggedEvent, Services};

const WIDTH: f64 = 560.0;
const ROW: f64 = 9.0;
const LABEL: f64 = 70.0;

/// One request's moments, in ms since the burst started.
#[derive(Debug, Default, Clone)]
struct Lane {
    sent: Option<f64>,
    refused: Option<f64>,
    replayed: Option<f64>,
    done: Option<f64>,
    failed: bool,
}

/// Segments of one lane: (from, to, class).
fn segments(lane: &Lane, end: f64) -> Vec<(f64, f64, &'static str)> {
    let Some(sent) = lane.sent else { return Vec::new() };
    let finish = lane.done.unwrap_or(end);
    match (lane.refused, lane.replayed) {
        (Some(refused), Some(replayed)) => {
            vec![(sent, refused, "sent"), (refused, replayed, "waiting"), (replayed, finish, "replayed")]
        }
        (Some(refused), None) => vec![(sent, refused, "sent"), (refused, finish, "waiting")],
        _ => vec![(sent, finish, if lane.failed { "failed" } else { "sent" })],
    }
}

#[component]
pub(crate) fn Waterfall() -> impl IntoView {
    let services = expect_context::<Services>();
    let chart = move || {
        let timeline: Vec<LoggedEvent> = services.timeline.get();
        let start = timeline.first()?.at as f64;
        let end = timeline.last()?.at as f64;
        let mut lanes: BTreeMap<u64, Lane> = BTreeMap::new();
        let mut refreshes: Vec<(f64, Option<f64>)> = Vec::new();
        for LoggedEvent { at, event } in &timeline {
            let t = *at as f64 - start;
            match event {
                ClientEvent::RequestSent { id, replay: false } => lanes.entry(*id).or_default().sent = Some(t),
                ClientEvent::RequestSent { id, replay: true } => lanes.entry(*id).or_default().replayed = Some(t),
                ClientEvent::RequestAnswered { id, status } => {
                    let lane = lanes.entry(*id).or_default();
                    match status {
                        Some(401) if lane.replayed.is_none() => lane.refused = Some(t),
                        Some(_) => lane.done = Some(t),
                        None => {
                            lane.done = Some(t);
                            lane.failed = true;
                        }
                    }
                }
                ClientEvent::RefreshStarted { .. } => refreshes.push((t, None)),
                ClientEvent::RefreshSucceeded { .. } | ClientEvent::RefreshFailed { .. } => {
                    if let Some(open) = refreshes.iter_mut().rev().find(|r| r.1.is_none()) {
                        open.1 = Some(t);
                    }
                }
                _ => {}
            }
        }
        if lanes.is_empty() {
            return None;
        }
        let span = (end - start).max(1.0);
        let x = move |t: f64| LABEL + t / span * (WIDTH - LABEL);
        let rows = lanes.len() + refreshes.len();
        let height = (rows as f64 + 1.0) * ROW + 14.0;
        let refresh_bars = refreshes
            .iter()
            .enumerate()
            .map(|(i, (from, to))| {
                let y = i as f64 * ROW;
                let to = to.unwrap_or(span);
                view! {
                    <text x="0" y=y + ROW - 1.0 class="wf-label">"refresh"</text>
                    <rect x=x(*from) y=y width=(x(to) - x(*from)).max(1.0) height=ROW - 2.0 class="wf-refresh" />
                }
            })
            .collect_view();
        let offset = refreshes.len() as f64 * ROW;
        let request_bars = lanes
            .values()
            .enumerate()
            .map(|(i, lane)| {
                let y = offset + i as f64 * ROW;
                segments(lane, span).into_iter().map(|(from, to, class)| view! {
                <rect x=x(from) y=y width=(x(to) - x(from)).max(1.0) height=ROW - 2.0 class=format!("wf-{class}") />
            }).collect_view()
            })
            .collect_view();
        Some(view! {
            <svg id="waterfall" class="waterfall" viewBox=format!("0 0 {WIDTH} {height}") role="img"
                aria-label=format!("{} requests and {} refresh(es) over {:.0} ms", lanes.len(), refreshes.len(), span)>
                {refresh_bars}
                {request_bars}
                <text x=LABEL y=height - 2.0 class="wf-label">"0 ms"</text>
                <text x=WIDTH - 50.0 y=height - 2.0 class="wf-label">{format!("{span:.0} ms")}</text>
            </svg>
            <p class="muted legend">
                <span class="key wf-sent"></span>" sent "
                <span class="key wf-waiting"></span>" waiting for the refresh "
                <span class="key wf-replayed"></span>" replayed "
                <span class="key wf-refresh"></span>" refresh"
            </p>
        })
    };
    view! { {chart} }
}
