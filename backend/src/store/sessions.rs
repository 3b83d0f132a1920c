//! Sessions: creation, the live-session check, listing and revocation. Rotation is in `rotation.rs`.

use sqlx::AnyConnection;

use crate::clock::Millis;

use super::revoke_reason::RevokeReason;
use super::token_hash::TokenHash;
use super::{Store, StoreError, UserRecord};

/// The one rule for "is this session live", as SQL: not revoked, not expired, and used after the idle
/// cutoff (a NULL cutoff: no idle timeout). Every reader that answers it (the access check, rotation,
/// introspection, the session list, the cap and the gauge) builds its `WHERE` from this, with the
/// table's alias and the placeholders of `now` and the cutoff.
macro_rules! live_session {
    ($alias:literal, $now:literal, $idle:literal) => {
        concat!(
            "(",
            $alias,
            "revoked_at IS NULL AND ",
            $alias,
            "expires_at > ",
            $now,
            " AND (",
            $idle,
            " IS NULL OR ",
            $alias,
            "last_used_at > ",
            $idle,
            "))"
        )
    };
}
pub(super) use live_session;

/// The columns of a [`SessionRecord`], for every query that returns one.
macro_rules! session_columns {
    () => {
        "id, user_id, device_id, device_name, app_id, created_at, last_used_at, expires_at, remembered, ip, user_agent, \
         auth_time, amr, dpop_jkt"
    };
}
pub(super) use session_columns;

/// When a liveness question is asked: `now`, and the idle cutoff (a session last used at or before it
/// is idle; `None`: no idle timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Liveness {
    pub(crate) now: Millis,
    pub(crate) idle_cutoff: Option<Millis>,
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct SessionRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) device_id: Option<String>,
    pub(crate) device_name: Option<String>,
    pub(crate) app_id: Option<String>,
    pub(crate) created_at: Millis,
    pub(crate) last_used_at: Millis,
    pub(crate) expires_at: Millis,
    /// 1 when the user asked to be remembered (a persistent cookie), 0 for a browser session.
    pub(crate) remembered: i64,
    /// The client address at login, by the throttle's rule.
    pub(crate) ip: Option<String>,
    /// The `User-Agent` at login, at most 256 characters.
    pub(crate) user_agent: Option<String>,
    /// When the user last proved who they are on this session (login, re-authentication). A refresh
    /// never changes it.
    pub(crate) auth_time: Millis,
    /// How they proved it: RFC 8176 method names, comma-separated (`pwd`).
    pub(crate) amr: String,
    /// The RFC 7638 thumbprint of the DPoP key the session is bound to; `None` for a Bearer session.
    pub(crate) dpop_jkt: Option<String>,
}

const INSERT_SESSION: &str = concat!(
    "INSERT INTO sessions (id, user_id, device_id, device_name, app_id, created_at, last_used_at, expires_at,
                           max_expires_at, current_hash, remembered, ip, user_agent, auth_time, amr, dpop_jkt)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $6, 'pwd', $13)
     RETURNING ",
    session_columns!()
);

#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSession<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) device_id: Option<&'a str>,
    pub(crate) device_name: Option<&'a str>,
    pub(crate) app_id: Option<&'a str>,
    pub(crate) refresh_hash: &'a TokenHash,
    pub(crate) live: Liveness,
    pub(crate) expires_at: Millis,
    pub(crate) max_expires_at: Millis,
    pub(crate) remembered: bool,
    pub(crate) ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    /// Live sessions a user may have; past it the least recently used end (0: no cap).
    pub(crate) max_sessions: u32,
    /// The DPoP key the session is bound to, if the login proved one.
    pub(crate) dpop_jkt: Option<&'a str>,
}

impl Store {
    /// Creates a session. A login from a device that already has a session replaces only that device's
    /// session, in the same transaction, so the user's other devices stay logged in.
    pub(crate) async fn create_session(&self, new: NewSession<'_>) -> Result<SessionRecord, StoreError> {
        if new.max_sessions > 0 {
            // The cap ends the least recently used: what this instance has gathered must be written.
            self.flush_activity().await;
        }
        let new = OwnedSession::from(new);
        let (session, ended) =
            self.write(move |conn| Box::pin(async move { insert_session(conn, &new).await })).await?;
        // After the commit, so no lookup can refill the cache from the old rows.
        for id in &ended {
            self.sessions.evict(id);
        }
        Ok(session)
    }

