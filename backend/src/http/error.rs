//! The API's one error type and its single mapping onto the JSON envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::{Envelope, ErrorCode};

use crate::auth::dpop::ALGORITHMS;
use crate::auth::error::{AuthError, DpopAt};
use crate::store::StoreError;

/// What the HTTP layer answers: a rule's refusal, worded by the rule (`AuthError`), or a refusal of
/// the HTTP layer's own.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A rule refused (bad input, wrong credentials, a token or session that no longer works, a limit),
    /// or failed through the server's fault (a 500 whose cause the log keeps whole).
    #[error(transparent)]
    Refused(AuthError),
    #[error("authentication required")]
    MissingToken,
    #[error("{0}")]
    Validation(String),
    #[error("refresh token is required")]
    RefreshTokenMissing,
    #[error("refused: {0}")]
    CsrfRejected(&'static str),
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the request took too long to arrive")]
    RequestTimeout,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    /// A refusal of a token sent with the `DPoP` scheme: the same answer, with a `DPoP` challenge
    /// instead of a `Bearer` one (RFC 9449 §7.1).
    #[error(transparent)]
    ViaDpop(Box<ApiError>),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(message) => Self::Validation(message),
            AuthError::NoSuchSession => Self::NotFound,
            other => Self::Refused(other),
        }
    }
}

impl ApiError {
    /// True when the presented refresh token can never work again (invalid, expired, revoked, reused).
    pub(crate) fn ends_refresh_token(&self) -> bool {
        matches!(
            self,
            Self::Refused(AuthError::RefreshRefused(_) | AuthError::RefreshTokenReused | AuthError::SessionIdle)
        )
    }

    /// A malformed or unknown access token.
    pub(crate) fn invalid_token() -> Self {
        Self::Refused(AuthError::InvalidToken)
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Refused(refusal) => refusal_status_and_code(refusal),
            Self::ViaDpop(inner) => inner.status_and_code(),
            Self::MissingToken => (StatusCode::UNAUTHORIZED, ErrorCode::MissingToken),
            Self::Validation(_) => (StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed),
            Self::RefreshTokenMissing => (StatusCode::BAD_REQUEST, ErrorCode::RefreshTokenMissing),
            Self::CsrfRejected(_) => (StatusCode::FORBIDDEN, ErrorCode::CsrfRejected),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            Self::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal),
        }
    }
}

fn refusal_status_and_code(refusal: &AuthError) -> (StatusCode, ErrorCode) {
    match refusal {
        AuthError::InvalidToken | AuthError::SessionEnded => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
        AuthError::TokenExpired => (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired),
        AuthError::InvalidCredentials => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials),
        AuthError::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed),
        AuthError::EmailTaken => (StatusCode::CONFLICT, ErrorCode::EmailTaken),
        AuthError::PasswordUnchanged => (StatusCode::CONFLICT, ErrorCode::PasswordUnchanged),
        AuthError::RefreshRefused(_) => (StatusCode::FORBIDDEN, ErrorCode::RefreshTokenInvalid),
        AuthError::RefreshTokenReused => (StatusCode::FORBIDDEN, ErrorCode::RefreshTokenReused),
        AuthError::SessionIdle => (StatusCode::FORBIDDEN, ErrorCode::SessionIdle),
        AuthError::ResetTokenInvalid => (StatusCode::FORBIDDEN, ErrorCode::ResetTokenInvalid),
        AuthError::ReauthenticationRequired { .. } => (StatusCode::UNAUTHORIZED, ErrorCode::ReauthenticationRequired),
        AuthError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
        AuthError::InvalidClient => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient),
        AuthError::NoSuchSession => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        AuthError::DpopProof { at: DpopAt::Token, .. } => (StatusCode::BAD_REQUEST, ErrorCode::InvalidDpopProof),
        AuthError::DpopProof { at: DpopAt::Resource, .. } => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidDpopProof),
        AuthError::DpopNonceRequired { at: DpopAt::Token, .. } => (StatusCode::BAD_REQUEST, ErrorCode::UseDpopNonce),
        AuthError::DpopNonceRequired { at: DpopAt::Resource, .. } => {
            (StatusCode::UNAUTHORIZED, ErrorCode::UseDpopNonce)
        }
        AuthError::DpopBoundToken | AuthError::NotDpopBound => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
        AuthError::DpopBusy => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
        AuthError::Store(_)
        | AuthError::Password(_)
        | AuthError::Signing(_)
        | AuthError::Random(_)
        | AuthError::Interrupted => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    }
}

