//! The refresh rules: rotate the presented token in one write, and turn what the store found (rotated,
//! grace, reuse, refused) into new tokens or the reason for refusing.

use crate::auth::dpop::{ProofError, Proven};
use crate::auth::error::{AuthError, DpopAt, RefreshRefusal};
use crate::auth::service::{Auth, Issued, subject};
use crate::auth::tokens::refresh_token::RefreshToken;
use crate::auth::tokens::seconds_until;
use crate::clock::Millis;
use crate::metrics::RefreshOutcome;
use crate::store::{Rejection, Rotation, RotationRequest, SessionRecord};

/// Rotates the refresh token `raw` and issues a new access token for its session. `proof` is the
/// request's DPoP proof, checked: a bound session needs its key, an unbound one is bound to it, and the
/// rotation's transaction spends it.
pub(crate) async fn refresh(auth: &Auth, raw: &str, proof: Option<&Proven>) -> Result<Issued, AuthError> {
    let Some(presented) = RefreshToken::parse(raw) else {
        auth.metrics.refresh(RefreshOutcome::Invalid);
        return Err(AuthError::RefreshRefused(RefreshRefusal::Unknown));
    };
    let now = auth.now();
    // Before the rotation: a token is never consumed by a refresh that could not sign its answer (the
    // client's retry would then be taken for reuse and end the session).
    let key = auth.access.signing_key(now).await?;
    let (session, from_grace) = rotate(auth, &presented, now, proof).await?;
    // The new access token carries the user's current name and role, read fresh from the account.
    let user = auth.store.user_by_id(&session.user_id).await?;
    let user = user.ok_or(AuthError::RefreshRefused(RefreshRefusal::AccountGone))?;
    let (access_token, expires_in) = auth.access.issue(&key, subject(&user, &session), now)?;
    tracing::info!(session_id = %session.id, grace = from_grace, "refreshed");
    let refresh = auth.refresh.successor(&presented);
    let refresh_expires_in = seconds_until(session.expires_at, now);
    let (remembered, dpop_bound) = (session.remembered != 0, session.dpop_jkt.is_some());
    Ok(Issued { access_token, expires_in, refresh, refresh_expires_in, user, remembered, dpop_bound })
}

/// Rotates `presented` in the store; the session and whether the answer came from the grace window.
async fn rotate(
    auth: &Auth,
    presented: &RefreshToken,
    now: Millis,
    proof: Option<&Proven>,
) -> Result<(SessionRecord, bool), AuthError> {
    let proved_jkt = proof.map(|proof| proof.jkt.as_str());
    let policy = auth.sessions;
    let request = RotationRequest {
        presented: &presented.hash(),
        successor: &auth.refresh.successor(presented).hash(),
        now,
        sliding_ttl_ms: policy.sliding.then_some(policy.refresh_ttl_ms),
        grace_ms: policy.grace_ms,
        idle_cutoff: policy.idle_cutoff(now),
        proved_jkt,
        bind: auth.dpop.binds(),
        proof_spend: proof.and_then(|proof| proof.spend).map(|spend| (spend.key, spend.forget_at)),
    };
    let rotation = auth.store.rotate(request).await?;
    auth.metrics.refresh(match &rotation {
        Rotation::Rotated(_) => RefreshOutcome::Rotated,
        Rotation::Grace(_) => RefreshOutcome::Grace,
        Rotation::Reused { .. } => RefreshOutcome::Reused,
        Rotation::Rejected(Rejection::Unknown | Rejection::WrongKey | Rejection::ProofReplayed) => {
            RefreshOutcome::Invalid
        }
        Rotation::Rejected(Rejection::Expired | Rejection::Idle) => RefreshOutcome::Expired,
        Rotation::Rejected(Rejection::Revoked(_)) => RefreshOutcome::Revoked,
    });
    match rotation {
        Rotation::Rotated(session) => Ok((session, false)),
        Rotation::Grace(session) => Ok((session, true)),
        Rotation::Reused { session_id } => {
            tracing::warn!(%session_id, "refresh token reuse detected; session revoked");
            Err(AuthError::RefreshTokenReused)
        }
        Rotation::Rejected(Rejection::Unknown) => Err(AuthError::RefreshRefused(RefreshRefusal::Unknown)),
        Rotation::Rejected(Rejection::Expired) => Err(AuthError::RefreshRefused(RefreshRefusal::Expired)),
        Rotation::Rejected(Rejection::Idle) => Err(AuthError::SessionIdle),
        Rotation::Rejected(Rejection::ProofReplayed) => {
            Err(AuthError::DpopProof { error: ProofError::Replayed, at: DpopAt::Token })
        }
        Rotation::Rejected(Rejection::WrongKey) => {
            let error = if proved_jkt.is_some() { ProofError::WrongKey } else { ProofError::Missing };
            Err(AuthError::DpopProof { error, at: DpopAt::Token })
        }
        Rotation::Rejected(Rejection::Revoked(reason)) => {
            Err(AuthError::RefreshRefused(RefreshRefusal::Revoked(reason)))
        }
    }
}
