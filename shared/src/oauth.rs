//! The standard OAuth documents the server answers with: authorization-server metadata (RFC 8414),
//! introspection (RFC 7662) and the form both introspection and revocation (RFC 7009) take. These
//! are not wrapped in the envelope: standard clients read them as the RFCs define them.

use serde::{Deserialize, Serialize};

/// `POST /oauth/introspect` and `POST /oauth/revoke`, form-encoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenForm {
    /// The token: an access token or a refresh token. In cookie mode revocation may leave it out and
    /// revoke the cookie's session.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1, pattern = r"\S"))]
    pub token: Option<String>,
    /// `access_token` or `refresh_token`; only a hint, since the two look different anyway.
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

/// What introspection says of a token. Inactive tokens answer exactly `{"active": false}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Introspection {
    pub active: bool,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The session the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user last proved who they are on the session, in Unix seconds: a refresh never moves
    /// it, a re-authentication does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How (RFC 8176), such as `["pwd"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The DPoP key a bound token is bound to (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` member (RFC 7800): the RFC 7638 thumbprint of the key a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Confirmation {
    pub jkt: String,
}

/// RFC 8414 authorization-server metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorizationServerMetadata {
    /// Equals the `iss` of every access token.
    pub issuer: String,
    pub jwks_uri: String,
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Empty: this server has no authorization endpoint (logins go through its own API).
    pub response_types_supported: Vec<String>,
    /// The `alg` values access tokens are signed with now.
    pub access_token_signing_alg_values_supported: Vec<String>,
    /// The `alg` values of DPoP proofs this server accepts (RFC 9449 §5.1); absent with `DPOP=off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}
