//! API paths, so neither side spells a URL by hand.

pub const REGISTER: &str = "/api/auth/register";
pub const LOGIN: &str = "/api/auth/login";
pub const REFRESH: &str = "/api/auth/refresh-token";
pub const LOGOUT: &str = "/api/auth/logout";
pub const LOGOUT_ALL: &str = "/api/auth/logout-all";
pub const LOGOUT_OTHERS: &str = "/api/auth/logout-others";
pub const CHANGE_PASSWORD: &str = "/api/account/password";
pub const REAUTHENTICATE: &str = "/api/auth/reauthenticate";
pub const PASSWORD_RESET_REQUEST: &str = "/api/account/password-reset/request";
pub const PASSWORD_RESET_CONFIRM: &str = "/api/account/password-reset/confirm";
pub const ME: &str = "/api/me";
pub const SESSIONS: &str = "/api/sessions";
pub const HEALTH: &str = "/api/health";
pub const METRICS: &str = "/api/metrics";
pub const DEMO_ECHO: &str = "/api/demo/echo";
pub const DEMO_EXPIRED_TOKEN: &str = "/api/demo/expired-token";
/// A live stream (server-sent events) authenticated by an access token in the query.
pub const DEMO_LIVE: &str = "/api/demo/live";

/// The path of one session, as `DELETE` takes it.
pub fn session(id: &str) -> String {
    format!("{SESSIONS}/{id}")
}

/// Test builds only (the backend's `e2e` feature): `POST ?on=true|false` makes the refresh endpoint
/// answer 503, so the browser suites can watch the client ride out an outage of that endpoint alone.
pub const TEST_REFRESH_OUTAGE: &str = "/api/test/refresh-outage";
/// Test builds only (the backend's `e2e` feature): the DPoP proofs the server was sent.
pub const TEST_DPOP_PROOFS: &str = "/api/test/dpop-proofs";

/// The OpenAPI 3.1 document describing every route.
pub const OPENAPI: &str = "/api/openapi.json";

/// The route template behind [`session`].
pub const SESSION: &str = "/api/sessions/{id}";

/// The JWKS: the public keys that verify access tokens (RFC 7517).
pub const JWKS: &str = "/.well-known/jwks.json";
/// Authorization-server metadata (RFC 8414).
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// Token introspection for resource servers (RFC 7662).
pub const INTROSPECT: &str = "/oauth/introspect";
/// Token revocation (RFC 7009).
pub const REVOKE: &str = "/oauth/revoke";
