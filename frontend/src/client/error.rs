//! What a call through the client can come to.

use shared::ErrorCode;

/// The server's failure envelope, reduced to what callers branch on and show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub error: Option<ErrorCode>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No answer, or a gateway error while refreshing. The session is kept; try again later.
    Network(String),
    /// The session is over (refresh refused, revoked, or logged out). Storage has been cleared.
    SessionExpired,
    /// The server answered with a failure envelope.
    Api { status: u16, body: ApiErrorBody },
    /// The server answered with something that is not the expected JSON.
    Decode(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(reason) => write!(f, "network error: {reason}"),
            Self::SessionExpired => f.write_str("your session has ended; please log in again"),
            Self::Api { body, .. } => f.write_str(&body.message),
            Self::Decode(reason) => write!(f, "unexpected answer from the server: {reason}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// Builds `Api` from a failure response, keeping the envelope's code and message when present.
    pub(crate) fn from_response(status: u16, body: &str) -> Self {
        let envelope = serde_json::from_str::<shared::Envelope<serde_json::Value>>(body).ok();
        let body = match envelope {
            Some(envelope) => ApiErrorBody { error: envelope.error, message: envelope.message },
            None => ApiErrorBody { error: None, message: format!("HTTP {status}") },
        };
        Self::Api { status, body }
    }
}
