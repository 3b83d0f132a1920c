//! Success answers: the envelope around a `shared` type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::UserRecord;

/// A success envelope.
pub(crate) fn reply<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    (status, axum::Json(shared::Envelope::success(status.as_u16(), message, data))).into_response()
}

/// The account as the API shows it (never its password hash).
pub(crate) fn public_user(user: &UserRecord) -> shared::auth::User {
    shared::auth::User {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role.clone(),
    }
}
