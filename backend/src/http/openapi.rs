//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and the `shared`
//! wire types as the routers are assembled, so a route cannot exist without its entry (see
//! `tests/api/openapi.rs`). Served at `/api/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;
use shared::auth::{CookieSession, LoginResponse, TokenPair};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::{IntoParams, Modify, PartialSchema, ToResponse, ToSchema};

use crate::http::state::AppState;

use shared::auth::REFRESH_COOKIE;

/// The security scheme of routes that take an access token (operations name it by this literal).
const BEARER: &str = "bearer";
/// The security scheme of cookie-mode refresh and logout.
const REFRESH_COOKIE_SCHEME: &str = "refreshCookie";

/// What every route's document starts from: title, version, security schemes, and the schemas no
/// operation names directly.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "silent-refresh auth server",
        description = "Short-lived access JWTs and rotating, reuse-detecting refresh tokens. Every \
            `/api` answer is the envelope `{code, message, data, error?}`: `code` repeats the HTTP \
            status, and `error` (failures only) is one of the `ErrorCode` values, which clients \
            branch on. The refresh token travels in the JSON body by default; a request that sends \
            `X-Token-Delivery: cookie` gets it in an HttpOnly `__Host-refresh_token` cookie instead \
            and must come from this site."
    ),
    components(
        schemas(ErrorCode, Failure, Ack, TokenDelivery),
        responses(Unauthorized, RecentAuthenticationRequired, CsrfRejected, OtherFailure)
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Sign-up, login, refresh and logout"),
        (name = "account", description = "The caller and their sessions"),
        (name = "ops", description = "Health, counters, keys and this document"),
        (name = "demo", description = "Demo mode only (`DEMO_ROUTES`)"),
        (name = "oauth", description = "Standard OAuth documents and endpoints for other services: metadata \
            (RFC 8414), introspection (RFC 7662), revocation (RFC 7009)"),
    )
)]
pub(crate) struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("An access token (`typ: at+jwt`), as login and refresh issue it."))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(
            REFRESH_COOKIE,
            "The refresh token in cookie mode (`X-Token-Delivery: cookie`); HttpOnly, so only the \
             browser sends it. Named `__Host-Http-refresh_token` instead with `REFRESH_COOKIE_PREFIX=host-http`; \
             either name is read.",
        );
        components.add_security_scheme(REFRESH_COOKIE_SCHEME, SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
        let basic = HttpBuilder::new()
            .scheme(HttpAuthScheme::Basic)
            .description(Some("A resource server's id and secret from `INTROSPECTION_CLIENTS`."))
            .build();
        components.add_security_scheme("clientBasic", SecurityScheme::Http(basic));
    }
}

// The structs below marked `dead_code` are never built: they exist for their schemas, describing what
// the handlers assemble as JSON (`Envelope<()>` failures, the JWKS).

/// A failure envelope: `data` is null and `error` names the failure.
#[derive(ToSchema)]
#[schema(example = json!({"code": 401, "message": "access token expired", "data": null, "error": "token_expired"}))]
#[allow(dead_code)]
pub(crate) struct Failure {
    /// The HTTP status again.
    code: u16,
    /// For people; clients branch on `error`.
    message: String,
    #[schema(schema_with = null)]
    data: (),
    error: ErrorCode,
}

/// A success envelope with nothing to return.
#[derive(ToSchema)]
#[schema(example = json!({"code": 200, "message": "session revoked", "data": null}))]
#[allow(dead_code)]
pub(crate) struct Ack {
    code: u16,
    message: String,
    #[schema(schema_with = null)]
    data: (),
}

/// `missing_token`, `invalid_token` (also a revoked or ended session, a DPoP-bound token sent as
/// `Bearer`, or an unbound one sent as `DPoP`) or `token_expired`, with `WWW-Authenticate: Bearer`; for
/// a token sent with `Authorization: DPoP`, `invalid_dpop_proof` (the `DPoP` proof header is missing, or
/// not made for this request by the token's key, RFC 9449) or `use_dpop_nonce` (retry with the nonce of
/// the `DPoP-Nonce` header), with `WWW-Authenticate: DPoP error=…, algs="…"`.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(crate) struct Unauthorized(#[to_schema] Failure);

