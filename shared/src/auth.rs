//! Register, login and refresh bodies, and the profile the server returns.

use serde::{Deserialize, Serialize};

/// Every account gets this role; a role sent by a client is ignored.
pub const DEFAULT_ROLE: &str = "user";
/// The token type of a session that is not bound to a key.
pub const TOKEN_TYPE: &str = "Bearer";
/// The token type of a session bound to a DPoP key (RFC 9449 §5): its access tokens are sent with
/// `Authorization: DPoP` and a proof by that key.
pub const DPOP_TOKEN_TYPE: &str = "DPoP";
/// The request header that carries a DPoP proof, and the answer header that carries the nonce.
pub const DPOP_HEADER: &str = "DPoP";
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";

/// What the server accepts, in characters (Unicode scalar values), after trimming where noted. The
/// OpenAPI schemas below repeat these numbers as literals (the derive takes no constants); the
/// backend's OpenAPI test keeps them equal.
pub mod limits {
    /// An email address, trimmed.
    pub const MAX_EMAIL_CHARS: usize = 254;
    /// A username, trimmed.
    pub const MAX_USERNAME_CHARS: usize = 64;
    /// `deviceId`, `deviceName` and `appId`, trimmed.
    pub const MAX_DEVICE_FIELD_CHARS: usize = 128;
    /// The longest password accepted; longer ones are refused before any hashing (a cheap DoS
    /// otherwise).
    pub const MAX_PASSWORD_CHARS: usize = 128;
    /// The shortest password a new account may have.
    pub const MIN_NEW_PASSWORD_CHARS: usize = 8;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// Trimmed; must not be blank. Enforced with the PRECIS Nickname profile (RFC 8266): spaces folded,
    /// control and invisible characters refused. The pattern is the ASCII part of what is accepted.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64, pattern = r"^[ -~]*[!-~][ -~]*$"))]
    pub username: String,
    /// Trimmed; `local@domain.tld`, in any script (RFC 6531), the domain valid under IDNA (UTS #46).
    /// Control, invisible and private-use characters and spaces are refused, and so is an address that
    /// looks like an existing account's. The pattern is the ASCII part of what is accepted: any printable
    /// local part, and domain labels of letters, digits and inner hyphens.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^[ \t\r\n]*[!-?A-~]+@[A-Za-z0-9](?:[A-Za-z0-9]|[A-Za-z0-9-][A-Za-z0-9]|[A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9-]{0,59}[A-Za-z0-9]|-[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?))?(?:\.[A-Za-z0-9](?:[A-Za-z0-9]|[A-Za-z0-9-][A-Za-z0-9]|[A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9-]{0,59}[A-Za-z0-9]|-[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?))?)+[ \t\r\n]*$"
        )
    )]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub password: String,
}

/// The tutorial's client sends these optional device fields in camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// Any address-like text, enforced as at sign-up: one of another shape matches no account, and one
    /// with control or invisible characters is refused. The pattern is the ASCII part of what is
    /// accepted.
    #[cfg_attr(feature = "openapi", schema(max_length = 254, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$"))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, format = Password))]
    pub password: String,
    #[serde(rename = "appId", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub app_id: Option<String>,
    /// A login from a device that already has a session replaces that session.
    #[serde(rename = "deviceId", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub device_id: Option<String>,
    #[serde(rename = "deviceName", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub device_name: Option<String>,
    /// "Remember me". Absent means `true`. `false`: in cookie mode the refresh cookie dies with the
    /// browser, and in both modes the session lives at most `SESSION_TTL_NOT_REMEMBERED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember: Option<bool>,
}

/// `POST /api/account/password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    #[serde(rename = "currentPassword")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, format = Password))]
    pub current_password: String,
    /// The sign-up rules apply.
    #[serde(rename = "newPassword")]
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub new_password: String,
}

/// `POST /api/account/password-reset/request`: where to send a reset link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetRequest {
    /// Any address a login would accept: the pattern is the ASCII part of what is accepted.
    #[cfg_attr(feature = "openapi", schema(max_length = 254, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$"))]
    pub email: String,
}

/// `POST /api/account/password-reset/confirm`: the token from the link and the new password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetConfirm {
    /// As the link carried it; a token of another shape is refused like an unknown one (403).
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub token: String,
    /// The sign-up rules apply.
    #[serde(rename = "newPassword")]
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub new_password: String,
}

/// `POST /api/auth/reauthenticate`: the caller's password, entered again for a sensitive request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReauthenticateRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, format = Password))]
    pub password: String,
}

/// A re-authentication's answer: a new access token for the same session, whose `auth_time` is now.
/// No refresh token: the session's refresh chain goes on unchanged, in either delivery mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reauthenticated {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    /// When the password was entered, in seconds since the epoch (the token's `auth_time`).
    pub auth_time: i64,
}

/// `POST /api/auth/logout-others` and a password change: how many other sessions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OthersRevoked {
    pub revoked: u64,
}

/// The refresh body. `Option` so a missing field is the server's `refresh_token_missing`, not a decode error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// Absent in cookie mode; empty counts as absent.
    #[serde(rename = "refreshToken", default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
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
/// The cookie that carries the refresh token in cookie mode. `__Host-`: only ever set by this exact
/// host, over a secure channel, for `Path=/`, never for a parent domain, so a sibling subdomain cannot
/// plant or overwrite it.
pub const REFRESH_COOKIE: &str = "__Host-refresh_token";
/// The same cookie under the `__Host-Http-` prefix (the server's `REFRESH_COOKIE_PREFIX=host-http`),
/// which a browser that knows the prefix lets no script set.
pub const REFRESH_COOKIE_HTTP: &str = "__Host-Http-refresh_token";

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
