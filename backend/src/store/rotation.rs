//! The refresh-token chain: one atomic rotation, and what a token that did not rotate means (grace,
//! reuse, or a plain refusal).

use sqlx::AnyConnection;

use crate::clock::Millis;

use super::activity::Activity;
use super::revoke_reason::RevokeReason;
use super::sessions::{SessionRecord, live_session, session_columns};
use super::token_hash::TokenHash;
use super::{Store, StoreError};

/// `$4` is the sliding expiry, or NULL to keep the session's: bound on every call, so no edit can shift
/// the parameters. `$6` binds an unbound session to a DPoP key (NULL: it stays as it is); `$7` is the
/// key the request proved, which a bound session's must equal.
const ROTATE: &str = concat!(
    "UPDATE sessions
     SET current_hash = $1, previous_hash = $2, rotated_at = $3,
         expires_at = CASE WHEN $4 IS NULL THEN expires_at
                           WHEN max_expires_at < $4 THEN max_expires_at ELSE $4 END,
         dpop_jkt = COALESCE(dpop_jkt, $6)
     WHERE current_hash = $2 AND (dpop_jkt IS NULL OR dpop_jkt = $7) AND ",
    live_session!("", "$3", "$5"),
    " RETURNING ",
    session_columns!()
);

/// One refresh attempt, with everything the rules need to decide it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotationRequest<'a> {
    pub(crate) presented: &'a TokenHash,
    /// Hash of the successor derived from the presented token.
    pub(crate) successor: &'a TokenHash,
    pub(crate) now: Millis,
    /// `Some(ttl)` slides expiry to `now + ttl` (capped by the session's maximum); `None` keeps it.
    pub(crate) sliding_ttl_ms: Option<Millis>,
    /// How long after a rotation the previous token is still honoured; 0 disables.
    pub(crate) grace_ms: Millis,
    /// A session whose last authenticated request is this old or older is idle and ends (`None`: no
    /// idle timeout). Refreshes never count as activity.
    pub(crate) idle_cutoff: Option<Millis>,
    /// The DPoP key the request proved, if any; a bound session refuses any other.
    pub(crate) proved_jkt: Option<&'a str>,
    /// Whether an unbound session becomes bound to `proved_jkt`.
    pub(crate) bind: bool,
    /// The request's DPoP proof, spent (key, forget-at) in the rotation's transaction.
    pub(crate) proof_spend: Option<([u8; 32], Millis)>,
}

/// What a refresh attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rotation {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    Unknown,
    Expired,
    /// Idle past the timeout: revoked now, with that reason.
    Idle,
    /// With the reason it was revoked for, when it is one this version writes.
    Revoked(Option<RevokeReason>),
    /// The session is bound to a DPoP key the request did not prove: refused, and nothing changes,
    /// so a thief without the key can neither use the token nor end the owner's session.
    WrongKey,
    /// The request's DPoP proof was spent before (on any instance).
    ProofReplayed,
}

/// The chain columns read when a rotation did not apply, to say why.
#[derive(Debug, sqlx::FromRow)]
struct ChainRow {
    #[sqlx(flatten)]
    session: SessionRecord,
    current_hash: String,
    rotated_at: Option<Millis>,
    revoked_at: Option<Millis>,
    revoked_reason: Option<String>,
}

impl Store {
    /// Applies the rotation rules in one write transaction.
    ///
    /// The conditional `UPDATE … WHERE current_hash = presented` is the whole race: of any number of
    /// concurrent callers (on any number of instances) exactly one matches the row, and the rest see the
    /// token already retired and fall through to the grace or reuse rules.
    pub(crate) async fn rotate(&self, request: RotationRequest<'_>) -> Result<Rotation, StoreError> {
        let request = OwnedRotation::from(request);
        let activity = std::sync::Arc::clone(&self.activity);
        let (outcome, ended) =
            self.write(move |conn| Box::pin(async move { rotate_in(conn, &request, &activity).await })).await?;
        if let Some(session_id) = ended {
            // After the commit, so no lookup can refill the cache from the old row.
            self.sessions.evict(&session_id);
        }
        Ok(outcome)
    }
}

/// [`RotationRequest`], owned, with the sliding expiry worked out.
struct OwnedRotation {
    presented: String,
    successor: String,
    now: Millis,
    /// The sliding expiry (`now + ttl`), or `None` to keep the session's expiry.
    slide_to: Option<Millis>,
    grace_ms: Millis,
    idle_cutoff: Option<Millis>,
    proved_jkt: Option<String>,
    bind_jkt: Option<String>,
    proof_spend: Option<([u8; 32], Millis)>,
}

impl From<RotationRequest<'_>> for OwnedRotation {
    fn from(request: RotationRequest<'_>) -> Self {
        Self {
            presented: request.presented.as_str().to_owned(),
            successor: request.successor.as_str().to_owned(),
            now: request.now,
            slide_to: request.sliding_ttl_ms.map(|ttl| request.now.saturating_add(ttl)),
            grace_ms: request.grace_ms,
            idle_cutoff: request.idle_cutoff,
            proved_jkt: request.proved_jkt.map(str::to_owned),
            bind_jkt: request.proved_jkt.filter(|_| request.bind).map(str::to_owned),
            proof_spend: request.proof_spend,
        }
    }
}

