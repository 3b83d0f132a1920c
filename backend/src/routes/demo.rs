//! Endpoints the demo app uses to show silent refresh at work.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use shared::demo::Echo;
use shared::paths;

use super::{reply, subject};
use crate::error::ApiError;
use crate::extract::{Caller, Query};
use crate::state::AppState;

const MAX_DELAY_MS: u64 = 10_000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(paths::DEMO_ECHO, get(get_echo)).route(paths::DEMO_EXPIRED_TOKEN, post(create_expired_token))
}

#[derive(Debug, Deserialize)]
struct EchoParams {
    #[serde(default)]
    delay_ms: u64,
}

/// A protected call with an optional delay, so a burst of them overlaps a refresh.
async fn get_echo(caller: Caller, Query(params): Query<EchoParams>) -> Result<Response, ApiError> {
    if params.delay_ms > MAX_DELAY_MS {
        return Err(ApiError::Validation(format!("delay_ms must be at most {MAX_DELAY_MS}")));
    }
    tokio::time::sleep(Duration::from_millis(params.delay_ms)).await;
    let echo = Echo { user_id: caller.user.id, session_id: caller.session_id, delay_ms: params.delay_ms };
    Ok(reply(StatusCode::OK, "ok", echo))
}

/// An access token for the caller's session that expired a minute ago: the next request that carries it
/// takes the client's 401 path, which the demo shows live. An expired token grants nothing.
async fn create_expired_token(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let now = state.now();
    let expired_at = now - 60_000;
    let (token, _) =
        state.access.issue_until(subject(&caller.user, &caller.session_id), now, expired_at - 1000..expired_at)?;
    Ok(reply(StatusCode::OK, "ok", shared::demo::ExpiredToken { access_token: token }))
}
