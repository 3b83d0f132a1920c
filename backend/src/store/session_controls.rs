//! What a user controls about their sessions: ending the others (also when the password changes),
//! proving who they are again, and the per-user cap.

use sqlx::AnyConnection;

use super::revoke_reason::RevokeReason;
use super::sessions::{Liveness, SessionRecord, live_session, session_columns};
use super::{Store, StoreError};
use crate::clock::Millis;

/// Ends the user's least recently used live sessions beyond `max`, never `keep`; returns their ids.
/// Runs inside the login's transaction, after the new session was added. Idle sessions are not live,
/// so they neither count nor need ending here.
pub(super) async fn enforce_cap(
    conn: &mut AnyConnection,
    user_id: &str,
    keep: &str,
    max: u32,
    live: Liveness,
) -> Result<Vec<String>, sqlx::Error> {
    let sessions: Vec<(String,)> = sqlx::query_as(concat!(
        "SELECT id FROM sessions WHERE user_id = $1 AND ",
        live_session!("", "$2", "$3"),
        " ORDER BY last_used_at DESC, created_at DESC, id"
    ))
    .bind(user_id)
    .bind(live.now)
    .bind(live.idle_cutoff)
    .fetch_all(&mut *conn)
    .await?;
    let keep_others = usize::try_from(max).unwrap_or(usize::MAX).saturating_sub(1);
    let beyond: Vec<String> = sessions.into_iter().map(|(id,)| id).filter(|id| id != keep).skip(keep_others).collect();
    for id in &beyond {
        super::rotation::revoke_in(conn, id, live.now, RevokeReason::SessionCap).await?;
    }
    Ok(beyond)
}

/// Takes the row lock of `session_id` if the session is live, inside a write on its behalf: a
/// concurrent revocation either committed before (and this finds it ended) or waits for this write.
/// True when it is live.
async fn lock_live_session(conn: &mut AnyConnection, session_id: &str, live: Liveness) -> Result<bool, sqlx::Error> {
    let locked = sqlx::query(concat!(
        "UPDATE sessions SET last_used_at = last_used_at WHERE id = $1 AND ",
        live_session!("", "$2", "$3")
    ))
    .bind(session_id)
    .bind(live.now)
    .bind(live.idle_cutoff)
    .execute(&mut *conn)
    .await?;
    Ok(locked.rows_affected() == 1)
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
    /// Ends every live session of the user but `keep`, the caller's; returns how many, or `None` (and
    /// nothing written) when `keep` itself is no longer live.
    pub(crate) async fn revoke_other_sessions(
        &self,
        user_id: &str,
        keep: &str,
        live: Liveness,
    ) -> Result<Option<u64>, StoreError> {
        let (user, kept) = (user_id.to_owned(), keep.to_owned());
        let live = Liveness { idle_cutoff: self.idle_cutoff_for(keep, live.idle_cutoff), ..live };
        let revoked = self
            .write(move |conn| {
                Box::pin(async move {
                    if !lock_live_session(conn, &kept, live).await? {
                        return Ok(None);
                    }
                    revoke_others(conn, &user, &kept, live.now, RevokeReason::LogoutOthers).await.map(Some)
                })
            })
            .await?;
        self.sessions.evict_user(user_id);
        Ok(revoked)
    }

    /// Sets the user's password hash and ends every other session, in one transaction, on behalf of the
    /// caller's session `keep`: a refresh racing it either committed before (and its successor's session
    /// is revoked here) or finds the session revoked; a revocation of `keep` racing it either committed
    /// before (and nothing changes: `None`) or waits for it.
    pub(crate) async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        live: Liveness,
    ) -> Result<Option<u64>, StoreError> {
        let (user, hash, kept) = (user_id.to_owned(), password_hash.to_owned(), keep.to_owned());
        let live = Liveness { idle_cutoff: self.idle_cutoff_for(keep, live.idle_cutoff), ..live };
        let revoked = self
            .write(move |conn| {
                Box::pin(async move {
                    if !lock_live_session(conn, &kept, live).await? {
                        return Ok(None);
                    }
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(&hash)
                        .bind(&user)
                        .execute(&mut *conn)
                        .await?;
                    revoke_others(conn, &user, &kept, live.now, RevokeReason::PasswordChanged).await.map(Some)
                })
            })
            .await?;
        self.sessions.evict_user(user_id);
        Ok(revoked)
    }

    /// Records that the user of `session_id` proved who they are again now: the session's `auth_time`
    /// moves to `live.now`, so the access tokens of every later refresh carry it too. The session and
    /// its refresh chain stay as they are. `None` (nothing written) when the session is not live.
    pub(crate) async fn reauthenticate(
        &self,
        session_id: &str,
        user_id: &str,
        live: Liveness,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let (session, user) = (session_id.to_owned(), user_id.to_owned());
        let live = Liveness { idle_cutoff: self.idle_cutoff_for(session_id, live.idle_cutoff), ..live };
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query_as(concat!(
                    "UPDATE sessions SET auth_time = $2 WHERE id = $1 AND user_id = $4 AND ",
                    live_session!("", "$2", "$3"),
                    " RETURNING ",
                    session_columns!()
                ))
                .bind(&session)
                .bind(live.now)
                .bind(live.idle_cutoff)
                .bind(&user)
                .fetch_optional(&mut *conn)
                .await
            })
        })
        .await
    }
}
