//! What a user controls about their sessions: ending the others (also when the password changes) and
//! the per-user cap.

use sqlx::AnyConnection;

use super::revoke_reason::RevokeReason;
use super::{Store, StoreError};
use crate::clock::Millis;

/// Ends the user's least recently used live sessions beyond `max`, never `keep`. Runs inside the
/// login's transaction, after the new session was added.
pub(super) async fn enforce_cap(
    conn: &mut AnyConnection,
    user_id: &str,
    keep: &str,
    max: u32,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let live: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
         ORDER BY last_used_at DESC, created_at DESC, id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let beyond =
        live.iter().map(|(id,)| id).filter(|id| *id != keep).skip(usize::try_from(max).unwrap_or(usize::MAX) - 1);
    for id in beyond {
        sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(RevokeReason::SessionCap.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn revoke_others(
    conn: &mut AnyConnection,
    user_id: &str,
    keep: &str,
    now: Millis,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(user_id)
    .bind(keep)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

impl Store {
    /// Ends every live session of the user but `keep`; returns how many.
    pub(crate) async fn revoke_other_sessions(
        &self,
        user_id: &str,
        keep: &str,
        now: Millis,
    ) -> Result<u64, StoreError> {
        let (user, kept) = (user_id.to_owned(), keep.to_owned());
        let revoked = self
            .write(move |conn| {
                Box::pin(async move { revoke_others(conn, &user, &kept, now, RevokeReason::LogoutOthers).await })
            })
            .await?;
        self.sessions.evict_user(user_id);
        Ok(revoked)
    }

    /// Sets the user's password hash and ends every other session, in one transaction: a refresh racing
    /// it either committed before (and its successor's session is revoked here) or finds the session
    /// revoked.
    pub(crate) async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        now: Millis,
    ) -> Result<u64, StoreError> {
        let (user, hash, kept) = (user_id.to_owned(), password_hash.to_owned(), keep.to_owned());
        let revoked = self
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(&hash)
                        .bind(&user)
                        .execute(&mut *conn)
                        .await?;
                    revoke_others(conn, &user, &kept, now, RevokeReason::PasswordChanged).await
                })
            })
            .await?;
        self.sessions.evict_user(user_id);
        Ok(revoked)
    }
}
