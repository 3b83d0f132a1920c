//! Attempt counters in fixed windows, shared by every instance through the database.

use crate::clock::Millis;

use super::{Store, StoreError};

/// Attempts counted for one key in its current window, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct AttemptWindow {
    pub(crate) attempts: i64,
    pub(crate) window_started_at: Millis,
}

impl Store {
    /// Counts one attempt in one statement and returns the count including it, starting a new window
    /// when the old one began at or before `window_cutoff`. The statement is atomic on both engines, so
    /// N concurrent callers (on any number of instances) see the counts 1..=N, each exactly once.
    pub(crate) async fn count_attempt(
        &self,
        key: &str,
        now: Millis,
        window_cutoff: Millis,
    ) -> Result<AttemptWindow, StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                // SET expressions read the row as it was before the update, in SQLite and PostgreSQL alike.
                sqlx::query_as(
                    "INSERT INTO throttle_attempts (key, window_started_at, attempts) VALUES ($1, $2, 1)
                     ON CONFLICT (key) DO UPDATE SET
                       attempts = CASE WHEN throttle_attempts.window_started_at <= $3 THEN 1
                                       ELSE throttle_attempts.attempts + 1 END,
                       window_started_at = CASE WHEN throttle_attempts.window_started_at <= $3 THEN $2
                                                ELSE throttle_attempts.window_started_at END
                     RETURNING attempts, window_started_at",
                )
                .bind(key)
                .bind(now)
                .bind(window_cutoff)
                .fetch_one(&mut *conn)
                .await
            })
        })
        .await
    }

    /// Hands one attempt back, if its window is still the current one.
    pub(crate) async fn uncount_attempt(&self, key: &str, window: AttemptWindow) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE throttle_attempts SET attempts = attempts - 1
                     WHERE key = $1 AND window_started_at = $2 AND attempts > 0",
                )
                .bind(key)
                .bind(window.window_started_at)
                .execute(&mut *conn)
                .await
                .map(drop)
            })
        })
        .await
    }

    pub(crate) async fn clear_attempts(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM throttle_attempts WHERE key = $1")
                    .bind(key)
                    .execute(&mut *conn)
                    .await
                    .map(drop)
            })
        })
        .await
    }
}
