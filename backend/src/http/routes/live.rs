//! `GET /api/demo/live`: a server-sent-events stream authenticated by an access token in the
//! `Authorization` header, for the demo's live connection. The demo reads it with `fetch` and a streamed
//! body rather than `EventSource`, which cannot send headers and would put the token in the URL, where
//! logs and history keep it (RFC 6750 §2.3). The stream ends when the token expires or its session
//! ends, and the client reconnects with a fresh token.

use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use shared::demo::LiveTick;
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::sessions::live_session_user;
use crate::http::error::ApiError;
use crate::http::extract::Claims;
use crate::http::openapi::{Failure, OtherFailure};
use crate::http::state::AppState;

const TICK: Duration = Duration::from_secs(1);

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_live))
}

/// A live stream of `LiveTick`s, one a second, while the token and its session are valid.
#[utoipa::path(
    get,
    path = paths::DEMO_LIVE,
    tag = "demo",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-sent events, each a `LiveTick` as JSON", body = LiveTick,
            content_type = "text/event-stream"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`: the token cannot open a stream", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]
async fn get_live(State(state): State<AppState>, Claims(claims): Claims) -> Result<Response, ApiError> {
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
