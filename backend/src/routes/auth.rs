//! Register, login, refresh and logout.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use shared::auth::{LoginRequest, RegisterRequest};
use shared::paths;

use super::{public_user, reply};
use crate::accounts;
use crate::delivery::{Delivery, clear_refresh_cookie, refresh_cookie};
use crate::domain::{Credentials, NewAccount};
use crate::error::ApiError;
use crate::extract::{Caller, Claims, ClientIp, Json};
use crate::state::AppState;
use crate::tokens::RefreshToken;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTER, post(register))
        .route(paths::LOGIN, post(login))
        .route(paths::LOGOUT, post(logout))
        .route(paths::LOGOUT_ALL, post(logout_all))
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, ApiError> {
    let account = NewAccount::parse(body)?;
    let user = accounts::register(&state, account, ip).await?;
    Ok(reply(StatusCode::CREATED, "account created", public_user(&user)))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    delivery: Delivery,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let credentials = Credentials::parse(body)?;
    let issued = accounts::log_in(&state, credentials, ip).await?;
    Ok(delivery.answer("login successful", issued, true))
}

/// Idempotent: a valid access token of an already ended session still gets 200. In cookie mode the
/// session is the one the Bearer token or the cookie names, the cookie is cleared, and an answer with
/// neither is still 200: there is nothing left to end.
async fn logout(
    State(state): State<AppState>,
    delivery: Delivery,
    claims: Result<Claims, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.now();
    let mut ended = Vec::new();
    match (delivery, claims) {
        (Delivery::Body, claims) => ended.push(claims?.0.session()),
        (Delivery::Cookie, claims) => {
            ended.extend(claims.ok().map(|Claims(c)| c.session()));
            let cookie = refresh_cookie(&headers).and_then(RefreshToken::parse);
            if let Some(token) = cookie {
                ended.extend(state.store.session_for_refresh_hash(&token.hash()).await?);
            }
        }
    }
    for (session_id, user_id) in &ended {
        state.store.revoke_session(session_id, user_id, now, "logout").await?;
        tracing::info!(%session_id, "logged out");
    }
    let mut response = reply(StatusCode::OK, "logged out", ());
    if delivery == Delivery::Cookie {
        clear_refresh_cookie(&mut response);
    }
    Ok(response)
}

async fn logout_all(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let revoked = state.store.revoke_all_sessions(&caller.user.id, state.now(), "logout_all").await?;
    tracing::info!(user_id = %caller.user.id, revoked, "logged out everywhere");
    Ok(reply(StatusCode::OK, "logged out on every device", ()))
}
