//! The record of activity behind the idle timeout: when each session last made an authenticated
//! request. Every request of every session would otherwise be a write; here a busy session costs at
//! most one a second, and the writes of all sessions are gathered into one statement a tick, so ten
//! thousand clients waking together cost a few writes instead of ten thousand transactions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::Store;
use crate::clock::Millis;

/// Activity is written at most this often per session.
const TOUCH_EVERY_MS: Millis = 1_000;
/// How long activity may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Sessions per statement (two parameters each: well inside both engines' limits).
const CHUNK: usize = 500;

/// What this process knows of activity: when each session's was last recorded, and what waits to be
/// written.
#[derive(Debug, Default)]
pub(super) struct Activity {
    recorded: Mutex<HashMap<String, Millis>>,
    pending: Mutex<HashMap<String, Millis>>,
    closing: Notify,
    flusher: Mutex<Option<JoinHandle<()>>>,
    /// Held by a flush from taking the batch until its write commits: a reader that flushes first
    /// (the session list, the cap) must not find nothing pending while another flush's write of the
    /// same activity is still on its way, and read the rows without it.
    flushing: tokio::sync::Mutex<()>,
}

impl Activity {
    /// True when `session_id`'s activity should be recorded now; notes that it is.
    fn due(&self, session_id: &str, now: Millis) -> bool {
        let Ok(mut last) = self.recorded.lock() else { return true };
        if last.len() > 100_000 {
            // Forgetting costs at most one early write per session.
            last.retain(|_, at| now - *at < TOUCH_EVERY_MS);
        }
        match last.get(session_id) {
            Some(at) if now - at < TOUCH_EVERY_MS => false,
            _ => {
                last.insert(session_id.to_owned(), now);
                true
            }
        }
    }

    /// True when this instance recorded activity on `session_id` after `cutoff`, written or not: the
    /// session is then not idle, whatever its row says.
    pub(super) fn active_after(&self, session_id: &str, cutoff: Millis) -> bool {
        let Ok(recorded) = self.recorded.lock() else { return false };
        recorded.get(session_id).is_some_and(|at| *at > cutoff)
    }

    fn take_pending(&self) -> Vec<(String, Millis)> {
        let Ok(mut pending) = self.pending.lock() else { return Vec::new() };
        let mut batch: Vec<(String, Millis)> = pending.drain().collect();
        // One order for every writer, so two instances' batches lock rows the same way round.
        batch.sort_unstable();
        batch
    }
}

impl Store {
    /// Records activity on a session without waiting: it is written within [`FLUSH_EVERY`], together
    /// with every other session's.
    pub(crate) fn touch_session(&self, session_id: &str, now: Millis) {
        if !self.activity.due(session_id, now) {
            return;
        }
        if let Ok(mut pending) = self.activity.pending.lock() {
            let at = pending.entry(session_id.to_owned()).or_insert(now);
            *at = (*at).max(now);
        }
    }

    /// Starts the task that writes the gathered activity every tick. It ends when the store closes, or
    /// when it holds the last handle to the store (so a dropped store does not live on through it).
    pub(super) fn start_activity_flusher(&self) {
        let store = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let closing = tokio::select! {
                    () = tokio::time::sleep(FLUSH_EVERY) => false,
                    () = store.activity.closing.notified() => true,
                };
                store.flush_activity().await;
                if closing || Arc::strong_count(&store.activity) == 1 {
                    break;
                }
            }
        });
        if let Ok(mut flusher) = self.activity.flusher.lock() {
            *flusher = Some(task);
        }
    }

    /// Writes what is gathered, then stops the flusher (on shutdown: no recorded activity is lost).
    pub(super) async fn stop_activity_flusher(&self) {
        let task = self.activity.flusher.lock().ok().and_then(|mut flusher| flusher.take());
        if let Some(task) = task {
            self.activity.closing.notify_one();
            let _ = task.await;
        }
    }

    /// The idle cutoff to ask the database with for `session_id`: none when this instance has recorded
    /// activity after it that may not be written yet, since the session is then not idle whatever the
    /// row says.
    pub(super) fn idle_cutoff_for(&self, session_id: &str, cutoff: Option<Millis>) -> Option<Millis> {
        cutoff.filter(|cutoff| !self.activity.active_after(session_id, *cutoff))
    }

    /// Writes what is gathered now. Readers that judge idleness over many rows (the list, the cap)
    /// call it first, so what this instance knows is in the rows they read.
    pub(super) async fn flush_activity(&self) {
        let _turn = self.activity.flushing.lock().await;
        let batch = self.activity.take_pending();
        for chunk in batch.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            let written = self
                .write(move |conn| {
                    Box::pin(async move {
                        let rows = (0..chunk.len())
                            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let sql = format!(
                            "WITH activity (id, at) AS (VALUES {rows})
                             UPDATE sessions SET last_used_at = activity.at FROM activity
                             WHERE sessions.id = activity.id AND sessions.last_used_at < activity.at"
                        );
                        let mut query = sqlx::query(&sql);
                        for (id, at) in &chunk {
                            query = query.bind(id.as_str()).bind(*at);
                        }
                        query.execute(&mut *conn).await.map(drop)
                    })
                })
                .await;
            if let Err(error) = written {
                tracing::warn!(error = %crate::telemetry::error_chain(&error), "cannot record session activity");
            }
        }
    }
}
