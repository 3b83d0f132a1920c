//! The caller's sessions (one per device): list and revoke.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use shared::paths;
use shared::sessions::Session;

use super::reply;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(paths::SESSIONS, get(list_sessions)).route(&paths::session("{id}"), delete(delete_session))
}

async fn list_sessions(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let sessions = state.store.active_sessions(&caller.user.id, state.now()).await?;
    let sessions: Vec<Session> = sessions
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
        })
        .collect();
    Ok(reply(StatusCode::OK, "ok", sessions))
}

/// Another user's session answers 404, exactly like a session that does not exist.
async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state.store.revoke_session(&id, &caller.user.id, state.now(), "revoked").await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(session_id = %id, by_session = %caller.session_id, "session revoked");
    Ok(reply(StatusCode::OK, "session revoked", ()))
}
