//! The one seam that knows the server's contract: how to ask for new tokens, what the answer means,
//! how a login answer reads and how to log out. Account operations, which not every server has, are a
//! separate trait ([`AccountProtocol`](crate::AccountProtocol)).
//!
//! [`EnvelopeProtocol`] speaks the contract of this project's server (and of the Express tutorial it
//! keeps compatible with); [`OAuthProtocol`] speaks a standard OAuth 2.0 token endpoint.

mod envelope;
mod oauth;

pub use envelope::EnvelopeProtocol;
pub use oauth::{OAuthGrant, OAuthProtocol};

use crate::error::{ApiErrorBody, ClientError, DecodeError};
use crate::http::{Request, Response};

/// New tokens, as a login or refresh answer carries them. Lifetimes are seconds from now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenGrant {
    /// The new access token.
    pub access_token: String,
    /// The new refresh token; `None` when the server did not rotate it or keeps it in a cookie.
    pub refresh_token: Option<String>,
    /// The access token's lifetime, if the server said.
    pub expires_in: Option<u64>,
    /// The refresh token's lifetime, if the server said.
    pub refresh_expires_in: Option<u64>,
    /// `Bearer`, or `DPoP` for a token bound to the client's DPoP key (RFC 9449 §5); `None` when the
    /// server did not say (Bearer).
    pub token_type: Option<String>,
}

impl TokenGrant {
    /// A grant.
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        expires_in: Option<u64>,
        refresh_expires_in: Option<u64>,
    ) -> Self {
        Self { access_token: access_token.into(), refresh_token, expires_in, refresh_expires_in, token_type: None }
    }

    /// The same grant with the server's `token_type`.
    #[must_use]
    pub fn with_token_type(mut self, token_type: Option<String>) -> Self {
        self.token_type = token_type;
        self
    }

    /// True when the token is DPoP-bound (`token_type: DPoP`, in any case): it is sent with the `DPoP`
    /// scheme and a proof.
    pub fn is_dpop(&self) -> bool {
        self.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("dpop"))
    }
}

/// The token fields of a login or refresh answer, as this server and OAuth 2.0 (RFC 6749 §5.1) both
/// spell them; every field but the access token may be missing.
#[derive(serde::Deserialize)]
struct TokenFields {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

impl From<&TokenFields> for TokenGrant {
    fn from(fields: &TokenFields) -> Self {
        TokenGrant::new(
            fields.access_token.clone(),
            fields.refresh_token.clone(),
            fields.expires_in,
            fields.refresh_expires_in,
        )
        .with_token_type(fields.token_type.clone())
    }
}

/// What a refresh answer means.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// New tokens: store them and replay.
    Rotated(TokenGrant),
    /// The session is over (refused, expired, revoked, reused). Every waiter gets `SessionExpired`.
    Final(ApiErrorBody),
    /// Try again later (network, gateway, overload); the session is kept and the client backs off.
    Transient(String),
}

/// A server's token contract. Implement it to use the client with another server.
pub trait Protocol {
    /// Who is logged in, as read from a login answer. Kept in the session (and in storage), so it
    /// must serialise.
    type User: Clone + serde::Serialize + serde::de::DeserializeOwned + 'static;

    /// The login request as the app built it, with whatever this contract adds (a header choosing how
    /// the refresh token travels, say).
    fn login_request(&self, request: Request) -> Request {
        request
    }

    /// Whether a session can be restored by a refresh call alone, as when the refresh token is an
    /// `HttpOnly` cookie the page never sees (see [`RefreshClient::resume`](crate::RefreshClient::resume)).
    fn resumable(&self) -> bool {
        false
    }

    /// The request that exchanges `refresh_token` for new tokens (`None` when the refresh token is
    /// out of the page's reach, in a cookie).
    fn refresh_request(&self, refresh_token: Option<&str>) -> Request;

    /// What the refresh answer means.
    fn classify_refresh(&self, response: &Response) -> RefreshOutcome;

    /// The tokens and user in a successful login answer.
    fn read_login(&self, response: &Response) -> Result<(TokenGrant, Self::User), ClientError>;

    /// The request that ends the session on the server (sent with the access token as bearer);
    /// `None` if the server has none.
    fn logout_request(&self, refresh_token: Option<&str>) -> Option<Request>;

    /// A successful answer's payload as `D`; the whole body as JSON unless the server wraps it.
    fn read_body<D: serde::de::DeserializeOwned>(&self, response: &Response) -> Result<D, DecodeError> {
        response.json()
    }

    /// What a failure answer says (used for [`ClientError::Api`]).
    fn read_error(&self, response: &Response) -> ApiErrorBody {
        ApiErrorBody::new(None, format!("HTTP {}", response.status))
    }
}
