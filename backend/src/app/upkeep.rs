//! Background upkeep: deleting expired and revoked sessions and stale throttle counters, reading
//! the signing keys again, and counting live sessions for the metrics.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::auth::service::Auth;
use crate::auth::tokens::access::Signer;
use crate::telemetry::error_chain;

/// Purges every `period` until the returned task is aborted. Failures are logged and retried on the
/// next tick.
pub(super) fn purge(auth: Auth, period: Duration) -> JoinHandle<()> {
    every(period, period, move || {
        let auth = auth.clone();
        async move { purge_now(&auth).await }
    })
}

/// One purge, now. The server runs one before it accepts its first connection, so what a restart
/// answers never depends on whether the purge has run yet.
pub(super) async fn purge_now(auth: &Auth) {
    match auth.store.purge(auth.now(), auth.throttle.longest_window_ms()).await {
        Ok(0) => {}
        Ok(sessions) => tracing::info!(sessions, "purged ended sessions"),
        Err(error) => tracing::warn!(error = %error_chain(&error), "purge failed"),
    }
}

/// Reads the signing keys again every `period`, so a key another instance or `backend keys rotate`
/// added starts signing here on time. Does nothing with HS256.
pub(super) fn reload_keys(auth: Auth, period: Duration) -> JoinHandle<()> {
    let Signer::Ring(ring) = auth.access.signer().clone() else { return tokio::spawn(async {}) };
    // The ring was read at start-up; the first reload is one period later.
    every(period, period, move || {
        let (ring, now) = (ring.clone(), auth.now());
        async move {
            if let Err(error) = ring.reload(now).await {
                tracing::warn!(error = %error_chain(&error), "cannot reload the signing keys");
            }
        }
    })
}

/// Refreshes the live-sessions gauge every `period`.
pub(super) fn count_sessions(auth: Auth, period: Duration) -> JoinHandle<()> {
    every(Duration::ZERO, period, move || {
        let auth = auth.clone();
        async move {
            match auth.store.live_sessions(auth.liveness()).await {
                Ok(count) => auth.metrics.set_sessions_active(count),
                Err(error) => tracing::warn!(error = %error_chain(&error), "cannot count sessions"),
            }
        }
    })
}

/// Runs `task` after `first` and then every `period` until the returned handle is aborted; a tick that
/// comes late delays the next rather than bunching them up.
fn every<Fut>(first: Duration, period: Duration, mut task: impl FnMut() -> Fut + Send + 'static) -> JoinHandle<()>
where
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            task().await;
        }
    })
}
