//! Sessions and their refresh-token chain: creation, atomic rotation, revocation and listing.

use sqlx::Any;

use super::{Store, StoreError, UserRecord};
use crate::tokens::TokenHash;

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub app_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
}

const SESSION_COLUMNS: &str = "id, user_id, device_id, device_name, app_id, created_at, last_used_at, expires_at";

#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub user_id: &'a str,
    pub device_id: Option<&'a str>,
    pub device_name: Option<&'a str>,
    pub app_id: Option<&'a str>,
    pub refresh_hash: &'a TokenHash,
    pub now: i64,
    pub expires_at: i64,
    pub max_expires_at: i64,
}

/// One refresh attempt, with everything the rules need to decide it.
#[derive(Debug, Clone, Copy)]
pub struct RotationRequest<'a> {
    pub presented: &'a TokenHash,
    /// Hash of the successor derived from the presented token.
    pub successor: &'a TokenHash,
    pub now: i64,
    /// `Some(ttl)` slides expiry to `now + ttl` (capped by the session's maximum); `None` keeps it.
    pub sliding_ttl_ms: Option<i64>,
    /// How long after a rotation the previous token is still honoured; 0 disables.
    pub grace_ms: i64,
}

/// What a refresh attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was live; its successor is now the live token.
    Rotated(SessionRecord),
    /// The presented token was rotated moments ago; the caller gets the same successor again.
    Grace(SessionRecord),
    /// A retired token came back: the session has been revoked.
    Reused {
        session_id: String,
    },
    Rejected(Rejection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Expired,
    Revoked,
}

/// The chain columns read when a rotation did not apply, to say why.
#[derive(Debug, sqlx::FromRow)]
struct ChainRow {
    #[sqlx(flatten)]
    session: SessionRecord,
    current_hash: String,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl Store {
    /// Creates a session. A login from a device that already has a session replaces only that device's
    /// session, in the same transaction, so the user's other devices stay logged in.
    pub async fn create_session(&self, new: NewSession<'_>) -> Result<SessionRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(device_id) = new.device_id {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = 'replaced'
                 WHERE user_id = $2 AND device_id = $3 AND revoked_at IS NULL",
            )
            .bind(new.now)
            .bind(new.user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        }
        let session = sqlx::query_as::<_, SessionRecord>(&format!(
            "INSERT INTO sessions (id, user_id, device_id, device_name, app_id, created_at, last_used_at,
                                   expires_at, max_expires_at, current_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) RETURNING {SESSION_COLUMNS}"
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.user_id)
        .bind(new.device_id)
        .bind(new.device_name)
        .bind(new.app_id)
        .bind(new.now)
        .bind(new.expires_at)
        .bind(new.max_expires_at)
        .bind(new.refresh_hash.as_str())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if new.device_id.is_some() {
            // The device's previous session was replaced.
            self.sessions.evict_user(new.user_id);
        }
        Ok(session)
    }

    /// Applies the rotation rules in one write transaction.
    ///
    /// The conditional `UPDATE … WHERE current_hash = presented` is the whole race: of any number of
    /// concurrent callers (on any number of instances) exactly one matches the row, and the rest see the
    /// token already retired and fall through to the grace or reuse rules.
    pub async fn rotate(&self, request: RotationRequest<'_>) -> Result<Rotation, StoreError> {
        let mut tx = self.begin_write().await?;
        let expiry = match request.sliding_ttl_ms {
            Some(_) => "CASE WHEN max_expires_at < $4 THEN max_expires_at ELSE $4 END",
            None => "expires_at",
        };
        let sql = format!(
            "UPDATE sessions
             SET current_hash = $1, previous_hash = $2, rotated_at = $3, last_used_at = $3,
                 generation = generation + 1, expires_at = {expiry}
             WHERE current_hash = $2 AND revoked_at IS NULL AND expires_at > $3
             RETURNING {SESSION_COLUMNS}"
        );
        let mut update = sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(request.successor.as_str())
            .bind(request.presented.as_str())
            .bind(request.now);
        if let Some(ttl) = request.sliding_ttl_ms {
            update = update.bind(request.now.saturating_add(ttl));
        }
        if let Some(session) = update.fetch_optional(&mut *tx).await? {
            sqlx::query("INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES ($1, $2, $3)")
                .bind(request.presented.as_str())
                .bind(&session.id)
                .bind(request.now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(session));
        }

        let outcome = classify_retired(&mut tx, &request).await?;
        if let Rotation::Reused { session_id } = &outcome {
            revoke_in(&mut tx, session_id, request.now, "refresh_token_reused").await?;
        }
        tx.commit().await?;
        if let Rotation::Reused { session_id } = &outcome {
            self.sessions.evict(session_id);
        }
        Ok(outcome)
    }

