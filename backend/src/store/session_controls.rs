//! What a user controls about their sessions: ending the others (also when the password changes),
//! the per-user cap, and the record of activity behind the idle timeout.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::AnyConnection;

use super::revoke_reason::RevokeReason;
use super::{Store, StoreError};
use crate::clock::Millis;

/// Activity is written at most this often per session.
const TOUCH_EVERY_MS: Millis = 1_000;

/// When each session's activity was last written by this process, so a busy session costs one write a
/// second rather than one per request.
#[derive(Debug, Default)]
pub(super) struct Touches(Mutex<HashMap<String, Millis>>);

impl Touches {
    /// True when `session_id`'s activity should be written now; records that it is.
    fn due(&self, session_id: &str, now: Millis) -> bool {
        let Ok(mut last) = self.0.lock() else { return true };
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
}

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

    /// Records activity on a session, at most once a second per session and never waiting for it: the
    /// write joins the writer's next batch in the background.
    pub(crate) fn touch_session(&self, session_id: &str, now: Millis) {
        if !self.touches.due(session_id, now) {
            return;
        }
        let (store, id) = (self.clone(), session_id.to_owned());
        tokio::spawn(async move {
            let written = store
                .write(move |conn| {
                    Box::pin(async move {
                        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *conn)
                            .await
                            .map(drop)
                    })
                })
                .await;
            if let Err(error) = written {
                tracing::warn!(error = %crate::telemetry::error_chain(&error), "cannot record session activity");
            }
        });
    }
}
