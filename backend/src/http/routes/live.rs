//! `GET /api/demo/live`: a server-sent-events stream authenticated by an access token, for the demo's
//! live connection. `EventSource` cannot send headers, so the token comes in the query. The stream ends
//! when the token expires or its session ends, and the client reconnects with a fresh token.

use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::demo::LiveTick;
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::sessions::{live_session_user, verify_access_token};
use crate::http::error::ApiError;
use crate::http::extract::Query;
use crate::http::openapi::{Failure, OtherFailure};
use crate::http::state::AppState;

const TICK: Duration = Duration::from_secs(1);

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_live))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LiveParams {
    /// An access token (`EventSource` cannot send an `Authorization` header).
    access_token: String,
}

/// A live stream of `LiveTick`s, one a second, while the token and its session are valid.
#[utoipa::path(
    get,
    path = paths::DEMO_LIVE,
    tag = "demo",
    params(LiveParams),
    responses(
        (status = 200, description = "Server-sent events, each a `LiveTick` as JSON", body = LiveTick,
            content_type = "text/event-stream"),
        (status = 400, description = "`validation_failed`: no `access_token`", body = Failure),
        (status = 401, description = "`invalid_token`, `token_expired`: the token cannot open a stream", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]
async fn get_live(State(state): State<AppState>, Query(params): Query<LiveParams>) -> Result<Response, ApiError> {
    let claims = verify_access_token(&state.auth, &params.access_token).await?;
    live_session_user(&state.auth, &claims).await?;
    let ticks = futures::stream::unfold((state, claims, 0u64), |(state, claims, sequence)| async move {
        if sequence > 0 {
            tokio::time::sleep(TICK).await;
        }
        let left = claims.exp - state.auth.now() / 1000;
        // A token past its expiry, or a session ended meanwhile, closes the stream.
        if left <= 0 || live_session_user(&state.auth, &claims).await.is_err() {
            return None;
        }
        let tick = LiveTick {
            user_id: claims.sub.clone(),
            session_id: claims.sid.clone(),
            token_expires_in: left,
            sequence: sequence + 1,
        };
        let event = Event::default().json_data(&tick).ok()?;
        Some((Ok::<_, std::convert::Infallible>(event), (state, claims, sequence + 1)))
    });
    Ok(Sse::new(ticks).keep_alive(KeepAlive::default()).into_response())
}
