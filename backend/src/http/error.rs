//! The API's one error type and its single mapping onto the JSON envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::{Envelope, ErrorCode};

use crate::auth::error::{AuthError, RefreshRefusal};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("authentication required")]
    MissingToken,
    #[error("access token is invalid")]
    InvalidToken,
    #[error("session is no longer active")]
    SessionEnded,
    #[error("access token expired")]
    TokenExpired,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Validation(String),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the new password is the current one")]
    PasswordUnchanged,
    #[error("refresh token is required")]
    RefreshTokenMissing,
    #[error("{0}")]
    RefreshTokenInvalid(RefreshRefusal),
    #[error("refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    #[error("the session was idle for too long and has ended")]
    SessionIdle,
    #[error("refused: {0}")]
    CsrfRejected(&'static str),
    #[error("too many attempts; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the request took too long to arrive")]
    RequestTimeout,
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    /// A rule's failure that is the server's fault, kept whole for the log.
    #[error("internal error")]
    Internal(#[source] AuthError),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(message) => Self::Validation(message),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::EmailTaken => Self::EmailTaken,
            AuthError::PasswordUnchanged => Self::PasswordUnchanged,
            AuthError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            AuthError::InvalidToken => Self::InvalidToken,
            AuthError::TokenExpired => Self::TokenExpired,
            AuthError::SessionEnded => Self::SessionEnded,
            AuthError::NoSuchSession => Self::NotFound,
            AuthError::InvalidClient => Self::InvalidClient,
            AuthError::RefreshRefused(refusal) => Self::RefreshTokenInvalid(refusal),
            AuthError::RefreshTokenReused => Self::RefreshTokenReused,
            AuthError::SessionIdle => Self::SessionIdle,
            AuthError::Store(_)
            | AuthError::Password(_)
            | AuthError::Signing(_)
            | AuthError::Random(_)
            | AuthError::Interrupted => Self::Internal(error),
        }
    }
}

impl ApiError {
    /// True when the presented refresh token can never work again (invalid, expired, revoked, reused).
    pub(crate) fn ends_refresh_token(&self) -> bool {
        matches!(self, Self::RefreshTokenInvalid(_) | Self::RefreshTokenReused | Self::SessionIdle)
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::MissingToken => (StatusCode::UNAUTHORIZED, ErrorCode::MissingToken),
            Self::InvalidToken | Self::SessionEnded => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
            Self::TokenExpired => (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials),
            Self::Validation(_) => (StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed),
            Self::EmailTaken => (StatusCode::CONFLICT, ErrorCode::EmailTaken),
            Self::PasswordUnchanged => (StatusCode::CONFLICT, ErrorCode::PasswordUnchanged),
            Self::RefreshTokenMissing => (StatusCode::BAD_REQUEST, ErrorCode::RefreshTokenMissing),
            Self::RefreshTokenInvalid(_) => (StatusCode::FORBIDDEN, ErrorCode::RefreshTokenInvalid),
            Self::RefreshTokenReused => (StatusCode::FORBIDDEN, ErrorCode::RefreshTokenReused),
            Self::SessionIdle => (StatusCode::FORBIDDEN, ErrorCode::SessionIdle),
            Self::CsrfRejected(_) => (StatusCode::FORBIDDEN, ErrorCode::CsrfRejected),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout),
            Self::InvalidClient => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            Self::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            // The body stays generic; the log gets the whole chain.
            tracing::error!(error = %crate::telemetry::error_chain(&self), "request failed");
        }
        let body = Envelope::failure(status.as_u16(), code, self.to_string());
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            // RFC 6750: no error attribute when no token was presented.
            Self::MissingToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::InvalidToken | Self::SessionEnded | Self::TokenExpired => {
                let value = format!(r#"Bearer error="invalid_token", error_description="{self}""#);
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::InvalidCredentials => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // RFC 6749 §5.2: a failed client authentication names the scheme the client should use.
            Self::InvalidClient => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="introspection""#));
            }
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}
