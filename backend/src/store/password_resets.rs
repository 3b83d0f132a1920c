//! Password-reset tokens: issued (voiding the account's older ones), and used once, with the new
//! password and the end of every session of the account in the same transaction.

use super::revoke_reason::RevokeReason;
use super::token_hash::TokenHash;
use super::{Store, StoreError};
use crate::clock::Millis;

impl Store {
    /// Records a new reset token for `user_id`, working until `expires_at`; every older one of the
    /// account stops working in the same transaction.
    pub(crate) async fn issue_password_reset(
        &self,
        user_id: &str,
        hash: &TokenHash,
        now: Millis,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        let (user, hash) = (user_id.to_owned(), hash.as_str().to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&user)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&hash)
                .bind(&user)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Whether the reset token that hashes to `hash` would work at `now`.
    pub(crate) async fn password_reset_is_live(&self, hash: &TokenHash, now: Millis) -> Result<bool, StoreError> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Uses the reset token that hashes to `hash` if it is unused, not superseded and not expired at
    /// `now`. In one transaction: the token is marked used (a concurrent use waits on its row and then
    /// finds it used), the password hash is set, and every session of the account ends, so a refresh
    /// racing it either committed before (and its session ends here) or finds the session ended.
    /// Returns the account and how many sessions ended, or `None` with nothing written.
    pub(crate) async fn reset_password(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: Millis,
    ) -> Result<Option<(String, u64)>, StoreError> {
        let (hash, password_hash) = (hash.as_str().to_owned(), password_hash.to_owned());
        let reset = self
            .write(move |conn| {
                Box::pin(async move {
                    let used: Option<(String,)> = sqlx::query_as(
                        "UPDATE password_resets SET used_at = $2
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                         RETURNING user_id",
                    )
                    .bind(&hash)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                    let Some((user,)) = used else { return Ok(None) };
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(&password_hash)
                        .bind(&user)
                        .execute(&mut *conn)
                        .await?;
                    // Expired sessions are over already; they are neither counted nor touched.
                    let ended = sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
                         WHERE user_id = $3 AND revoked_at IS NULL AND expires_at > $1",
                    )
                    .bind(now)
                    .bind(RevokeReason::PasswordReset.as_str())
                    .bind(&user)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    Ok(Some((user, ended)))
                })
            })
            .await?;
        // After the commit, so no lookup can refill the cache from the old rows.
        if let Some((user, _)) = &reset {
            self.sessions.evict_user(user);
        }
        Ok(reset)
    }
}
