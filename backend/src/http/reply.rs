//! Answers in JSON: the success envelope around a `shared` type, and the one way every JSON answer
//! (errors included) is built.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::UserRecord;

/// A success envelope.
pub(crate) fn reply<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    json(status, &shared::Envelope::success(status.as_u16(), message, data))
}

/// `axum::Json`'s answer, built by `json_bytes`.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes(status, Bytes::from(bytes)),
        // Only a type whose `Serialize` can fail (a map with non-string keys): a bug, reported as
        // `axum::Json` would.
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// A JSON body already rendered, with room in its header map for every header the layers add (the
/// envelope's security headers and id, the route's caching rule, a challenge): growing the map later
/// reallocates and rehashes it, which cost a cheap route more than its handler.
pub(crate) fn json_bytes(status: StatusCode, bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(ANSWER_HEADERS);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// How many headers an answer of ours may carry: the map is allocated once for them.
const ANSWER_HEADERS: usize = 12;

/// The account as the API shows it (never its password hash).
pub(crate) fn public_user(user: &UserRecord) -> shared::auth::User {
    shared::auth::User {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role.clone(),
    }
}