/// A sensitive route: `missing_token`, `invalid_token` or `token_expired` as on every authenticated
/// route, or `reauthentication_required` when the password was entered longer ago than
/// `REAUTH_MAX_AGE`, with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
/// max_age=<seconds>` (RFC 9470). Enter it again with `POST /api/auth/reauthenticate` and retry; a
/// refresh does not help, since it keeps the session's authentication time.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(crate) struct RecentAuthenticationRequired(#[to_schema] Failure);

/// `csrf_rejected`: a cookie-mode request from another site.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(crate) struct CsrfRejected(#[to_schema] Failure);

/// Any other failure: `payload_too_large` (413), `request_timeout` (408: the body or the whole request
/// came too slowly), `validation_failed` (400: no `Host`, two `Host` or two `Authorization` headers),
/// `method_not_allowed` (405), `unavailable` (503: too many DPoP proofs at once on this instance; retry
/// after the Retry-After header's seconds), `internal` (500, or 503 when the database is down).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(crate) struct OtherFailure(#[to_schema] Failure);

/// The header that chooses how the refresh token travels.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct DeliveryHeader {
    /// `cookie` puts the refresh token in an HttpOnly `__Host-refresh_token` cookie instead of the body
    /// (and requires a same-site request); `body` or absent keeps it in the body.
    #[param(rename = "X-Token-Delivery", nullable = false)]
    delivery: Option<TokenDelivery>,
}

/// A DPoP proof (RFC 9449) for this request.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct DpopHeader {
    /// A compact JWS (`typ: dpop+jwt`, ES256, EdDSA, RS256 or PS256, the public key in `jwk`) whose claims
    /// name this request (`htm`, `htu`), its time (`iat`), a unique `jti` and the server's nonce. At
    /// login it binds the new session to the key; at a refresh it must be made by the session's key.
    #[param(rename = "DPoP", nullable = false)]
    proof: Option<String>,
}

fn null() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::Null)
}

/// Login's `data`: the token pair and the user in body mode, or the same without the refresh token (it
/// is in the cookie) in cookie mode.
pub(crate) struct LoginData;

impl PartialSchema for LoginData {
    fn schema() -> RefOr<Schema> {
        either::<LoginResponse, CookieSession>("Body mode: `LoginResponse`; cookie mode: `CookieSession`")
    }
}

impl ToSchema for LoginData {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        collect::<LoginResponse>(schemas);
        collect::<CookieSession>(schemas);
    }
}

/// Refresh's `data`: a new token pair in body mode, or the access token and the user in cookie mode.
pub(crate) struct RefreshData;

impl PartialSchema for RefreshData {
    fn schema() -> RefOr<Schema> {
        either::<TokenPair, CookieSession>("Body mode: `TokenPair`; cookie mode: `CookieSession`")
    }
}

impl ToSchema for RefreshData {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        collect::<TokenPair>(schemas);
        collect::<CookieSession>(schemas);
    }
}

/// `anyOf`, not the `oneOf` an untagged enum would give: a body-mode answer is also a valid
/// `CookieSession` (which allows extra fields), so it matches both.
fn either<A: ToSchema, B: ToSchema>(description: &str) -> RefOr<Schema> {
    let any_of = AnyOfBuilder::new()
        .item(Ref::from_schema_name(A::name()))
        .item(Ref::from_schema_name(B::name()))
        .description(Some(description));
    RefOr::T(Schema::AnyOf(any_of.build()))
}

/// Registers `T` and the schemas it refers to.
fn collect<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The `X-Token-Delivery` header's values (matched without regard to case).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum TokenDelivery {
    Body,
    Cookie,
}

/// `/.well-known/jwks.json` (RFC 7517).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Jwks {
    keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(ToSchema)]
#[schema(example = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                          "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "alg": "EdDSA", "use": "sig"}))]
#[allow(dead_code)]
pub(crate) struct Jwk {
    kty: String,
    crv: String,
    /// The public key, base64url.
    x: String,
    /// The RFC 7638 thumbprint that access tokens name in their `kid` header.
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    use_: String,
}

/// Serves the document this router was built with.
#[utoipa::path(
    get,
    path = shared::paths::OPENAPI,
    tag = "ops",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub(crate) async fn get_openapi(State(state): State<AppState>) -> Response {
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], state.openapi.clone()).into_response()
}
