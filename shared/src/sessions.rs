//! Sessions (one per logged-in device), the health probe, counters and the demo endpoint.

use serde::{Deserialize, Serialize};

/// One active session. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub app_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// True for the session of the access token that asked.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// Counters of this server process since it started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub logins: u64,
    /// Refresh calls answered with a token pair, grace-window answers included.
    pub refreshes: u64,
    /// Of those, the ones answered from the grace window.
    pub grace_refreshes: u64,
    pub reuse_detected: u64,
}

/// `GET /api/demo/echo`: proves the caller was authenticated, after an optional delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Echo {
    pub user_id: String,
    pub session_id: String,
    pub delay_ms: u64,
}

/// `POST /api/demo/expired-token`: an already expired access token for the caller's own session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiredToken {
    pub access_token: String,
}
