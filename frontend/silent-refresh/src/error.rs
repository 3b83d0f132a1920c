//! What a call through the client can come to.

use std::fmt;
use std::sync::Arc;

/// Why a call failed. Every variant that wraps a lower-level failure keeps it as its
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientError {
    /// No answer (offline, DNS, connection refused, CORS), or a transient failure of the refresh
    /// endpoint. The session is kept; try again later.
    Network(TransportError),
    /// The session is over: the refresh was refused, the session was revoked, or it was logged out or
    /// replaced by a newer login. Its tokens have been forgotten.
    SessionExpired,
    /// The server answered with a failure status.
    Api {
        /// The HTTP status.
        status: u16,
        /// What the protocol read from the body.
        body: ApiErrorBody,
    },
    /// The server answered with something that is not what was expected.
    Decode(DecodeError),
    /// The request could not be built (its body would not encode); nothing was sent.
    InvalidRequest(String),
    /// The server wants the user to prove who they are again before it does this (RFC 9470's step-up
    /// challenge). The session is fine and was not refreshed (a refresh would not help): ask for the
    /// password, call [`RefreshClient::reauthenticate`](crate::RefreshClient::reauthenticate) and
    /// send the request again.
    ReauthRequired {
        /// How recent, in seconds, the server wants the authentication to be, when it said.
        max_age: Option<u64>,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(error) => write!(f, "network error: {error}"),
            Self::SessionExpired => f.write_str("your session has ended; please log in again"),
            Self::Api { body, .. } => f.write_str(&body.message),
            Self::Decode(error) => write!(f, "unexpected answer from the server: {error}"),
            Self::InvalidRequest(why) => write!(f, "the request could not be built: {why}"),
            Self::ReauthRequired { .. } => f.write_str("please enter your password again to do this"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Network(error) => Some(error),
            Self::Decode(error) => Some(error),
            Self::SessionExpired | Self::Api { .. } | Self::InvalidRequest(_) | Self::ReauthRequired { .. } => None,
        }
    }
}

impl From<TransportError> for ClientError {
    fn from(error: TransportError) -> Self {
        Self::Network(error)
    }
}

impl From<DecodeError> for ClientError {
    fn from(error: DecodeError) -> Self {
        Self::Decode(error)
    }
}

/// A failure answer, reduced to what callers branch on and show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// A machine-readable code, when the server sent one (`refresh_token_reused`, `invalid_grant`).
    pub code: Option<String>,
    /// A message for people.
    pub message: String,
}

impl ApiErrorBody {
    /// A body with the given code and message.
    pub fn new(code: Option<String>, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The request got no HTTP answer. Keeps the transport's own error as its source.
#[derive(Debug, Clone)]
pub struct TransportError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A failure described in words only.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// A failure caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { message: message.into(), source: Some(Arc::new(source)) }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An answer could not be read. Keeps the JSON error as its source when there is one.
#[derive(Debug, Clone)]
pub struct DecodeError {
    message: String,
    source: Option<Arc<serde_json::Error>>,
}

impl DecodeError {
    /// A failure described in words only.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }
}

impl From<serde_json::Error> for DecodeError {
    fn from(error: serde_json::Error) -> Self {
        Self { message: error.to_string(), source: Some(Arc::new(error)) }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Storage refused to save the session (full, disabled or blocked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(String);

impl StorageError {
    /// A refusal, with the store's reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The store's reason.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot save the session: {}", self.0)
    }
}

impl std::error::Error for StorageError {}
