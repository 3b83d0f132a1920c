//! Endpoints the demo app uses to show silent refresh at work.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::Envelope;
use shared::demo::{Echo, ExpiredToken};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::error::AuthError;
use crate::auth::tokens::access::Subject;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query};
use crate::http::openapi::{Failure, OtherFailure, Unauthorized};
use crate::http::reply::reply;
use crate::http::state::AppState;

const MAX_DELAY_MS: u64 = 10_000;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_echo)).routes(routes!(create_expired_token))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EchoParams {
    /// How long to wait before answering, in milliseconds.
    #[param(maximum = 10_000)]
    #[serde(default)]
    delay_ms: u64,
}

/// A protected call with an optional delay, so a burst of them overlaps a refresh.
#[utoipa::path(
    get,
    path = paths::DEMO_ECHO,
    tag = "demo",
    params(EchoParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller, after the delay", body = Envelope<Echo>),
        (status = 400, description = "`validation_failed`: a delay over 10 000 ms", body = Failure),
        (status = 401, response = Unauthorized),
        (status = "default", response = OtherFailure),
    )
)]
async fn get_echo(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<EchoParams>,
) -> Result<Response, ApiError> {
    if params.delay_ms > MAX_DELAY_MS {
        return Err(ApiError::Validation(format!("delay_ms must be at most {MAX_DELAY_MS}")));
    }
    let counter = &state.echoes_in_flight;
    let in_flight = counter.fetch_add(1, Ordering::SeqCst) + 1;
    // Counted down however the wait ends, a dropped request included.
    let _leaving = count_down_on_drop(counter);
    tokio::time::sleep(Duration::from_millis(params.delay_ms)).await;
    let echo = Echo { user_id: caller.user.id, session_id: caller.session_id, delay_ms: params.delay_ms, in_flight };
    Ok(reply(StatusCode::OK, "ok", echo))
}

/// Decrements `counter` when dropped.
fn count_down_on_drop(counter: &AtomicU32) -> impl Drop + '_ {
    struct Leaving<'a>(&'a AtomicU32);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    Leaving(counter)
}

/// An already expired access token for the caller's session.
///
/// It expired a minute ago: the next request that carries it takes the client's 401 path, which the
/// demo shows live. An expired token grants nothing.
#[utoipa::path(
    post,
    path = paths::DEMO_EXPIRED_TOKEN,
    tag = "demo",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An access token that expired a minute ago", body = Envelope<ExpiredToken>),
        (status = 401, response = Unauthorized),
        (status = "default", response = OtherFailure),
    )
)]
async fn create_expired_token(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let now = state.auth.now();
    let expired_at = now - 60_000;
    let (token, _) = state
        .auth
        .access
        .issue_until(
            Subject {
                user_id: &caller.user.id,
                username: &caller.user.username,
                role: &caller.user.role,
                session_id: &caller.session_id,
                client_id: Some(&caller.client_id),
                auth_time: caller.authentication.time.unwrap_or(0).saturating_mul(1000),
                amr: &caller.authentication.methods.join(","),
                dpop_jkt: caller.dpop_jkt.as_deref(),
            },
            now,
            expired_at - 1000..expired_at,
        )
        .await
        .map_err(AuthError::from)?;
    Ok(reply(StatusCode::OK, "ok", ExpiredToken { access_token: token }))
}