/// The conditional `UPDATE … WHERE current_hash = presented` is the whole race: of any number of
/// concurrent callers (on any number of instances) exactly one matches the row, and the rest see the
/// token already retired and fall through to the grace or reuse rules. Also returns the id of a session
/// this ended (reuse, idle), whose cache entry must go.
async fn rotate_in(
    conn: &mut AnyConnection,
    request: &OwnedRotation,
    activity: &Activity,
) -> Result<(Rotation, Option<String>), sqlx::Error> {
    if let Some((key, forget_at)) = &request.proof_spend
        && !super::dpop_proofs::spend_in(conn, key, *forget_at, request.now).await?
    {
        return Ok((Rotation::Rejected(Rejection::ProofReplayed), None));
    }
    if let Some(session) = rotate_row(conn, request, request.idle_cutoff).await? {
        return Ok((Rotation::Rotated(session), None));
    }
    let outcome = classify_retired(conn, request, activity).await?;
    let ended = match &outcome {
        Rotation::Reused { session_id } => {
            revoke_in(conn, session_id, request.now, RevokeReason::RefreshTokenReused).await?;
            Some(session_id.clone())
        }
        _ => None,
    };
    Ok((outcome, ended))
}

/// The rotation itself: the live session whose current token was presented moves to the successor.
async fn rotate_row(
    conn: &mut AnyConnection,
    request: &OwnedRotation,
    idle_cutoff: Option<Millis>,
) -> Result<Option<SessionRecord>, sqlx::Error> {
    let rotated = sqlx::query_as::<_, SessionRecord>(ROTATE)
        .bind(&request.successor)
        .bind(&request.presented)
        .bind(request.now)
        .bind(request.slide_to)
        .bind(idle_cutoff)
        .bind(&request.bind_jkt)
        .bind(&request.proved_jkt)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(session) = &rotated {
        sqlx::query("INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES ($1, $2, $3)")
            .bind(&request.presented)
            .bind(&session.id)
            .bind(request.now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rotated)
}

/// Says why a presented token did not rotate, and rotates it after all when only the row's activity
/// was behind what this instance has recorded. Runs inside the rotation's transaction.
async fn classify_retired(
    conn: &mut AnyConnection,
    request: &OwnedRotation,
    activity: &Activity,
) -> Result<Rotation, sqlx::Error> {
    let chain = sqlx::query_as::<_, ChainRow>(concat!(
        "SELECT ",
        session_columns!(),
        ", current_hash, rotated_at, revoked_at, revoked_reason
         FROM sessions WHERE current_hash = $1 OR previous_hash = $1",
    ))
    .bind(&request.presented)
    .fetch_optional(&mut *conn)
    .await?;

    if let Some(row) = chain {
        if row.revoked_at.is_some() {
            return Ok(Rotation::Rejected(Rejection::Revoked(
                row.revoked_reason.as_deref().and_then(RevokeReason::from_stored),
            )));
        }
        if row.session.expires_at <= request.now {
            return Ok(Rotation::Rejected(Rejection::Expired));
        }
        let idle = request.idle_cutoff.is_some_and(|cutoff| {
            row.session.last_used_at <= cutoff && !activity.active_after(&row.session.id, cutoff)
        });
        if idle {
            revoke_in(conn, &row.session.id, request.now, RevokeReason::Idle).await?;
            return Ok(Rotation::Rejected(Rejection::Idle));
        }
        // Before grace and reuse: without the key, a token is worth nothing, not even a revocation.
        if !request.proves(row.session.dpop_jkt.as_deref()) {
            return Ok(Rotation::Rejected(Rejection::WrongKey));
        }
        if row.current_hash == request.presented {
            // Live and, by this instance's unwritten activity, not idle.
            return Ok(match rotate_row(conn, request, None).await? {
                Some(session) => Rotation::Rotated(session),
                None => Rotation::Rejected(Rejection::Unknown),
            });
        }
        let rotated_at = row.rotated_at.unwrap_or(i64::MIN);
        let in_grace = request.grace_ms > 0 && request.now.saturating_sub(rotated_at) <= request.grace_ms;
        // The grace answer must be the live successor; a chain that moved on since is reuse.
        if in_grace && row.current_hash == request.successor {
            return Ok(Rotation::Grace(row.session));
        }
        return Ok(Rotation::Reused { session_id: row.session.id });
    }

    let retired: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT r.session_id, s.dpop_jkt FROM retired_refresh_tokens r LEFT JOIN sessions s ON s.id = r.session_id
         WHERE r.hash = $1",
    )
    .bind(&request.presented)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match retired {
        Some((_, jkt)) if !request.proves(jkt.as_deref()) => Rotation::Rejected(Rejection::WrongKey),
        Some((session_id, _)) => Rotation::Reused { session_id },
        None => Rotation::Rejected(Rejection::Unknown),
    })
}

impl OwnedRotation {
    /// Whether the request may act for a session bound to `bound` (any request may for an unbound one).
    fn proves(&self, bound: Option<&str>) -> bool {
        bound.is_none_or(|bound| self.proved_jkt.as_deref() == Some(bound))
    }
}

/// Ends one session, inside the caller's transaction, unless it has ended already.
pub(super) async fn revoke_in(
    conn: &mut AnyConnection,
    session_id: &str,
    now: Millis,
    reason: RevokeReason,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason.as_str())
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
