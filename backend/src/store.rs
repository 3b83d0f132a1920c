//! Storage: users, sessions with their refresh-token chain, and throttle counters.
//!
//! One [`Store`] serves SQLite and PostgreSQL through sqlx's `Any` driver. The SQL is written once in the
//! dialect both engines share (`$n` parameters, `RETURNING`, `ON CONFLICT`); only the migrations and the
//! way a write transaction starts differ per engine (see ARCHITECTURE.md for why rotation cannot fork).

mod activity;
mod dpop_proofs;
mod identity_keys;
mod issuer;
mod password_resets;
mod revoke_reason;
mod rotation;
mod session_cache;
mod session_controls;
mod sessions;
mod signing_keys;
mod throttle_attempts;
mod token_hash;
mod users;
mod writer;

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool};

pub(crate) use identity_keys::Collision;
pub(crate) use issuer::IssuerRow;
pub(crate) use revoke_reason::RevokeReason;
pub(crate) use rotation::{Rejection, Rotation, RotationRequest};
pub(crate) use sessions::{Liveness, NewSession, SessionRecord};
pub(crate) use signing_keys::{KeyPolicyRow, KeyRow, Replacement};
pub(crate) use throttle_attempts::{Reservation, Settlement};
pub(crate) use token_hash::TokenHash;
pub(crate) use users::{NewUser, SignUp, UserRecord};

use crate::clock::Millis;
use crate::config::DatabaseTarget;

/// Connection pragmas for SQLite. WAL lets readers run beside the single writer; `synchronous = FULL`
/// makes every acknowledged rotation durable even across power loss, not only across `kill -9`.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("the write batch did not commit")]
    Commit(#[source] std::sync::Arc<sqlx::Error>),
    #[error("the write batch was aborted before it committed")]
    WriteAborted,
    #[error("the store is closed")]
    Closed,
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder")]
    Folder(#[source] std::io::Error),
    #[error("no randomness from the operating system")]
    Random(#[source] getrandom::Error),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(&'static str),
}

/// Pool sizing and waiting, and how long a confirmed live session is trusted without asking again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) session_cache_ttl: Duration,
}

/// A handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
    engine: Engine,
    sessions: std::sync::Arc<session_cache::SessionCache>,
    /// Session activity, gathered and written a tick at a time.
    activity: std::sync::Arc<activity::Activity>,
    /// SQLite's single writer; `None` on PostgreSQL, where row locks order the writers.
    writer: Option<writer::Writer>,
    last_ping: std::sync::Arc<LastPing>,
}

/// How long a successful ping stands for the database's health.
const PING_FRESH: Duration = Duration::from_secs(1);

/// When a ping last succeeded, in milliseconds after `since` (0: never).
#[derive(Debug)]
struct LastPing {
    since: std::time::Instant,
    at_ms: std::sync::atomic::AtomicU64,
}

impl Default for LastPing {
    fn default() -> Self {
        Self { since: std::time::Instant::now(), at_ms: std::sync::atomic::AtomicU64::new(0) }
    }
}

impl LastPing {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn is_fresh(&self) -> bool {
        let at = self.at_ms.load(std::sync::atomic::Ordering::Relaxed);
        at != 0 && self.elapsed_ms().saturating_sub(at) < u64::try_from(PING_FRESH.as_millis()).unwrap_or(u64::MAX)
    }

