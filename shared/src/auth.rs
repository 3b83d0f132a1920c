//! Register, login and refresh bodies, and the profile the server returns.

use serde::{Deserialize, Serialize};

/// Every account gets this role; a role sent by a client is ignored.
pub const DEFAULT_ROLE: &str = "user";
/// The only token type the server issues.
pub const TOKEN_TYPE: &str = "Bearer";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// The tutorial's client sends these optional device fields in camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(rename = "appId", default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(rename = "deviceId", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(rename = "deviceName", default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// The refresh body. `Option` so a missing field is the server's `refresh_token_missing`, not a decode error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    #[serde(rename = "refreshToken", default)]
    pub refresh_token: Option<String>,
}

/// A freshly issued token pair. Lifetimes are in seconds from the moment of issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
}

/// Login answers with the token pair and, as the tutorial does, the user beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub username: String,
    pub email: String,
    pub role: String,
}

/// The value of [`TOKEN_DELIVERY_HEADER`] that asks for the refresh token in an `HttpOnly` cookie.
pub const COOKIE_DELIVERY: &str = "cookie";
/// Sent on login, refresh and logout to choose cookie delivery for that request.
pub const TOKEN_DELIVERY_HEADER: &str = "X-Token-Delivery";

/// Login and refresh answers in cookie mode: the access token and the user, and no refresh token (it
/// is in the cookie). Refresh answers carry the user too, so a reloaded page can restore its session
/// with one refresh call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CookieSession {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub username: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: String,
}

/// `GET /api/me`: the caller and the session their access token belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    pub session_id: String,
}
