//! Register, login, refresh and logout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use shared::Envelope;
use shared::auth::{LoginRequest, OthersRevoked, RegisterRequest, User};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::accounts;
use crate::auth::dpop::TokenRequest;
use crate::auth::input::{Credentials, NewAccount, Origin};
use crate::auth::sessions::{self, SessionRef};
use crate::http::delivery::{Delivery, clear_refresh_cookie, refresh_cookie};
use crate::http::dpop::DpopProof;
use crate::http::error::ApiError;
use crate::http::extract::{Claims, ClientIp, Json, RecentCaller};
use crate::http::openapi::{
    Ack, CsrfRejected, DeliveryHeader, DpopHeader, Failure, LoginData, OtherFailure, RecentAuthenticationRequired,
};
use crate::http::reply::{public_user, reply};
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(logout_others))
}

/// Creates an account. The role is always `user`, whatever the body says.
#[utoipa::path(
    post,
    path = paths::REGISTER,
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = Envelope<User>),
        (status = 400, description = "`validation_failed`: a malformed body, a bad email, a username or password of \
            the wrong length", body = Failure),
        (status = 409, description = "`email_taken`", body = Failure),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address; see `Retry-After`",
            body = Failure,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt is counted"))),
        (status = "default", response = OtherFailure),
    )
)]

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, ApiError> {
    let account = NewAccount::parse(body)?;
    let user = accounts::register(&state.auth, account, ip).await?;
    Ok(reply(StatusCode::CREATED, "account created", public_user(&user)))
}

/// Checks the password and starts a session.
///
/// One session per device: a login with the same `deviceId` replaces that device's session and leaves
/// the others alone.
#[utoipa::path(
    post,
    path = paths::LOGIN,
    tag = "auth",
    request_body = LoginRequest,
    params(DeliveryHeader, DpopHeader),
    responses(
        (status = 200, description = "Logged in. In cookie mode `data` has no refresh token and the cookie is set",
            body = Envelope<LoginData>,
            headers(("Set-Cookie" = String, description = "Cookie mode only: `__Host-refresh_token=…; HttpOnly; \
                Secure; SameSite=Strict; Path=/`"))),
        (status = 400, description = "`validation_failed`; `invalid_dpop_proof` (a `DPoP` proof header that is \
            malformed or not made for this request; with `DPOP=required`, none at all) or `use_dpop_nonce` (retry \
            with the nonce of the `DPoP-Nonce` header)", body = Failure),
        (status = 401, description = "`invalid_credentials`: unknown email or wrong password, told apart by nothing",
            body = Failure),
        (status = 403, response = CsrfRejected),
        (status = 429, description = "`rate_limited`: too many failures for this account or address; see \
            `Retry-After`", body = Failure,
            headers(("Retry-After" = u64, description = "Seconds until the throttle lifts"))),
        (status = "default", response = OtherFailure),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    delivery: Delivery,
    dpop: DpopProof,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let credentials = Credentials::parse(body)?;
    // Before the password: a proof that needs a nonce costs the client a retry, not a second guess.
    let proven = state.auth.token_endpoint_dpop_key(dpop.proof(), &dpop.target(), TokenRequest::Login).await?;
    let jkt = proven.map(|proven| proven.jkt);
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let issued = accounts::log_in(&state.auth, credentials, Origin::new(ip, user_agent), jkt.as_deref()).await?;
    Ok(delivery.answer("login successful", issued, true))
}

/// Ends the caller's session.
///
/// Idempotent: a valid access token of an already ended session still gets 200. In cookie mode the
/// session is the one the Bearer token or the cookie names, the cookie is cleared, and an answer with
/// neither is still 200: there is nothing left to end.
#[utoipa::path(
    post,
    path = paths::LOGOUT,
    tag = "auth",
    params(DeliveryHeader),
    security(("bearer" = []), ("refreshCookie" = [])),
    responses(
        (status = 200, description = "Logged out (also when the session had already ended). In cookie mode the \
            cookie is cleared", body = Ack),
        (status = 401, description = "Body mode: `missing_token`, `invalid_token` or `token_expired`", body = Failure),
        (status = 403, response = CsrfRejected),
        (status = "default", response = OtherFailure),
    )
)]
async fn logout(
    State(state): State<AppState>,
    delivery: Delivery,
    claims: Result<Claims, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut ended: Vec<SessionRef> = Vec::new();
    match (delivery, claims) {
        (Delivery::Body, claims) => ended.push(claims?.0.into()),
        (Delivery::Cookie(prefix), claims) => {
            ended.extend(claims.ok().map(|Claims(c)| c.into()));
            if let Some(cookie) = refresh_cookie(&headers, prefix) {
                ended.extend(sessions::session_of_refresh_token(&state.auth, cookie).await?);
            }
        }
    }
    sessions::log_out(&state.auth, &ended).await?;
    let mut response = reply(StatusCode::OK, "logged out", ());
    if delivery.is_cookie() {
        clear_refresh_cookie(&mut response);
    }
    Ok(response)
}

/// Ends every session of the caller, on every device. Needs a recent password (`REAUTH_MAX_AGE`):
/// a stolen access token must not end the owner's sessions.
#[utoipa::path(
    post,
    path = paths::LOGOUT_ALL,
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every session ended", body = Ack),
        (status = 401, response = RecentAuthenticationRequired),
        (status = "default", response = OtherFailure),
    )
)]
async fn logout_all(State(state): State<AppState>, RecentCaller(caller): RecentCaller) -> Result<Response, ApiError> {
    sessions::log_out_everywhere(&state.auth, &caller.user.id).await?;
    Ok(reply(StatusCode::OK, "logged out on every device", ()))
}

/// Ends every *other* session of the caller ("sign out other devices"); the caller's goes on. Needs a
/// recent password (`REAUTH_MAX_AGE`).
#[utoipa::path(
    post,
    path = paths::LOGOUT_OTHERS,
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The other sessions ended; `revoked` counts them", body = Envelope<OthersRevoked>),
        (status = 401, response = RecentAuthenticationRequired),
        (status = "default", response = OtherFailure),
    )
)]
async fn logout_others(
    State(state): State<AppState>,
    RecentCaller(caller): RecentCaller,
) -> Result<Response, ApiError> {
    let revoked = sessions::log_out_others(&state.auth, &caller.user.id, &caller.session_id).await?;
    Ok(reply(StatusCode::OK, "signed out the other devices", OthersRevoked { revoked }))
}
