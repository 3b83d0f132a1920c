//! The JSON envelope every response travels in.

use serde::{Deserialize, Serialize};

/// `{"code", "message", "data", "error"?}`: `code` repeats the HTTP status, `error` appears on failures only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope<T> {
    pub code: u16,
    pub message: String,
    /// Documented as present on successes; failures are documented apart, with `data: null`.
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub data: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
}

impl<T> Envelope<T> {
    pub fn success(code: u16, message: impl Into<String>, data: T) -> Self {
        Self { code, message: message.into(), data: Some(data), error: None }
    }
}

impl Envelope<()> {
    pub fn failure(code: u16, error: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None, error: Some(error) }
    }
}

/// Machine-readable failure codes. Clients branch on these, never on `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingToken,
    InvalidToken,
    TokenExpired,
    InvalidCredentials,
    ValidationFailed,
    EmailTaken,
    /// A password change whose new password is the current one.
    PasswordUnchanged,
    RefreshTokenMissing,
    RefreshTokenInvalid,
    RefreshTokenReused,
    /// The session had no authenticated request for longer than the idle timeout, and has ended.
    SessionIdle,
    /// A sensitive request whose access token's authentication is too old (RFC 9470): enter the
    /// password again (`POST /api/auth/reauthenticate`) and retry. A refresh does not help.
    ReauthenticationRequired,
    /// A password-reset link that is unknown, already used, superseded by a newer one, or expired.
    ResetTokenInvalid,
    /// A cookie-mode request came from another site (its `Origin` or `Sec-Fetch-Site`).
    CsrfRejected,
    RateLimited,
    PayloadTooLarge,
    /// The client took too long to send its request (the body, or the whole request).
    RequestTimeout,
    /// OAuth (RFC 6749 §5.2): a resource server's client authentication failed.
    InvalidClient,
    /// OAuth (RFC 6749 §5.2): a required form parameter is missing or malformed.
    InvalidRequest,
    /// RFC 9449: a DPoP proof that is missing where required, malformed, replayed, or not made for
    /// this request or by the key the session is bound to.
    InvalidDpopProof,
    /// RFC 9449 §8: retry with a proof that carries the nonce of the `DPoP-Nonce` header.
    UseDpopNonce,
    NotFound,
    MethodNotAllowed,
    /// The server is briefly too busy for this request; `Retry-After` says when to try again.
    Unavailable,
    Internal,
    /// A code this build does not know yet; keeps old clients decoding newer servers.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_serialises_with_null_data_and_snake_case_code() {
        let body = serde_json::to_value(Envelope::failure(403, ErrorCode::RefreshTokenReused, "x")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 403, "message": "x", "data": null, "error": "refresh_token_reused"})
        );
    }

    #[test]
    fn success_has_no_error_field() {
        let body = serde_json::to_value(Envelope::success(200, "ok", 7)).unwrap();
        assert_eq!(body, serde_json::json!({"code": 200, "message": "ok", "data": 7}));
    }

    #[test]
    fn unknown_error_codes_still_decode() {
        let env: Envelope<()> =
            serde_json::from_str(r#"{"code":418,"message":"m","data":null,"error":"teapot"}"#).unwrap();
        assert_eq!(env.error, Some(ErrorCode::Unknown));
    }
}
