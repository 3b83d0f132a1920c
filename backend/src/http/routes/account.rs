//! The caller's own profile.

use axum::http::StatusCode;
use axum::response::Response;
use shared::Envelope;
use shared::auth::Me;
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::http::extract::Caller;
use crate::http::openapi::{OtherFailure, Unauthorized};
use crate::http::reply::{public_user, reply};

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_me))
}

/// The caller and the session their access token belongs to.
#[utoipa::path(
    get,
    path = paths::ME,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Envelope<Me>),
        (status = 401, response = Unauthorized),
        (status = "default", response = OtherFailure),
    )
)]

async fn get_me(caller: Caller) -> Response {
    let me = Me { user: public_user(&caller.user), session_id: caller.session_id };
    reply(StatusCode::OK, "ok", me)
}
