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
}
