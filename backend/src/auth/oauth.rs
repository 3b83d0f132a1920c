//! The standard OAuth views of our tokens, for other services: introspection (RFC 7662), which says
//! whether a token is active *now* (so a logout is seen at once, not when the access token expires),
//! and revocation (RFC 7009), which ends the session behind a token.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::auth::error::AuthError;
use crate::auth::service::Auth;
use crate::auth::sessions::{SessionRef, live_session_user, session_of_refresh_token};
use crate::auth::throttle::PasswordCheck;
use crate::auth::tokens::access::AccessClaims;
use crate::auth::tokens::refresh_token::RefreshToken;
use crate::store::{RevokeReason, SessionRecord};

/// What a token is, as introspection tells it.
#[derive(Debug)]
pub(crate) enum Introspection {
    /// Expired, revoked, logged out, reused, malformed, signed by a key we do not know: all alike.
    Inactive,
    Access(AccessClaims),
    Refresh(SessionRecord),
}

/// Checks a resource server's Basic credentials against `INTROSPECTION_CLIENTS`, in constant time,
/// throttled per address only: client ids are not secret, so a limit per id would let anyone lock the
/// resource servers out.
pub(crate) async fn authenticate_client(
    auth: &Auth,
    credentials: Option<(&str, &str)>,
    ip: IpAddr,
) -> Result<(), AuthError> {
    let Some((id, secret)) = credentials else { return Err(AuthError::InvalidClient) };
    let slots = auth.throttle.begin_client_auth(&auth.store, auth.clock.as_ref(), ip).await?;
    let known = auth.introspection_clients.iter().find(|client| client.id == id);
    // An unknown id costs the same comparison as a known one.
    let expected = known.map_or("", |client| client.secret.as_str());
    let matches = bool::from(Sha256::digest(secret).ct_eq(&Sha256::digest(expected))) && known.is_some();
    let outcome = if matches { PasswordCheck::Succeeded } else { PasswordCheck::Failed };
    auth.throttle.end_login(&auth.store, slots, outcome).await?;
    if matches { Ok(()) } else { Err(AuthError::InvalidClient) }
}

/// What `token` is now: an access token whose session is live, the current refresh token of a live
/// session, or inactive.
pub(crate) async fn introspect(auth: &Auth, token: &str) -> Result<Introspection, AuthError> {
    if let Some(presented) = RefreshToken::parse(token) {
        let session = auth.store.live_session_by_refresh_hash(&presented.hash(), auth.liveness()).await?;
        return Ok(session.map_or(Introspection::Inactive, Introspection::Refresh));
    }
    let now = auth.now();
    let Ok(claims) = auth.access.verify(token, now).await else { return Ok(Introspection::Inactive) };
    // The leeway is for other clocks; on the issuer's own clock a token past `exp` is not active
    // (RFC 7662 §2.2).
    if claims.exp.saturating_mul(1000) <= now {
        return Ok(Introspection::Inactive);
    }
    match live_session_user(auth, &claims).await {
        Ok(_) => Ok(Introspection::Access(claims)),
        Err(AuthError::SessionEnded) => Ok(Introspection::Inactive),
        Err(error) => Err(error),
    }
}

/// Ends the session behind `token`, a refresh token (current or just rotated) or a valid access
/// token. Anything else is not an error: RFC 7009 §2.2 answers 200 for unknown tokens too.
pub(crate) async fn revoke(auth: &Auth, token: &str) -> Result<(), AuthError> {
    let session = match session_of_refresh_token(auth, token).await? {
        Some(session) => Some(session),
        None => auth.access.verify(token, auth.now()).await.ok().map(SessionRef::from),
    };
    if let Some(session) = session {
        let SessionRef { session_id, user_id } = &session;
        auth.store.revoke_session(session_id, user_id, auth.now(), RevokeReason::TokenRevocation).await?;
        tracing::info!(%session_id, "session ended by token revocation");
    }
    Ok(())
}
