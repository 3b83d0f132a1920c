//! `POST /api/auth/refresh-token`: rotate the presented refresh token (from the body, or from the
//! cookie in cookie mode) and answer with new tokens.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use shared::Envelope;
use shared::auth::RefreshRequest;
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::dpop::TokenRequest;
use crate::auth::refresh::refresh;
use crate::http::delivery::{Delivery, refresh_cookie};
use crate::http::dpop::DpopProof;
use crate::http::error::ApiError;
use crate::http::extract::JsonOrEmpty;
use crate::http::openapi::{DeliveryHeader, DpopHeader, Failure, OtherFailure, RefreshData};
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(refresh_token))
}

/// Rotates the refresh token and issues a new access token.
///
/// The presented refresh token is spent and a successor issued. Presenting it again within the grace
/// window (`REFRESH_REUSE_GRACE`) returns that same successor; later, or a token two
/// generations back, is reuse and ends the whole session.
#[utoipa::path(
    post,
    path = paths::REFRESH,
    tag = "auth",
    request_body(content = RefreshRequest, description = "Body mode; in cookie mode the body may be `{}`, or \
        absent altogether (no body and no `Content-Type`, as a plain `fetch` sends it)"),
    params(DeliveryHeader, DpopHeader),
    security((), ("refreshCookie" = [])),
    responses(
        (status = 200, description = "New tokens. In cookie mode `data` has the access token and the user, and the \
            cookie is replaced", body = Envelope<RefreshData>,
            headers(("Set-Cookie" = String, description = "Cookie mode only: the successor refresh token"))),
        (status = 400, description = "`refresh_token_missing`, or `validation_failed` for a malformed body or \
            for a refresh token in the body in cookie mode (the cookie is then the only source); `invalid_dpop_proof` \
            (the session is bound to a DPoP key and the request has no proof by it, or a bad one: nothing changes) or \
            `use_dpop_nonce` (retry with the nonce of the `DPoP-Nonce` header)", body = Failure),
        (status = 403, description = "`refresh_token_invalid` (unknown, expired, or its session ended; `message` \
            says which), `refresh_token_reused` (the session is now revoked), `session_idle` (no authenticated request \
            for longer than `SESSION_IDLE_TIMEOUT`: the session has ended), or `csrf_rejected`", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]

async fn refresh_token(
    State(state): State<AppState>,
    delivery: Delivery,
    dpop: DpopProof,
    headers: HeaderMap,
    JsonOrEmpty(body): JsonOrEmpty<RefreshRequest>,
) -> Response {
    let result = async {
        let presented = presented_token(delivery, &headers, &body)?;
        let target = dpop.target();
        let proven = state.auth.token_endpoint_dpop_key(dpop.proof(), &target, TokenRequest::Refresh).await?;
        let issued = refresh(&state.auth, presented, proven.as_ref()).await?;
        Ok(delivery.answer("token refreshed", issued, delivery.is_cookie()))
    };
    delivery.respond(result.await)
}

/// The token to rotate: the body's in body mode, the cookie's in cookie mode (never both).
fn presented_token<'a>(
    delivery: Delivery,
    headers: &'a HeaderMap,
    body: &'a RefreshRequest,
) -> Result<&'a str, ApiError> {
    let in_body = body.refresh_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let raw = match delivery {
        Delivery::Body => in_body,
        Delivery::Cookie(_) if in_body.is_some() => {
            return Err(ApiError::Validation("in cookie mode the refresh token comes from the cookie only".into()));
        }
        Delivery::Cookie(prefix) => refresh_cookie(headers, prefix).filter(|t| !t.is_empty()),
    };
    raw.ok_or(ApiError::RefreshTokenMissing)
}
