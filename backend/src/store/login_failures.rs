//! Failed-login counters in fixed windows, shared by every instance through the database.

use super::{Store, StoreError};

/// Failures counted for one key in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FailureWindow {
    pub failures: i64,
    pub window_started_at: i64,
}

impl Store {
    pub async fn login_failures(&self, key: &str) -> Result<Option<FailureWindow>, StoreError> {
        Ok(sqlx::query_as("SELECT failures, window_started_at FROM login_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Counts one failure in one statement, starting a new window when the old one began before
    /// `window_cutoff`. Atomic, so concurrent failures on several instances are all counted.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        window_cutoff: i64,
    ) -> Result<FailureWindow, StoreError> {
        // SET expressions read the row as it was before the update, in SQLite and PostgreSQL alike.
        Ok(sqlx::query_as(
            "INSERT INTO login_failures (key, window_started_at, failures) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN login_failures.window_started_at <= $3 THEN 1
                               ELSE login_failures.failures + 1 END,
               window_started_at = CASE WHEN login_failures.window_started_at <= $3 THEN $2
                                        ELSE login_failures.window_started_at END
             RETURNING failures, window_started_at",
        )
        .bind(key)
        .bind(now)
        .bind(window_cutoff)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
