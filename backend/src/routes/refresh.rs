//! `POST /api/auth/refresh-token`: rotate the presented refresh token (from the body, or from the
//! cookie in cookie mode) and answer with new tokens.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use shared::Envelope;
use shared::auth::RefreshRequest;
use shared::paths;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::subject;
use crate::delivery::{Delivery, Issued, refresh_cookie};
use crate::error::ApiError;
use crate::extract::Json;
use crate::openapi::{DeliveryHeader, Failure, OtherFailure, RefreshData};
use crate::state::AppState;
use crate::store::{Rejection, Rotation, RotationRequest, SessionRecord};
use crate::tokens::{RefreshToken, seconds_until};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(refresh_token))
}

/// Rotates the refresh token and issues a new access token.
///
/// The presented refresh token is spent and a successor issued. Presenting it again within the grace
/// window (`REFRESH_REUSE_GRACE`) returns that same successor; later, or a token two
/// generations back, is reuse and ends the whole session.
#[utoipa::path(
    post,
    path = paths::REFRESH,
    tag = "auth",
    request_body(content = RefreshRequest, description = "Body mode; in cookie mode the body may be `{}`"),
    params(DeliveryHeader),
    security((), ("refreshCookie" = [])),
    responses(
        (status = 200, description = "New tokens. In cookie mode `data` has the access token and the user, and the \
            cookie is replaced", body = Envelope<RefreshData>,
            headers(("Set-Cookie" = String, description = "Cookie mode only: the successor refresh token"))),
        (status = 400, description = "`refresh_token_missing`, or `validation_failed` for a malformed body or \
            for a refresh token in the body in cookie mode (the cookie is then the only source)", body = Failure),
        (status = 403, description = "`refresh_token_invalid` (unknown, expired, or its session ended; `message` \
            says which), `refresh_token_reused` (the session is now revoked), or `csrf_rejected`", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]

async fn refresh_token(
    State(state): State<AppState>,
    delivery: Delivery,
    headers: HeaderMap,
    Json(body): Json<RefreshRequest>,
) -> Response {
    let result = async {
        let presented = presented_token(delivery, &headers, &body).inspect_err(|error| {
            if matches!(error, ApiError::RefreshTokenInvalid(_)) {
                state.metrics.refresh("invalid");
            }
        })?;
        let now = state.now();
        let (session, from_grace) = rotate(&state, &presented, now).await?;
        // The new access token carries the user's current name and role, read fresh from the account.
        let user = state.store.user_by_id(&session.user_id).await?;
        let user = user.ok_or(ApiError::RefreshTokenInvalid("account no longer exists"))?;
        let (access_token, expires_in) = state.access.issue(subject(&user, &session.id), now)?;
        tracing::info!(session_id = %session.id, grace = from_grace, "refreshed");
        let refresh = state.refresh.successor(&presented);
        let refresh_expires_in = seconds_until(session.expires_at, now);
        let issued = Issued { access_token, expires_in, refresh, refresh_expires_in, user };
        Ok(delivery.answer("token refreshed", issued, delivery == Delivery::Cookie))
    };
    delivery.respond(result.await)
}

/// The token to rotate: the body's in body mode, the cookie's in cookie mode (never both).
fn presented_token(delivery: Delivery, headers: &HeaderMap, body: &RefreshRequest) -> Result<RefreshToken, ApiError> {
    let in_body = body.refresh_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let raw = match delivery {
        Delivery::Body => in_body,
        Delivery::Cookie if in_body.is_some() => {
            return Err(ApiError::Validation("in cookie mode the refresh token comes from the cookie only".into()));
        }
        Delivery::Cookie => refresh_cookie(headers).filter(|t| !t.is_empty()),
    };
    let raw = raw.ok_or(ApiError::RefreshTokenMissing)?;
    RefreshToken::parse(raw).ok_or(ApiError::RefreshTokenInvalid("refresh token is invalid"))
}

/// Rotates `presented` in the store; the session and whether the answer came from the grace window.
async fn rotate(state: &AppState, presented: &RefreshToken, now: i64) -> Result<(SessionRecord, bool), ApiError> {
    let policy = state.sessions;
    let request = RotationRequest {
        presented: &presented.hash(),
        successor: &state.refresh.successor(presented).hash(),
        now,
        sliding_ttl_ms: policy.sliding.then_some(policy.refresh_ttl_ms),
        grace_ms: policy.grace_ms,
    };
    let rotation = state.store.rotate(request).await?;
    state.metrics.refresh(match &rotation {
        Rotation::Rotated(_) => "rotated",
        Rotation::Grace(_) => "grace",
        Rotation::Reused { .. } => "reused",
        Rotation::Rejected(Rejection::Unknown) => "invalid",
        Rotation::Rejected(Rejection::Expired) => "expired",
        Rotation::Rejected(Rejection::Revoked(_)) => "revoked",
    });
    match rotation {
        Rotation::Rotated(session) => Ok((session, false)),
        Rotation::Grace(session) => Ok((session, true)),
        Rotation::Reused { session_id } => {
            tracing::warn!(%session_id, "refresh token reuse detected; session revoked");
            Err(ApiError::RefreshTokenReused)
        }
        Rotation::Rejected(Rejection::Unknown) => Err(ApiError::RefreshTokenInvalid("refresh token is invalid")),
        Rotation::Rejected(Rejection::Expired) => Err(ApiError::RefreshTokenInvalid("refresh token has expired")),
        Rotation::Rejected(Rejection::Revoked(reason)) => {
            Err(ApiError::RefreshTokenInvalid(revoked_because(reason.as_deref())))
        }
    }
}

/// Why a session ended, for the refusal's message (the error code stays `refresh_token_invalid`).
fn revoked_because(reason: Option<&str>) -> &'static str {
    match reason {
        Some("logout") => "session has ended: logged out",
        Some("logout_all") => "session has ended: logged out everywhere",
        Some("revoked") => "session has ended: revoked from another session",
        Some("replaced") => "session has ended: replaced by a newer login on this device",
        Some("refresh_token_reused") => "session has ended: a refresh token was reused",
        _ => "session has been revoked",
    }
}