    /// The live session behind an access token, with its user; `None` once revoked or expired.
    pub async fn active_session_user(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        if let Some(user) = self.sessions.get(session_id, user_id, now) {
            return Ok(Some(user));
        }
        let epoch = self.sessions.epoch();
        let user: Option<UserRecord> = sqlx::query_as(
            "SELECT u.id, u.username, u.email, u.password_hash, u.role, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(user) = &user {
            self.sessions.put(epoch, session_id, user.clone(), now);
        }
        Ok(user)
    }

    pub async fn active_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY last_used_at DESC, id"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of the user's sessions. `false` when the user has no such session; revoking an
    /// already revoked session is a no-op that still counts as found.
    pub async fn revoke_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1), revoked_reason = COALESCE(revoked_reason, $2)
             WHERE id = $3 AND user_id = $4",
        )
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        // After the write is committed, so no lookup can refill the cache from the old row.
        self.sessions.evict(session_id);
        Ok(result.rows_affected() > 0)
    }

    /// (session id, user id) of the session whose live or just-rotated refresh token hashes to `hash`.
    pub async fn session_for_refresh_hash(&self, hash: &TokenHash) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT id, user_id FROM sessions WHERE current_hash = $1 OR previous_hash = $1")
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Revokes every live session of the user; returns how many.
    pub async fn revoke_all_sessions(&self, user_id: &str, now: i64, reason: &str) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        self.sessions.evict_user(user_id);
        Ok(result.rows_affected())
    }
}

/// Says why a presented token did not rotate. Runs inside the rotation's transaction.
async fn classify_retired(
    tx: &mut sqlx::Transaction<'static, Any>,
    request: &RotationRequest<'_>,
) -> Result<Rotation, sqlx::Error> {
    let chain = sqlx::query_as::<_, ChainRow>(&format!(
        "SELECT {SESSION_COLUMNS}, current_hash, rotated_at, revoked_at FROM sessions
         WHERE current_hash = $1 OR previous_hash = $1"
    ))
    .bind(request.presented.as_str())
    .fetch_optional(&mut **tx)
    .await?;

    if let Some(row) = chain {
        if row.revoked_at.is_some() {
            return Ok(Rotation::Rejected(Rejection::Revoked));
        }
        if row.session.expires_at <= request.now {
            return Ok(Rotation::Rejected(Rejection::Expired));
        }
        if row.current_hash == request.presented.as_str() {
            // Live, unrevoked and unexpired, yet the update missed: cannot happen inside the write lock.
            return Ok(Rotation::Rejected(Rejection::Unknown));
        }
        let rotated_at = row.rotated_at.unwrap_or(i64::MIN);
        let in_grace = request.grace_ms > 0 && request.now.saturating_sub(rotated_at) <= request.grace_ms;
        // The grace answer must be the live successor; a chain that moved on since is reuse.
        if in_grace && row.current_hash == request.successor.as_str() {
            return Ok(Rotation::Grace(row.session));
        }
        return Ok(Rotation::Reused { session_id: row.session.id });
    }

    let retired: Option<(String,)> = sqlx::query_as("SELECT session_id FROM retired_refresh_tokens WHERE hash = $1")
        .bind(request.presented.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match retired {
        Some((session_id,)) => Rotation::Reused { session_id },
        None => Rotation::Rejected(Rejection::Unknown),
    })
}

async fn revoke_in(
    tx: &mut sqlx::Transaction<'static, Any>,
    session_id: &str,
    now: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
