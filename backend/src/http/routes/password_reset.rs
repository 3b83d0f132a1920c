//! Password reset: asking for a link by mail, and setting a new password with it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::auth::{OthersRevoked, PasswordResetConfirm, PasswordResetRequest};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::input::{ResetConfirmation, lookup};
use crate::auth::password_reset;
use crate::http::error::ApiError;
use crate::http::extract::{ClientIp, Json};
use crate::http::openapi::{Ack, Failure, OtherFailure};
use crate::http::reply::reply;
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(request_reset)).routes(routes!(confirm_reset))
}

/// Asks for a password-reset link by mail.
///
/// Always the same answer, in the same time, whether or not an account has this address: the lookup
/// and the mail happen after the answer. An account gets at most three mails an hour, and an address
/// may ask ten times an hour. The link works once, for `PASSWORD_RESET_TTL`, and a newer one voids it.
#[utoipa::path(
    post,
    path = paths::PASSWORD_RESET_REQUEST,
    tag = "account",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted: if an account has this address, a link is on its way", body = Ack),
        (status = 400, description = "`validation_failed`: no address, or one too long or with control characters",
            body = Failure),
        (status = 429, description = "`rate_limited`: this address asked too often; see `Retry-After`", body = Failure,
            headers(("Retry-After" = u64, description = "Seconds until the throttle lifts"))),
        (status = "default", response = OtherFailure),
    )
)]
async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    let lookup = lookup(&body.email)?;
    password_reset::request(&state.auth, lookup, ip).await?;
    Ok(reply(StatusCode::ACCEPTED, "if an account has this address, a reset link is on its way", ()))
}

/// Sets a new password with the token from a reset link, and ends every session of the account.
///
/// In the same transaction: the token is used up, the password set, and every session ended (their
/// refresh tokens answer 403, their access tokens 401, at once here and within `SESSION_CACHE_TTL` on
/// other instances). Of parallel confirmations with one token exactly one succeeds.
#[utoipa::path(
    post,
    path = paths::PASSWORD_RESET_CONFIRM,
    tag = "account",
    request_body = PasswordResetConfirm,
    responses(
        (status = 200, description = "The password is set; `revoked` counts the sessions that ended",
            body = Envelope<OthersRevoked>),
        (status = 400, description = "`validation_failed`: a new password outside the sign-up rules", body = Failure),
        (status = 403, description = "`reset_token_invalid`: the link is unknown, used, superseded or expired (told \
            apart by nothing), as a dead refresh token is", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]
async fn confirm_reset(
    State(state): State<AppState>,
    Json(body): Json<PasswordResetConfirm>,
) -> Result<Response, ApiError> {
    let confirmation = ResetConfirmation::parse(body)?;
    let revoked = password_reset::confirm(&state.auth, confirmation).await?;
    Ok(reply(StatusCode::OK, "password reset; every session has ended", OthersRevoked { revoked }))
}
