//! The caller's own profile.

use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::auth::Me;
use shared::paths;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{public_user, reply};
use crate::extract::Caller;
use crate::openapi::Failure;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me))
}

/// The caller and the session their access token belongs to.
#[utoipa::path(
    get,
    path = paths::ME,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Envelope<Me>),
        (status = 401, description = "`missing_token`, `invalid_token` (also a revoked or ended session) or `token_expired`, with `WWW-Authenticate: Bearer`", body = Failure),
        (status = "default", description = "Any other failure: `payload_too_large` (413), `method_not_allowed` (405), `internal` (500, or 503 when the database is down)", body = Failure),
    )
)]

async fn get_me(caller: Caller) -> Response {
    let me = Me { user: public_user(&caller.user), session_id: caller.session_id };
    reply(StatusCode::OK, "ok", me)
}
