//! A session's life after login: checking that an access token's session is live, and ending one
//! session, a cookie's session, or all of a user's.

use crate::auth::error::AuthError;
use crate::auth::service::Auth;
use crate::auth::tokens::access::{AccessClaims, AccessError};
use crate::auth::tokens::refresh_token::RefreshToken;
use crate::store::{RevokeReason, SessionRecord, UserRecord};

/// A session, named by its id and its user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRef {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
}

impl From<AccessClaims> for SessionRef {
    fn from(claims: AccessClaims) -> Self {
        Self { session_id: claims.sid, user_id: claims.sub }
    }
}

/// Checks an access token alone: signature, `typ`, `iss`, `aud`, `exp`. The session is not consulted.
pub(crate) async fn verify_access_token(auth: &Auth, token: &str) -> Result<AccessClaims, AuthError> {
    auth.access.verify(token, auth.now()).await.map_err(|error| match error {
        AccessError::Expired => AuthError::TokenExpired,
        AccessError::Invalid => AuthError::InvalidToken,
    })
}

/// The user of a still-live session. Checking the session makes logout and revocation take effect at
/// once instead of when the access token expires.
/// Each such check is the session's activity, which the idle timeout measures.
pub(crate) async fn live_session_user(auth: &Auth, claims: &AccessClaims) -> Result<UserRecord, AuthError> {
    let live = auth.liveness();
    let user = auth.store.active_session_user(&claims.sid, &claims.sub, live).await?;
    let user = user.ok_or(AuthError::SessionEnded)?;
    auth.store.touch_session(&claims.sid, live.now);
    Ok(user)
}

/// Ends every session of the user but `keep`, the caller's; returns how many were live. Refused when
/// the caller's own session ended meanwhile.
pub(crate) async fn log_out_others(auth: &Auth, user_id: &str, keep: &str) -> Result<u64, AuthError> {
    let revoked = auth.store.revoke_other_sessions(user_id, keep, auth.liveness()).await?;
    let revoked = revoked.ok_or(AuthError::SessionEnded)?;
    tracing::info!(%user_id, revoked, "signed out the other devices");
    Ok(revoked)
}

/// The session a refresh token (live or just rotated) belongs to, if any.
pub(crate) async fn session_of_refresh_token(auth: &Auth, raw: &str) -> Result<Option<SessionRef>, AuthError> {
    let Some(token) = RefreshToken::parse(raw) else { return Ok(None) };
    let found = auth.store.session_for_refresh_hash(&token.hash()).await?;
    Ok(found.map(|(session_id, user_id)| SessionRef { session_id, user_id }))
}

/// Ends each session; ending one that has already ended is not an error.
pub(crate) async fn log_out(auth: &Auth, sessions: &[SessionRef]) -> Result<(), AuthError> {
    let now = auth.now();
    for session in sessions {
        auth.store.revoke_session(&session.session_id, &session.user_id, now, RevokeReason::Logout).await?;
        tracing::info!(session_id = %session.session_id, "logged out");
    }
    Ok(())
}

/// Ends every session of the user; returns how many were live.
pub(crate) async fn log_out_everywhere(auth: &Auth, user_id: &str) -> Result<u64, AuthError> {
    let revoked = auth.store.revoke_all_sessions(user_id, auth.now(), RevokeReason::LogoutAll).await?;
    tracing::info!(%user_id, revoked, "logged out everywhere");
    Ok(revoked)
}

/// Revokes one of the user's sessions from another; another user's session is [`AuthError::NoSuchSession`].
pub(crate) async fn revoke(auth: &Auth, session_id: &str, user_id: &str) -> Result<(), AuthError> {
    if !auth.store.revoke_session(session_id, user_id, auth.now(), RevokeReason::Revoked).await? {
        return Err(AuthError::NoSuchSession);
    }
    tracing::info!(%session_id, "session revoked");
    Ok(())
}

/// The user's live sessions.
pub(crate) async fn list(auth: &Auth, user_id: &str) -> Result<Vec<SessionRecord>, AuthError> {
    Ok(auth.store.active_sessions(user_id, auth.liveness()).await?)
}
