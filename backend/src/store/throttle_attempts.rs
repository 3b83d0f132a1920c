//! Attempt counters in fixed windows, shared by every instance through the database.
//!
//! Sign-ups are counted with [`Store::count_attempt`]: every one costs a hash, so every one counts.
//! Logins reserve a place with [`Store::reserve_attempt`] while their password is checked and settle
//! it with [`Store::settle_attempt`]: failures plus reservations never exceed the limit, and only a
//! failure stays counted.

use crate::clock::Millis;

use super::{Store, StoreError};

/// Attempts counted for one key in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct AttemptWindow {
    pub(crate) attempts: i64,
    pub(crate) window_started_at: Millis,
}

/// What asking for a place came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// A place is held until settled (or until the lease passes).
    Reserved,
    /// Failures and reservations fill the limit, but reservations may yet come back: ask again.
    Busy,
    /// Failures alone fill the limit of the window that started then.
    Refused { window_started_at: Millis },
}

/// How a reserved attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Counted as a failure.
    Failed,
    /// Given back, counting nothing.
    Returned,
    /// Given back, and the key's failures forgiven.
    Cleared,
}

/// A place for a new reservation: the window resets when it began at or before `$3`, and a lapsed
/// lease forgets the reservations. Failures plus live reservations must stay under `$4`. SET and WHERE
/// read the row as it was before the update, in SQLite and PostgreSQL alike, and PostgreSQL re-checks
/// the WHERE after waiting for a concurrent update of the row, so reservations never overshoot.
const RESERVE: &str = "UPDATE throttle_attempts SET
       attempts = CASE WHEN window_started_at <= $3 THEN 0 ELSE attempts END,
       window_started_at = CASE WHEN window_started_at <= $3 THEN $2 ELSE window_started_at END,
       in_flight = CASE WHEN lease_until <= $2 THEN 1 ELSE in_flight + 1 END,
       lease_until = $5
     WHERE key = $1
       AND (CASE WHEN window_started_at <= $3 THEN 0 ELSE attempts END)
         + (CASE WHEN lease_until <= $2 THEN 0 ELSE in_flight END) < $4
     RETURNING attempts, window_started_at";

const SETTLE: &str = "UPDATE throttle_attempts SET
       in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END,
       attempts = CASE WHEN $2 = 'failed' THEN attempts + 1 WHEN $2 = 'cleared' THEN 0 ELSE attempts END
     WHERE key = $1";

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

    /// Reserves a place for one attempt at `key` if failures plus reservations leave room under `max`
    /// in the window that began after `window_cutoff`; the reservation lapses at `lease_until`.
    pub(crate) async fn reserve_attempt(
        &self,
        key: &str,
        now: Millis,
        window_cutoff: Millis,
        max: i64,
        lease_until: Millis,
    ) -> Result<Reservation, StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                // On PostgreSQL the purge may delete a stale row between these statements (each sees the
                // latest commits): a row that vanished is inserted afresh, at most a few times.
                for _ in 0..3 {
                    sqlx::query(
                        "INSERT INTO throttle_attempts (key, window_started_at, attempts, in_flight, lease_until)
                         VALUES ($1, $2, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(&key)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    let reserved: Option<AttemptWindow> = sqlx::query_as(RESERVE)
                        .bind(&key)
                        .bind(now)
                        .bind(window_cutoff)
                        .bind(max)
                        .bind(lease_until)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if reserved.is_some() {
                        return Ok(Reservation::Reserved);
                    }
                    let window: Option<(i64, Millis)> =
                        sqlx::query_as("SELECT attempts, window_started_at FROM throttle_attempts WHERE key = $1")
                            .bind(&key)
                            .fetch_optional(&mut *conn)
                            .await?;
                    let Some((attempts, window_started_at)) = window else { continue };
                    let failures = if window_started_at <= window_cutoff { 0 } else { attempts };
                    return Ok(if failures >= max {
                        Reservation::Refused { window_started_at }
                    } else {
                        Reservation::Busy
                    });
                }
                // Purged under it three times running: let the caller wait and try again.
                Ok(Reservation::Busy)
            })
        })
        .await
    }

    /// Ends one reservation at `key` as `settlement` says.
    pub(crate) async fn settle_attempt(&self, key: &str, settlement: Settlement) -> Result<(), StoreError> {
        let key = key.to_owned();
        let settlement = match settlement {
            Settlement::Failed => "failed",
            Settlement::Returned => "returned",
            Settlement::Cleared => "cleared",
        };
        self.write(move |conn| {
            Box::pin(async move { sqlx::query(SETTLE).bind(key).bind(settlement).execute(&mut *conn).await.map(drop) })
        })
        .await
    }
}
