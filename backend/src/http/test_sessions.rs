//! Test builds only (feature `e2e`): `POST /api/test/sessions?count=N` opens N sessions for the caller
//! at once, without N password hashes, so the herd benchmark can put thousands of real clients in
//! front of the server in seconds. Never in the binary `cargo xtask run` builds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::TokenPair;

use crate::auth::service::subject;
use crate::auth::tokens::seconds_until;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query};
use crate::http::reply::reply;
use crate::http::state::AppState;
use crate::store::NewSession;

/// The path.
pub(crate) const PATH: &str = "/api/test/sessions";
const MAX_COUNT: u32 = 20_000;

#[derive(Debug, Deserialize)]
pub(crate) struct Count {
    count: u32,
}

pub(crate) async fn open_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(Count { count }): Query<Count>,
) -> Result<Response, ApiError> {
    if count > MAX_COUNT {
        return Err(ApiError::Validation(format!("count must be at most {MAX_COUNT}")));
    }
    let auth = &state.auth;
    let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let now = auth.now();
        let key = auth.access.signing_key(now).await.map_err(crate::auth::error::AuthError::from)?;
        let refresh = auth.refresh.generate().map_err(crate::auth::error::AuthError::from)?;
        let (expires_at, max_expires_at) = auth.sessions.initial_expiry(now, true);
        let session = auth
            .store
            .create_session(NewSession {
                user_id: &caller.user.id,
                device_id: None,
                device_name: Some("herd"),
                app_id: None,
                refresh_hash: &refresh.hash(),
                live: auth.sessions.liveness(now),
                expires_at,
                max_expires_at,
                remembered: true,
                ip: None,
                user_agent: None,
                max_sessions: 0,
            })
            .await
            .map_err(crate::auth::error::AuthError::from)?;
        let (access_token, expires_in) = auth
            .access
            .issue(&key, subject(&caller.user, &session.id, None), now)
            .map_err(crate::auth::error::AuthError::from)?;
        pairs.push(TokenPair {
            access_token,
            refresh_token: refresh.into_string(),
            token_type: shared::auth::TOKEN_TYPE.to_owned(),
            expires_in,
            refresh_expires_in: seconds_until(session.expires_at, now),
        });
    }
    Ok(reply(StatusCode::OK, "sessions opened", pairs))
}
