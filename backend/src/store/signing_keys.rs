//! Access-token signing keys, kept in the database so every instance signs and verifies with one set.

use sqlx::AnyConnection;

use crate::clock::Millis;

use super::{Store, StoreError};

/// One key as stored. `private_key` is base64 PKCS#8, `public_key` the base64url Ed25519 point.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) kid: String,
    pub(crate) algorithm: String,
    pub(crate) private_key: String,
    pub(crate) public_key: String,
    pub(crate) created_at: Millis,
    pub(crate) activates_at: Millis,
    pub(crate) retires_at: Option<Millis>,
}

const VALID_KEYS: &str = "SELECT kid, algorithm, private_key, public_key, created_at, activates_at, retires_at
     FROM signing_keys WHERE retires_at IS NULL OR retires_at > $1 ORDER BY activates_at, kid";

impl Store {
    /// Every key not yet retired at `now`.
    pub(crate) async fn signing_keys(&self, now: Millis) -> Result<Vec<KeyRow>, StoreError> {
        Ok(sqlx::query_as(VALID_KEYS).bind(now).fetch_all(&self.pool).await?)
    }

    /// Adds `key`; when `only_if_none`, only into an empty table (the first start), so instances that
    /// start together cannot each add their own.
    pub(crate) async fn add_signing_key(&self, key: KeyRow, only_if_none: bool) -> Result<bool, StoreError> {
        self.write(move |conn| Box::pin(async move { insert_key(conn, &key, only_if_none).await })).await
    }

    /// Adds `key` if `still_needed` says so of the keys not yet retired at `key.created_at`, read inside
    /// the same write (so instances that decide at once add one key between them).
    pub(crate) async fn add_signing_key_if(
        &self,
        key: KeyRow,
        still_needed: impl Fn(&[KeyRow]) -> bool + Send + 'static,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Box::pin(async move {
                let rows: Vec<KeyRow> = sqlx::query_as(VALID_KEYS).bind(key.created_at).fetch_all(&mut *conn).await?;
                if !still_needed(&rows) {
                    return Ok(false);
                }
                insert_key(conn, &key, false).await
            })
        })
        .await
    }

    /// Adds `successor` and gives every key that activated before it and has no end yet the end
    /// `retires_at` (its tokens are still accepted until then), in one transaction: a server that reloads
    /// the ring meanwhile sees both changes or neither, never the new key beside an old one without
    /// its end. Returns how many keys were given an end.
    pub(crate) async fn add_successor_key(&self, successor: KeyRow, retires_at: Millis) -> Result<u64, StoreError> {
        self.write(move |conn| {
            Box::pin(async move {
                let successor_activates_at = successor.activates_at;
                insert_key(conn, &successor, false).await?;
                let retired = sqlx::query(
                    "UPDATE signing_keys SET retires_at = $1 WHERE retires_at IS NULL AND activates_at < $2",
                )
                .bind(retires_at)
                .bind(successor_activates_at)
                .execute(&mut *conn)
                .await?;
                Ok(retired.rows_affected())
            })
        })
        .await
    }
}

/// Inserts `key`; when `only_if_none`, only into an empty table. True when it was inserted.
async fn insert_key(conn: &mut AnyConnection, key: &KeyRow, only_if_none: bool) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, activates_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE $7 = 0 OR NOT EXISTS (SELECT 1 FROM signing_keys)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_key)
    .bind(key.created_at)
    .bind(key.activates_at)
    .bind(i64::from(only_if_none))
    .execute(&mut *conn)
    .await?;
    Ok(added.rows_affected() == 1)
}

const ACTIVATE: &str = "UPDATE signing_keys SET activates_at = $1 WHERE kid = $2 AND activates_at > $1";

/// What signs once a revoked key stops.
#[derive(Debug)]
pub(crate) enum Replacement {
    /// Another key already signs.
    AlreadySigning,
    /// This standing-by key signs from `at`.
    Activate { kid: String, at: Millis },
    /// This new key.
    Add(KeyRow),
}

/// The servers' key settings, as the last one to start wrote them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct KeyPolicyRow {
    pub(crate) algorithm: String,
    pub(crate) activation_delay_ms: Millis,
    pub(crate) access_token_ttl_ms: Millis,
    pub(crate) leeway_ms: Millis,
    pub(crate) updated_at: Millis,
}

const PUT_KEY_POLICY: &str = "INSERT INTO key_policy
       (id, algorithm, activation_delay_ms, access_token_ttl_ms, leeway_ms, updated_at)
     VALUES (1, $1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET algorithm = $1, activation_delay_ms = $2, access_token_ttl_ms = $3,
       leeway_ms = $4, updated_at = $5";

impl Store {
    /// Every key row, retired ones not yet purged included, oldest first.
    pub(crate) async fn all_signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kid, algorithm, private_key, public_key, created_at, activates_at, retires_at
             FROM signing_keys ORDER BY activates_at, kid",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends `kid` at `now` (a compromised key): its tokens are refused from then on. The replacement
    /// (what signs now) and the successor (what signs once the remaining keys retire) land in the same
    /// transaction, so a server reloading meanwhile never finds the ring without a signing key. False
    /// (and nothing written) when no such key is still valid.
    pub(crate) async fn revoke_signing_key(
        &self,
        kid: &str,
        now: Millis,
        replacement: Replacement,
        successor: Option<KeyRow>,
    ) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let revoked = sqlx::query(
                    "UPDATE signing_keys SET retires_at = $1
                     WHERE kid = $2 AND (retires_at IS NULL OR retires_at > $1)",
                )
                .bind(now)
                .bind(kid)
                .execute(&mut *conn)
                .await?;
                if revoked.rows_affected() != 1 {
                    return Ok(false);
                }
                match replacement {
                    Replacement::AlreadySigning => {}
                    Replacement::Activate { kid, at } => {
                        sqlx::query(ACTIVATE).bind(at).bind(kid).execute(&mut *conn).await?;
                    }
                    Replacement::Add(key) => {
                        insert_key(conn, &key, false).await?;
                    }
                }
                if let Some(key) = successor {
                    insert_key(conn, &key, false).await?;
                }
                Ok(true)
            })
        })
        .await
    }

    /// Makes a standing-by key sign from `at`.
    pub(crate) async fn activate_signing_key(&self, kid: &str, at: Millis) -> Result<(), StoreError> {
        let kid = kid.to_owned();
        self.write(move |conn| {
            Box::pin(async move { sqlx::query(ACTIVATE).bind(at).bind(kid).execute(&mut *conn).await.map(drop) })
        })
        .await
    }

    pub(crate) async fn put_key_policy(&self, policy: KeyPolicyRow) -> Result<(), StoreError> {
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(PUT_KEY_POLICY)
                    .bind(policy.algorithm)
                    .bind(policy.activation_delay_ms)
                    .bind(policy.access_token_ttl_ms)
                    .bind(policy.leeway_ms)
                    .bind(policy.updated_at)
                    .execute(&mut *conn)
                    .await
                    .map(drop)
            })
        })
        .await
    }

    pub(crate) async fn key_policy(&self) -> Result<Option<KeyPolicyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT algorithm, activation_delay_ms, access_token_ttl_ms, leeway_ms, updated_at
             FROM key_policy WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}