/// The header that carries the server's DPoP nonce (RFC 9449 §8).
pub(crate) const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");
/// The request header that carries a DPoP proof (RFC 9449 §4.1).
pub(crate) const DPOP: header::HeaderName = header::HeaderName::from_static("dpop");

/// `DPoP algs="…"`, with an error and its description when there is one (RFC 9449 §7.1).
fn dpop_challenge(error: Option<(&str, &str)>) -> HeaderValue {
    let algs = ALGORITHMS.join(" ");
    let value = match error {
        Some((code, description)) => {
            format!(r#"DPoP error="{code}", error_description="{description}", algs="{algs}""#)
        }
        None => format!(r#"DPoP algs="{algs}""#),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("DPoP"))
}

/// `response` with its `Bearer` challenge, if any, said for the `DPoP` scheme.
fn with_dpop_challenge(mut response: Response) -> Response {
    let bearer = response.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
    if let Some(params) = bearer.and_then(|v| v.strip_prefix("Bearer ")) {
        let value = format!(r#"DPoP {params}, algs="{}""#, ALGORITHMS.join(" "));
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

impl ApiError {
    /// This refusal, to a request that used the DPoP scheme when `dpop` says so.
    pub(crate) fn for_scheme(self, dpop: bool) -> Self {
        if dpop && !matches!(self, Self::ViaDpop(_)) { Self::ViaDpop(Box::new(self)) } else { self }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::ViaDpop(inner) = self {
            return with_dpop_challenge(inner.into_response());
        }
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            // The body stays generic; the log gets the whole chain.
            tracing::error!(error = %crate::telemetry::error_chain(&self), "request failed");
        }
        let body = Envelope::failure(status.as_u16(), code, self.to_string());
        let mut response = crate::http::reply::json(status, &body);
        let headers = response.headers_mut();
        match &self {
            // RFC 6750: no error attribute when no token was presented. Either scheme will do
            // (RFC 9449 §7.1).
            Self::MissingToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                headers.append(header::WWW_AUTHENTICATE, dpop_challenge(None));
            }
            Self::Refused(AuthError::InvalidToken | AuthError::SessionEnded | AuthError::TokenExpired) => {
                let value = format!(r#"Bearer error="invalid_token", error_description="{self}""#);
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::Refused(AuthError::DpopBoundToken | AuthError::NotDpopBound) => {
                headers.insert(header::WWW_AUTHENTICATE, dpop_challenge(Some(("invalid_token", &self.to_string()))));
            }
            Self::Refused(AuthError::DpopProof { at: DpopAt::Resource, .. }) => {
                let challenge = dpop_challenge(Some(("invalid_dpop_proof", &self.to_string())));
                headers.insert(header::WWW_AUTHENTICATE, challenge);
            }
            Self::Refused(AuthError::DpopNonceRequired { nonce, at }) => {
                if *at == DpopAt::Resource {
                    let challenge = dpop_challenge(Some(("use_dpop_nonce", &self.to_string())));
                    headers.insert(header::WWW_AUTHENTICATE, challenge);
                }
                if let Ok(nonce) = HeaderValue::from_str(nonce) {
                    headers.insert(DPOP_NONCE, nonce);
                }
            }
            Self::Refused(AuthError::DpopBusy) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            // RFC 9470 §3: the step-up challenge, with the largest age the route accepts.
            Self::Refused(AuthError::ReauthenticationRequired { max_age }) => {
                let value = format!(
                    r#"Bearer error="insufficient_user_authentication", error_description="{self}", max_age={max_age}"#
                );
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::Refused(AuthError::InvalidCredentials) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // RFC 6749 §5.2: a failed client authentication names the scheme the client should use.
            Self::Refused(AuthError::InvalidClient) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="introspection""#));
            }
            Self::Refused(AuthError::RateLimited { retry_after }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}
