//! Request extractors: JSON and query bodies whose rejections use the envelope, and the authenticated
//! caller.

use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::auth::sessions::{live_session_user, verify_access_token};
use crate::auth::tokens::access::AccessClaims;
use crate::http::dpop::{Scheme, access_token, check_binding};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::store::UserRecord;

/// `axum::Json`, but a bad body answers with the envelope: 413 when too large, 400 otherwise
/// (malformed JSON, a wrong content type, a missing or ill-typed field).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub(crate) T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge;
        }
        Self::Validation(rejection.body_text())
    }
}

/// A JSON body, or `T::default()` when the request has neither a body nor a `Content-Type` (a plain
/// `fetch` that sends only a header, as cookie-mode refresh and logout do). A body that is there must
/// still be JSON.
#[derive(Debug)]
pub(crate) struct JsonOrEmpty<T>(pub(crate) T);

impl<T, S> FromRequest<S> for JsonOrEmpty<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            let Json(value) = Json::<T>::from_request(request, state).await?;
            return Ok(Self(value));
        }
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::Validation("cannot read the request body".into()))?;
        if body.is_empty() {
            return Ok(Self(T::default()));
        }
        Err(ApiError::Validation("Expected request with `Content-Type: application/json`".into()))
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub(crate) T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Validation(rejection.body_text())
    }
}

/// `axum::Form` (a form-encoded body), whose rejection is OAuth's `invalid_request` in the envelope.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub(crate) struct Form<T>(pub(crate) T);

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        Self::InvalidRequest(rejection.body_text())
    }
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: id and secret form-encoded, then base64), if the
/// request carries them; `None` for no or another scheme.
#[derive(Debug)]
pub(crate) struct BasicCredentials(pub(crate) Option<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for BasicCredentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
        let Some(header) = headers.next() else { return Ok(Self(None)) };
        if headers.next().is_some() {
            return Err(ApiError::Validation("the request has more than one Authorization header".into()));
        }
        Ok(Self(header.to_str().ok().and_then(basic_credentials)))
    }
}

fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let unescape = |part: &str| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
        pairs.into_iter().next().map(|(_, value)| value)
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// A verified access token: signature, `typ`, `iss`, `aud` and `exp` checked, and for a DPoP-bound
/// token the proof by its key (`http/dpop.rs`); the session not consulted.
/// Enough for logout, which must stay idempotent after the session is gone.
#[derive(Debug)]
pub(crate) struct Claims(pub(crate) AccessClaims);

impl FromRequestParts<AppState> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (scheme, token) = access_token(parts)?;
        let dpop = scheme == Scheme::Dpop;
        let claims = verify_access_token(&state.auth, token).await.map_err(|e| ApiError::from(e).for_scheme(dpop))?;
        check_binding(parts, state, scheme, token, &claims)?;
        Ok(Self(claims))
    }
}

/// The authenticated caller: a valid access token whose session is still live. Checking the session
/// makes logout and revocation take effect at once instead of when the access token expires.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) user: UserRecord,
    pub(crate) session_id: String,
    /// The client the session was opened by, as the token says.
    pub(crate) client_id: String,
    /// The token's `auth_time` and `amr`.
    pub(crate) authentication: Authentication,
    /// The DPoP key the token is bound to (`cnf.jkt`), proved by this request.
    pub(crate) dpop_jkt: Option<String>,
}

/// When (seconds) and how the user behind a token last proved who they are, as the token says.
#[derive(Debug, Clone)]
pub(crate) struct Authentication {
    pub(crate) time: Option<i64>,
    pub(crate) methods: Vec<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Claims(claims) = Claims::from_request_parts(parts, state).await?;
        // A bound token came with the DPoP scheme (the binding was checked): so does the challenge.
        let dpop = claims.cnf.is_some();
        let user = live_session_user(&state.auth, &claims).await.map_err(|e| ApiError::from(e).for_scheme(dpop))?;
        let authentication = Authentication { time: claims.auth_time, methods: claims.amr };
        let dpop_jkt = claims.cnf.map(|cnf| cnf.jkt);
        Ok(Self { user, session_id: claims.sid, client_id: claims.client_id, authentication, dpop_jkt })
    }
}

/// A caller who proved who they are recently enough for a sensitive request (`REAUTH_MAX_AGE`,
/// RFC 9470); otherwise 401 `reauthentication_required` with the step-up challenge.
#[derive(Debug)]
pub(crate) struct RecentCaller(pub(crate) Caller);

impl FromRequestParts<AppState> for RecentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let auth = &state.auth;
        let dpop = caller.dpop_jkt.is_some();
        auth.sessions
            .require_recent_authentication(caller.authentication.time, auth.now())
            .map_err(|e| ApiError::from(e).for_scheme(dpop))?;
        Ok(Self(caller))
    }
}

/// The client's address, for throttling: the peer, or behind a trusted proxy the address it appended
/// last to `X-Forwarded-For` (earlier entries are whatever the client claimed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
        if !state.trust_forwarded_for {
            return Ok(Self(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|last| last.trim().parse().ok());
        Ok(Self(forwarded.unwrap_or(peer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        use base64::Engine as _;
        let header = |raw: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        assert_eq!(basic_credentials(&header("rs:s3cret%3Apart")), Some(("rs".into(), "s3cret:part".into())));
        assert_eq!(basic_credentials(&header("a%20b:c+d")), Some(("a b".into(), "c d".into())));
        for bad in ["Bearer x", "Basic !!!", "Basic", &header("no-colon")] {
            assert_eq!(basic_credentials(bad), None, "{bad}");
        }
    }
}
