//! Test builds only (feature `e2e`): `POST /api/test/sessions?count=N` opens N sessions for the caller
//! at once, without N password hashes, so the herd benchmark can put thousands of real clients in
//! front of the server in seconds. Never in the binary `cargo xtask run` builds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::TokenPair;

use crate::auth::accounts;
use crate::auth::input::Device;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query};
use crate::http::reply::reply;
use crate::http::state::AppState;

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
    let herd = Device { name: Some("herd".to_owned()), ..Device::default() };
    let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let issued = accounts::start_session(
            &state.auth,
            caller.user.clone(),
            accounts::SessionStart { device: &herd, remember: true, origin: None, dpop_jkt: None },
            0,
        )
        .await?;
        pairs.push(TokenPair {
            access_token: issued.access_token,
            refresh_token: issued.refresh.into_string(),
            token_type: shared::auth::TOKEN_TYPE.to_owned(),
            expires_in: issued.expires_in,
            refresh_expires_in: issued.refresh_expires_in,
        });
    }
    Ok(reply(StatusCode::OK, "sessions opened", pairs))
}
