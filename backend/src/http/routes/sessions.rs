//! The caller's sessions (one per device): list and revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::paths;
use shared::sessions::Session;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::sessions;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, RecentCaller};
use crate::http::openapi::{Ack, Failure, OtherFailure, RecentAuthenticationRequired, Unauthorized};
use crate::http::reply::reply;
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(list_sessions)).routes(routes!(delete_session))
}

/// The caller's live sessions, one per device; `current` marks the one asking.
#[utoipa::path(
    get,
    path = paths::SESSIONS,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Live sessions", body = Envelope<Vec<Session>>),
        (status = 401, response = Unauthorized),
        (status = "default", response = OtherFailure),
    )
)]

async fn list_sessions(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let sessions: Vec<Session> = sessions::list(&state.auth, &caller.user.id)
        .await?
        .into_iter()
        .map(|s| Session {
            current: s.id == caller.session_id,
            id: s.id,
            device_id: s.device_id,
            device_name: s.device_name,
            app_id: s.app_id,
            created_at: s.created_at / 1000,
            last_used_at: s.last_used_at / 1000,
            expires_at: s.expires_at / 1000,
            ip: s.ip,
            user_agent: s.user_agent,
            remembered: s.remembered != 0,
        })
        .collect();
    Ok(reply(StatusCode::OK, "ok", sessions))
}

/// Revokes one of the caller's sessions.
///
/// Another user's session answers 404, exactly like a session that does not exist. Needs a recent
/// password (`REAUTH_MAX_AGE`), since it ends another device's session.
#[utoipa::path(
    delete,
    path = paths::SESSION,
    tag = "account",
    params(("id" = String, Path, description = "A session id from the list")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked: its refresh token is dead and its access tokens stop working",
            body = Ack),
        (status = 401, response = RecentAuthenticationRequired),
        (status = 404, description = "`not_found`: no such live session of the caller's", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]
async fn delete_session(
    State(state): State<AppState>,
    RecentCaller(caller): RecentCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // Session ids are UUIDs: anything else names no session, and never reaches the database.
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::NotFound);
    }
    sessions::revoke(&state.auth, &id, &caller.user.id).await?;
    Ok(reply(StatusCode::OK, "session revoked", ()))
}
