//! Sessions: one per logged-in device.

use serde::{Deserialize, Serialize};

/// One active session. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The client address at login (behind a trusted proxy, the one it forwarded).
    #[serde(default)]
    pub ip: Option<String>,
    /// The browser or program at login, at most 256 characters.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// False for a session the user did not ask to be remembered.
    #[serde(default = "remembered_by_default")]
    pub remembered: bool,
}

fn remembered_by_default() -> bool {
    true
}