    /// The live session behind an access token, with its user; `None` once revoked, expired or idle.
    /// Activity this instance has recorded but not yet written counts (see `activity.rs`).
    pub(crate) async fn active_session_user(
        &self,
        session_id: &str,
        user_id: &str,
        live: Liveness,
    ) -> Result<Option<UserRecord>, StoreError> {
        if let Some(user) = self.sessions.get(session_id, user_id, live.now) {
            return Ok(Some(user));
        }
        let epoch = self.sessions.epoch();
        let found: Option<LiveUser> = sqlx::query_as(concat!(
            "SELECT u.id, u.username, u.email, u.password_hash, u.role, u.created_at, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND ",
            live_session!("s.", "$3", "$4")
        ))
        .bind(session_id)
        .bind(user_id)
        .bind(live.now)
        .bind(self.idle_cutoff_for(session_id, live.idle_cutoff))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|LiveUser { user, expires_at }| {
            self.sessions.put(epoch, session_id, user.clone(), live.now, expires_at);
            user
        }))
    }

    /// The user's live sessions, most recently used first.
    pub(crate) async fn active_sessions(
        &self,
        user_id: &str,
        live: Liveness,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        // What this instance has gathered must be in the rows the idle rule reads.
        self.flush_activity().await;
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND ",
            live_session!("", "$2", "$3"),
            " ORDER BY last_used_at DESC, id"
        ))
        .bind(user_id)
        .bind(live.now)
        .bind(live.idle_cutoff)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of the user's sessions. `false` when the user has no such session; revoking an
    /// already revoked session is a no-op that still counts as found.
    pub(crate) async fn revoke_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: Millis,
        reason: RevokeReason,
    ) -> Result<bool, StoreError> {
        let (session, user) = (session_id.to_owned(), user_id.to_owned());
        let revoked = self
            .write(move |conn| {
                Box::pin(async move {
                    let result = sqlx::query(
                        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1),
                                revoked_reason = COALESCE(revoked_reason, $2)
                         WHERE id = $3 AND user_id = $4",
                    )
                    .bind(now)
                    .bind(reason.as_str())
                    .bind(session)
                    .bind(user)
                    .execute(&mut *conn)
                    .await?;
                    Ok(result.rows_affected() > 0)
                })
            })
            .await?;
        // After the write is committed, so no lookup can refill the cache from the old row.
        self.sessions.evict(session_id);
        Ok(revoked)
    }

    /// (session id, user id) of the session whose live or just-rotated refresh token hashes to `hash`.
    pub(crate) async fn session_for_refresh_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT id, user_id FROM sessions WHERE current_hash = $1 OR previous_hash = $1")
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The live session whose *current* refresh token hashes to `hash` (a rotated-out token is not
    /// current, even inside the grace window).
    pub(crate) async fn live_session_by_refresh_hash(
        &self,
        hash: &TokenHash,
        live: Liveness,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.flush_activity().await;
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE current_hash = $1 AND ",
            live_session!("", "$2", "$3")
        ))
        .bind(hash.as_str())
        .bind(live.now)
        .bind(live.idle_cutoff)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Revokes every live session of the user; returns how many.
    pub(crate) async fn revoke_all_sessions(
        &self,
        user_id: &str,
        now: Millis,
        reason: RevokeReason,
    ) -> Result<u64, StoreError> {
        let user = user_id.to_owned();
        let revoked = self
            .write(move |conn| {
                Box::pin(async move {
                    let result = sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
                         WHERE user_id = $3 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(reason.as_str())
                    .bind(user)
                    .execute(&mut *conn)
                    .await?;
                    Ok(result.rows_affected())
                })
            })
            .await?;
        self.sessions.evict_user(user_id);
        Ok(revoked)
    }
}

/// [`NewSession`], owned, so it can travel to the writer.
struct OwnedSession {
    user_id: String,
    device_id: Option<String>,
    device_name: Option<String>,
    app_id: Option<String>,
    refresh_hash: String,
    live: Liveness,
    expires_at: Millis,
    max_expires_at: Millis,
    remembered: bool,
    ip: Option<String>,
    user_agent: Option<String>,
    max_sessions: u32,
    dpop_jkt: Option<String>,
}

impl From<NewSession<'_>> for OwnedSession {
    fn from(new: NewSession<'_>) -> Self {
        Self {
            user_id: new.user_id.to_owned(),
            device_id: new.device_id.map(str::to_owned),
            device_name: new.device_name.map(str::to_owned),
            app_id: new.app_id.map(str::to_owned),
            refresh_hash: new.refresh_hash.as_str().to_owned(),
            live: new.live,
            expires_at: new.expires_at,
            max_expires_at: new.max_expires_at,
            remembered: new.remembered,
            ip: new.ip.map(str::to_owned),
            user_agent: new.user_agent.map(str::to_owned),
            max_sessions: new.max_sessions,
            dpop_jkt: new.dpop_jkt.map(str::to_owned),
        }
    }
}

/// A session row's user, and when the session expires (a cache entry must not outlive it).
#[derive(sqlx::FromRow)]
struct LiveUser {
    #[sqlx(flatten)]
    user: UserRecord,
    expires_at: Millis,
}

/// A login from a device that already has a session replaces only that device's session, in the same
/// transaction, so the user's other devices stay logged in. Returns the new session and the ids of
/// every session the login ended (the device's previous one, those past the cap).
async fn insert_session(
    conn: &mut AnyConnection,
    new: &OwnedSession,
) -> Result<(SessionRecord, Vec<String>), sqlx::Error> {
    let now = new.live.now;
    // Locks the user's row (PostgreSQL; SQLite's writer runs one transaction at a time anyway), so
    // parallel logins of one user take turns and the session cap below counts every live session.
    sqlx::query("UPDATE users SET id = id WHERE id = $1").bind(&new.user_id).execute(&mut *conn).await?;
    let mut ended = Vec::new();
    if let Some(device_id) = &new.device_id {
        let replaced: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $4
             WHERE user_id = $2 AND device_id = $3 AND revoked_at IS NULL
             RETURNING id",
        )
        .bind(now)
        .bind(&new.user_id)
        .bind(device_id)
        .bind(RevokeReason::Replaced.as_str())
        .fetch_all(&mut *conn)
        .await?;
        ended.extend(replaced.into_iter().map(|(id,)| id));
    }
    let session = sqlx::query_as::<_, SessionRecord>(INSERT_SESSION)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&new.user_id)
        .bind(&new.device_id)
        .bind(&new.device_name)
        .bind(&new.app_id)
        .bind(now)
        .bind(new.expires_at)
        .bind(new.max_expires_at)
        .bind(&new.refresh_hash)
        .bind(i64::from(new.remembered))
        .bind(&new.ip)
        .bind(&new.user_agent)
        .bind(&new.dpop_jkt)
        .fetch_one(&mut *conn)
        .await?;
    if new.max_sessions > 0 {
        let capped =
            super::session_controls::enforce_cap(conn, &new.user_id, &session.id, new.max_sessions, new.live).await?;
        ended.extend(capped);
    }
    Ok((session, ended))
}
