//! The caller's own account: profile, password, and proving who they are again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::auth::{
    ChangePasswordRequest, DPOP_TOKEN_TYPE, Me, OthersRevoked, ReauthenticateRequest, Reauthenticated, TOKEN_TYPE,
};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::accounts;
use crate::auth::input::{Password, PasswordChange};
use crate::http::error::ApiError;
use crate::http::extract::{Caller, ClientIp, Json, RecentCaller};
use crate::http::openapi::{Failure, OtherFailure, Unauthorized};
use crate::http::reply::{public_user, reply};
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_me)).routes(routes!(change_password)).routes(routes!(reauthenticate))
}

/// The caller and the session their access token belongs to.
#[utoipa::path(
    get,
    path = paths::ME,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Envelope<Me>),
        (status = 401, response = Unauthorized),
        (status = "default", response = OtherFailure),
    )
)]

async fn get_me(caller: Caller) -> Response {
    let me = Me { user: public_user(&caller.user), session_id: caller.session_id };
    reply(StatusCode::OK, "ok", me)
}

/// Changes the caller's password and ends every *other* session of theirs.
///
/// The current password is checked like a login, against the same throttle, and the caller must have
/// entered their password recently (`REAUTH_MAX_AGE`). The caller's session goes on; on any failure
/// nothing changes.
#[utoipa::path(
    post,
    path = paths::CHANGE_PASSWORD,
    tag = "account",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed; `revoked` counts the other sessions that ended",
            body = Envelope<OthersRevoked>),
        (status = 400, description = "`validation_failed`: a new password outside the sign-up rules", body = Failure),
        (status = 401, description = "`invalid_credentials` (a wrong current password), \
            `reauthentication_required` (the password was entered longer ago than `REAUTH_MAX_AGE`, with \
            `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", max_age=…`, RFC 9470), or \
            the caller's token refused", body = Failure),
        (status = 409, description = "`password_unchanged`: the new password is the current one", body = Failure),
        (status = 429, description = "`rate_limited`: too many wrong passwords; see `Retry-After`", body = Failure,
            headers(("Retry-After" = u64, description = "Seconds until the throttle lifts"))),
        (status = "default", response = OtherFailure),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RecentCaller(caller): RecentCaller,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    let change = PasswordChange::parse(body)?;
    let revoked = accounts::change_password(&state.auth, &caller.user, &caller.session_id, change, ip).await?;
    Ok(reply(StatusCode::OK, "password changed", OthersRevoked { revoked }))
}

/// Proves again who the caller is, for a sensitive request that answered `reauthentication_required`.
///
/// The password is checked like a login, against the same throttle. The answer is a new access token
/// for the **same** session whose `auth_time` is now; every later refresh of the session carries that
/// time. No new session and no new refresh token, in either delivery mode.
#[utoipa::path(
    post,
    path = paths::REAUTHENTICATE,
    tag = "auth",
    request_body = ReauthenticateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new access token, recent enough for sensitive requests",
            body = Envelope<Reauthenticated>),
        (status = 400, description = "`validation_failed`: no password, or one longer than 128 characters",
            body = Failure),
        (status = 401, description = "`invalid_credentials` (a wrong password), or the caller's token refused",
            body = Failure),
        (status = 429, description = "`rate_limited`: too many wrong passwords; see `Retry-After`", body = Failure,
            headers(("Retry-After" = u64, description = "Seconds until the throttle lifts"))),
        (status = "default", response = OtherFailure),
    )
)]
async fn reauthenticate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Json(body): Json<ReauthenticateRequest>,
) -> Result<Response, ApiError> {
    let password = Password::given(body.password)?;
    let fresh = accounts::reauthenticate(&state.auth, &caller.user, &caller.session_id, password, ip).await?;
    let answer = Reauthenticated {
        access_token: fresh.access_token,
        token_type: if fresh.dpop_bound { DPOP_TOKEN_TYPE } else { TOKEN_TYPE }.into(),
        expires_in: fresh.expires_in,
        auth_time: fresh.auth_time,
    };
    Ok(reply(StatusCode::OK, "re-authenticated", answer))
}
