//! Standard OAuth endpoints for other services: the authorization-server metadata (RFC 8414), token
//! introspection (RFC 7662) and token revocation (RFC 7009). Their answers are the RFCs' own JSON,
//! not the envelope; their failures are the envelope, whose `error` member is the OAuth error code.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::oauth::{AuthorizationServerMetadata, Confirmation, Introspection, TokenForm};
use shared::paths;
use utoipa_axum::routes;

use super::Routes;
use crate::auth::dpop::ALGORITHMS;
use crate::auth::oauth::{self, Introspection as Found};
use crate::auth::tokens::access::Signer;
use crate::http::delivery::{Delivery, clear_refresh_cookie, refresh_cookie};
use crate::http::error::ApiError;
use crate::http::extract::{BasicCredentials, ClientIp, Form};
use crate::http::openapi::{DeliveryHeader, Failure, OtherFailure};
use crate::http::reply::reply;
use crate::http::state::AppState;

pub(super) fn router() -> Routes {
    Routes::default().routes(routes!(get_metadata)).routes(routes!(introspect)).routes(routes!(revoke))
}

/// Authorization-server metadata (RFC 8414).
///
/// `issuer` equals every access token's `iss`; endpoints are absolute URLs under it.
#[utoipa::path(
    get,
    path = paths::OAUTH_METADATA,
    tag = "oauth",
    responses((status = 200, description = "The metadata document", body = AuthorizationServerMetadata))
)]
async fn get_metadata(State(state): State<AppState>) -> Response {
    let issuer = state.auth.access.issuer().to_owned();
    let algorithms = match state.auth.access.signer() {
        Signer::Ring(ring) => ring.algorithms(state.auth.now()).into_iter().map(|a| a.jose().to_owned()).collect(),
        Signer::Hs256 { .. } => vec!["HS256".to_owned()],
    };
    let metadata = AuthorizationServerMetadata {
        jwks_uri: format!("{issuer}{}", paths::JWKS),
        introspection_endpoint: format!("{issuer}{}", paths::INTROSPECT),
        introspection_endpoint_auth_methods_supported: vec!["client_secret_basic".into()],
        revocation_endpoint: format!("{issuer}{}", paths::REVOKE),
        revocation_endpoint_auth_methods_supported: vec!["none".into()],
        response_types_supported: Vec::new(),
        access_token_signing_alg_values_supported: algorithms,
        dpop_signing_alg_values_supported: state
            .auth
            .dpop
            .binds()
            .then(|| ALGORITHMS.iter().map(|&alg| alg.to_owned()).collect()),
        issuer,
    };
    Json(metadata).into_response()
}

/// Token introspection (RFC 7662) for resource servers.
///
/// HTTP Basic with an `INTROSPECTION_CLIENTS` id and secret (throttled like a login). An access token
/// whose session is live, or the current refresh token of a live session, is `active` with its
/// fields; anything else (expired, revoked, logged out, reused, malformed, an unknown key) answers
/// exactly `{"active": false}`.
#[utoipa::path(
    post,
    path = paths::INTROSPECT,
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "What the token is now", body = Introspection),
        (status = 400, description = "`invalid_request`: no `token`, or a body that is not a form", body = Failure),
        (status = 401, description = "`invalid_client`: missing or wrong client credentials",
            body = Failure, headers(("WWW-Authenticate" = String, description = "`Basic realm=\"introspection\"`"))),
        (status = 429, description = "`rate_limited`: too many failed client authentications", body = Failure),
        (status = "default", response = OtherFailure),
    )
)]
async fn introspect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    BasicCredentials(credentials): BasicCredentials,
    Form(form): Form<TokenForm>,
) -> Result<Response, ApiError> {
    let credentials = credentials.as_ref().map(|(id, secret)| (id.as_str(), secret.as_str()));
    oauth::authenticate_client(&state.auth, credentials, ip).await?;
    let token =
        form.token.filter(|t| !t.is_empty()).ok_or_else(|| ApiError::InvalidRequest("token is required".into()))?;
    let answer = match oauth::introspect(&state.auth, token.trim()).await? {
        Found::Inactive => Introspection::default(),
        Found::Access(claims) => Introspection {
            active: true,
            sub: Some(claims.sub),
            client_id: Some(claims.client_id),
            username: Some(claims.username),
            // RFC 9449 §6.2: a bound access token is of type DPoP.
            token_type: Some(if claims.cnf.is_some() { "DPoP" } else { "access_token" }.into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            sid: Some(claims.sid),
            auth_time: claims.auth_time,
            amr: (!claims.amr.is_empty()).then_some(claims.amr),
            cnf: claims.cnf.map(|cnf| Confirmation { jkt: cnf.jkt }),
        },
        Found::Refresh(session) => Introspection {
            active: true,
            sub: Some(session.user_id),
            client_id: Some(state.auth.access.client_id(session.app_id.as_deref()).to_owned()),
            username: None,
            token_type: Some("refresh_token".into()),
            exp: Some(session.expires_at / 1000),
            iat: Some(session.created_at / 1000),
            iss: Some(state.auth.access.issuer().to_owned()),
            aud: None,
            sid: Some(session.id),
            auth_time: Some(session.auth_time / 1000),
            amr: Some(session.amr.split(',').map(str::to_owned).collect()),
            cnf: session.dpop_jkt.map(|jkt| Confirmation { jkt }),
        },
    };
    Ok(Json(answer).into_response())
}

/// Token revocation (RFC 7009).
///
/// A refresh token or an access token ends its session; unknown, expired or already revoked tokens
/// answer 200 too. Public: possessing the token is the authority. In cookie mode the cookie's session
/// is revoked when the form names no token, and the cookie is cleared.
#[utoipa::path(
    post,
    path = paths::REVOKE,
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    params(DeliveryHeader),
    responses(
        (status = 200, description = "Revoked (or there was nothing to revoke)", body = crate::http::openapi::Ack),
        (status = 400, description = "`invalid_request`: no `token` (and, in cookie mode, no cookie)", body = Failure),
        (status = 403, response = crate::http::openapi::CsrfRejected),
        (status = "default", response = OtherFailure),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    delivery: Delivery,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, ApiError> {
    let token = form.token.filter(|t| !t.trim().is_empty());
    let cookie = match delivery {
        Delivery::Cookie(prefix) => refresh_cookie(&headers, prefix),
        Delivery::Body => None,
    };
    if token.is_none() && cookie.is_none() {
        return Err(ApiError::InvalidRequest("token is required".into()));
    }
    for token in token.iter().map(|t| t.trim()).chain(cookie) {
        oauth::revoke(&state.auth, token).await?;
    }
    let mut response = reply(StatusCode::OK, "revoked", ());
    if delivery.is_cookie() {
        clear_refresh_cookie(&mut response);
    }
    Ok(response)
}
