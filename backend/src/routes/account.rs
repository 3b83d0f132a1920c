//! The caller's own profile.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use shared::auth::Me;
use shared::paths;

use super::{public_user, reply};
use crate::extract::Caller;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(paths::ME, get(get_me))
}

async fn get_me(caller: Caller) -> Response {
    let me = Me { user: public_user(&caller.user), session_id: caller.session_id };
    reply(StatusCode::OK, "ok", me)
}