    fn succeeded(&self) {
        self.at_ms.store(self.elapsed_ms(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Store {
    /// Connects, creating a SQLite file and its folder if needed, and runs the embedded migrations.
    pub(crate) async fn connect(target: &DatabaseTarget, settings: PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let options =
            AnyPoolOptions::new().max_connections(settings.max_connections).acquire_timeout(settings.acquire_timeout);
        let store = match target {
            DatabaseTarget::Sqlite { url, path } => {
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(StoreError::Folder)?;
                }
                let pool = options
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::Executor::execute(conn, SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                (pool, Engine::Sqlite)
            }
            DatabaseTarget::Postgres { url } => (options.connect(url).await?, Engine::Postgres),
        };
        let ttl_ms = crate::clock::millis(settings.session_cache_ttl);
        let (pool, engine) = store;
        let sessions = std::sync::Arc::new(session_cache::SessionCache::new(ttl_ms));
        let mut store =
            Self { pool, engine, sessions, activity: Default::default(), writer: None, last_ping: Default::default() };
        store.migrate().await?;
        if engine == Engine::Sqlite {
            store.writer = Some(writer::Writer::start(&store.pool).await?);
        }
        store.start_activity_flusher();
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Runs `work` as (part of) one write transaction: on SQLite through the single writer, batched
    /// with whatever else is waiting; on PostgreSQL in a transaction of its own, where the statements'
    /// row locks order concurrent writers. `work` sees the database as it is inside the transaction.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, sqlx::Error>> + Send + 'static,
    {
        if let Some(writer) = &self.writer {
            return writer.run(work).await;
        }
        let mut tx = self.pool.begin().await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// (connections open, of which idle), for the metrics.
    pub(crate) fn pool_state(&self) -> (u32, u32) {
        (self.pool.size(), u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX))
    }

    /// Sessions live at `live.now`: neither revoked, expired nor idle.
    pub(crate) async fn live_sessions(&self, live: Liveness) -> Result<i64, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as(concat!("SELECT COUNT(*) FROM sessions WHERE ", sessions::live_session!("", "$1", "$2")))
                .bind(live.now)
                .bind(live.idle_cutoff)
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    /// Round-trips to the database, for the health probe, at most once per [`PING_FRESH`]: a success
    /// that recent answers at once, so a flood of health checks costs the database nothing.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        if self.last_ping.is_fresh() {
            return Ok(());
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        self.last_ping.succeeded();
        Ok(())
    }

    /// Deletes expired and revoked sessions (their retired tokens go with them), throttle counters
    /// whose window started more than `throttle_window_ms` ago, and signing keys past retirement (no
    /// token they signed is accepted any more, so their private halves are only a liability).
    pub(crate) async fn purge(&self, now: Millis, throttle_window_ms: Millis) -> Result<u64, StoreError> {
        self.write(move |conn| {
            Box::pin(async move {
                let sessions = sqlx::query("DELETE FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1")
                    .bind(now)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM throttle_attempts WHERE window_started_at <= $1")
                    .bind(now - throttle_window_ms)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM password_resets WHERE used_at IS NOT NULL OR expires_at <= $1")
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM dpop_proofs WHERE forget_at <= $1").bind(now).execute(&mut *conn).await?;
                sqlx::query("DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= $1")
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(sessions)
            })
        })
        .await
    }

    /// Writes the gathered activity, lets queued writes commit, then closes every connection (tests
    /// that restart a server on the same file call this first).
    pub(crate) async fn close(&self) {
        self.stop_activity_flusher().await;
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|e| e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// Every migration, normalised: white space folded (column alignment differs), and PostgreSQL's `BIGINT` read as SQLite's
    /// `INTEGER` (the one difference the two folders are allowed).
    fn migrations(engine: &str) -> BTreeMap<String, String> {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
        std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let sql = std::fs::read_to_string(&path).unwrap().replace("BIGINT", "INTEGER");
                let folded = sql.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",");
                (path.file_name().unwrap().to_string_lossy().into_owned(), folded)
            })
            .collect()
    }

    #[test]
    fn both_engines_get_the_same_schema() {
        let (sqlite, postgres) = (migrations("sqlite"), migrations("postgres"));
        assert_eq!(sqlite.keys().collect::<Vec<_>>(), postgres.keys().collect::<Vec<_>>(), "same migrations");
        for (name, sql) in &sqlite {
            assert_eq!(sql, &postgres[name], "{name} differs beyond INTEGER/BIGINT");
        }
    }
}
