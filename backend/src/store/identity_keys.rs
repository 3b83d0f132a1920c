//! Identity keys for accounts made before the current rule: filled at start, oldest account first, and
//! the collisions that leaves listed for the operator.

use crate::clock::Millis;

use super::{Engine, Store, StoreError};

/// The key and skeleton of a stored address (`auth::identity::of_stored`).
pub(crate) type KeyOf = fn(&str) -> (String, String);

/// Accounts keyed per transaction: a crash loses at most one batch's work, which the next start redoes.
const BATCH: i64 = 500;

/// Any constant both engines agree on: it only keeps two PostgreSQL instances from keying at once.
const KEYING_LOCK: i64 = 0x6964_656e_7469_7479;

/// An account that shares its key or its skeleton with another.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Collision {
    pub(crate) shared: String,
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) created_at: Millis,
    /// The key (or skeleton) when this account holds it: a spelling that matches neither account's
    /// address exactly reaches the holder.
    pub(crate) claim: Option<String>,
}

impl Store {
    /// Keys every account keyed by a rule older than `rule`, oldest first, so where earlier accounts
    /// collide the oldest holds the key. Returns how many were keyed; logs progress on large tables.
    pub(crate) async fn key_accounts(&self, rule: i64, key_of: KeyOf) -> Result<u64, StoreError> {
        let engine = self.engine;
        // Claims of an earlier rule would decide who holds a key of this one.
        self.write(move |conn| {
            Box::pin(async move {
                lock_keying(engine, conn).await?;
                sqlx::query("UPDATE users SET email_claim = NULL, skeleton_claim = NULL WHERE identity_rule < $1")
                    .bind(rule)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        let mut keyed = 0u64;
        loop {
            let batch =
                self.write(move |conn| Box::pin(async move { key_batch(engine, conn, rule, key_of).await })).await?;
            keyed += batch;
            if batch < BATCH as u64 {
                return Ok(keyed);
            }
            tracing::info!(keyed, "keying accounts by the identity rule");
        }
    }

    /// Accounts sharing an identity key, then accounts sharing a look-alike skeleton, grouped, oldest
    /// first in each group.
    pub(crate) async fn identity_collisions(&self) -> Result<(Vec<Collision>, Vec<Collision>), StoreError> {
        let keys = "SELECT email_key AS shared, id, email, created_at, email_claim AS claim FROM users
                    WHERE email_key IN (SELECT email_key FROM users GROUP BY email_key HAVING COUNT(*) > 1)
                    ORDER BY email_key, created_at, id";
        let skeletons = "SELECT email_skeleton AS shared, id, email, created_at, skeleton_claim AS claim
                         FROM users WHERE email_skeleton IN
                           (SELECT email_skeleton FROM users GROUP BY email_skeleton HAVING COUNT(DISTINCT email_key) > 1)
                         ORDER BY email_skeleton, created_at, id";
        let keys = sqlx::query_as(keys).fetch_all(&self.pool).await?;
        let skeletons = sqlx::query_as(skeletons).fetch_all(&self.pool).await?;
        Ok((keys, skeletons))
    }
}

async fn lock_keying(engine: Engine, conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    if engine == Engine::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(KEYING_LOCK).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn key_batch(
    engine: Engine,
    conn: &mut sqlx::AnyConnection,
    rule: i64,
    key_of: KeyOf,
) -> Result<u64, sqlx::Error> {
    lock_keying(engine, conn).await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE identity_rule < $1 ORDER BY created_at, id LIMIT $2")
            .bind(rule)
            .bind(BATCH)
            .fetch_all(&mut *conn)
            .await?;
    for (id, email) in &rows {
        let (key, skeleton) = key_of(email);
        let (key_held, skeleton_held): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE email_claim = $1), (SELECT COUNT(*) FROM users WHERE skeleton_claim = $2)",
        )
        .bind(&key)
        .bind(&skeleton)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE users SET email_key = $1, email_skeleton = $2, email_claim = $3, skeleton_claim = $4, identity_rule = $5
             WHERE id = $6",
        )
        .bind(&key)
        .bind(&skeleton)
        .bind((key_held == 0).then_some(&key))
        .bind((skeleton_held == 0).then_some(&skeleton))
        .bind(rule)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}
