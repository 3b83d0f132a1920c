//! The demo routes' answers (mounted only in demo mode).

use serde::{Deserialize, Serialize};

/// `GET /api/demo/echo`: proves the caller was authenticated, after an optional delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Echo {
    pub user_id: String,
    pub session_id: String,
    pub delay_ms: u64,
    /// Echo calls in progress on this server when this one started its wait, itself included: a burst
    /// that the browser really sent at once shows more than one.
    #[serde(default)]
    pub in_flight: u32,
}

/// `POST /api/demo/expired-token`: an already expired access token for the caller's own session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiredToken {
    pub access_token: String,
}

/// One message of `GET /api/demo/live`: who the stream is for, and how long its token has left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveTick {
    pub user_id: String,
    pub session_id: String,
    /// Seconds until the access token that opened the stream expires; the stream ends then.
    pub token_expires_in: i64,
    /// Messages sent on this stream so far, this one included.
    pub sequence: u64,
}
