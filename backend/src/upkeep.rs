//! Background upkeep: deleting expired and revoked sessions and stale throttle counters, reading
//! the signing keys again, and counting live sessions for the metrics.

use std::time::Duration;

use crate::state::AppState;

/// Runs until the returned task is aborted. Failures are logged and retried on the next tick.
pub(crate) fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match state.store.purge(state.now(), state.throttle.longest_window_ms()).await {
                Ok(0) => {}
                Ok(sessions) => tracing::info!(sessions, "purged ended sessions"),
                Err(error) => tracing::warn!(error = %crate::error_chain(&error), "purge failed"),
            }
        }
    })
}

/// Reads the signing keys again every `every`, so a key another instance or `backend keys rotate`
/// added starts signing here on time. Does nothing with HS256.
pub(crate) fn reload_keys(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let crate::tokens::Signer::EdDsa(ring) = state.access.signer().clone() else { return };
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = ring.reload(state.now()).await {
                tracing::warn!(error = %crate::error_chain(&error), "cannot reload the signing keys");
            }
        }
    })
}

/// Refreshes the live-sessions gauge every `every`.
pub(crate) fn count_sessions(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match state.store.live_sessions(state.now()).await {
                Ok(count) => state.metrics.set_sessions_active(count),
                Err(error) => tracing::warn!(error = %crate::error_chain(&error), "cannot count sessions"),
            }
        }
    })
}
