//! How the refresh token travels. In the JSON body by default (the tutorial's contract), or, when a
//! request says `X-Token-Delivery: cookie`, in an `HttpOnly; Secure; SameSite=Strict` cookie that no
//! script can read. A cookie is never used without that header, and every request in cookie mode must
//! come from this site: its `Origin`, when present, must be this server's own origin or one of
//! `CORS_ORIGINS`, and `Sec-Fetch-Site: cross-site` is refused. (The custom header alone already forces
//! a CORS preflight on any cross-origin request.)

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use shared::auth::{
    COOKIE_DELIVERY, CookieSession, DPOP_TOKEN_TYPE, LoginResponse, REFRESH_COOKIE, REFRESH_COOKIE_HTTP,
    TOKEN_DELIVERY_HEADER, TOKEN_TYPE, TokenPair,
};

use crate::auth::service::Issued;
use crate::config::CookiePrefix;
use crate::http::error::ApiError;
use crate::http::reply::reply;
use crate::http::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Body,
    /// The refresh token in an `HttpOnly` cookie with this prefix.
    Cookie(CookiePrefix),
}

impl FromRequestParts<AppState> for Delivery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(TOKEN_DELIVERY_HEADER) else { return Ok(Self::Body) };
        match value.to_str().map(str::trim) {
            Ok(v) if v.eq_ignore_ascii_case(COOKIE_DELIVERY) => {
                check_same_site(&parts.headers, &state.cors_origins)?;
                Ok(Self::Cookie(state.cookie_prefix))
            }
            Ok(v) if v.eq_ignore_ascii_case("body") => Ok(Self::Body),
            _ => Err(ApiError::Validation(format!("{TOKEN_DELIVERY_HEADER} must be `cookie` or `body`"))),
        }
    }
}

/// The CSRF rules for a request the cookie may authenticate.
fn check_same_site(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return Err(ApiError::CsrfRejected("cross-site request"));
    }
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().map_err(|_| ApiError::CsrfRejected("unreadable Origin"))?.trim();
    if allowed.iter().any(|allowed| allowed.trim().eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    // This server's own origin: the Origin's host and port are the Host the request was sent to.
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).map(str::trim);
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match (authority, host) {
        (Some(authority), Some(host)) if !authority.contains('/') && authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(ApiError::CsrfRejected("request from another origin")),
    }
}

impl Delivery {
    /// The answer to a login (`with_user`) or a refresh: the tokens in the body, or the access token
    /// and user in the body and the refresh token in the cookie.
    pub(crate) fn answer(self, message: &str, issued: Issued, with_user: bool) -> Response {
        let Issued { access_token, expires_in, refresh, refresh_expires_in, user, remembered, dpop_bound } = issued;
        let token_type = if dpop_bound { DPOP_TOKEN_TYPE } else { TOKEN_TYPE }.to_owned();
        match self {
            Self::Body => {
                let tokens = TokenPair {
                    access_token,
                    refresh_token: refresh.into_string(),
                    token_type,
                    expires_in,
                    refresh_expires_in,
                };
                if !with_user {
                    return reply(StatusCode::OK, message, tokens);
                }
                let data = LoginResponse { tokens, username: user.username, email: user.email, role: user.role };
                reply(StatusCode::OK, message, data)
            }
            Self::Cookie(prefix) => {
                let data = CookieSession {
                    access_token,
                    token_type,
                    expires_in,
                    refresh_expires_in,
                    username: user.username,
                    email: user.email,
                    role: user.role,
                };
                let mut response = reply(StatusCode::OK, message, data);
                // Not remembered: a browser-session cookie (no Max-Age), at every rotation too.
                set_refresh_cookie(&mut response, prefix, refresh.as_str(), remembered.then_some(refresh_expires_in));
                response
            }
        }
    }

    pub(crate) fn is_cookie(self) -> bool {
        matches!(self, Self::Cookie(_))
    }

    /// `result` as a response; in cookie mode a refused refresh token also clears the cookie, so the
    /// browser stops sending a token that will never work again.
    pub(crate) fn respond(self, result: Result<Response, ApiError>) -> Response {
        match result {
            Ok(response) => response,
            Err(error) => {
                let clears = self.is_cookie() && error.ends_refresh_token();
                let mut response = error.into_response();
                if clears {
                    clear_refresh_cookie(&mut response);
                }
                response
            }
        }
    }
}

/// The refresh token in the request's cookies, if any: under the configured name, else under the other
/// one (set before `REFRESH_COOKIE_PREFIX` changed), so a change of prefix logs nobody out.
pub(crate) fn refresh_cookie(headers: &HeaderMap, prefix: CookiePrefix) -> Option<&str> {
    let other = match prefix {
        CookiePrefix::Host => CookiePrefix::HostHttp,
        CookiePrefix::HostHttp => CookiePrefix::Host,
    };
    cookie(headers, prefix.cookie_name()).or_else(|| cookie(headers, other.cookie_name()))
}

fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
}

/// Sets the refresh cookie for `max_age_secs` (the session's remaining life), or, with `None`, for the
/// browser session only. Under the `__Host-Http-` name the `__Host-` one is cleared, so the browser
/// never keeps a retired token under the old name.
pub(crate) fn set_refresh_cookie(
    response: &mut Response,
    prefix: CookiePrefix,
    token: &str,
    max_age_secs: Option<u64>,
) {
    let max_age = max_age_secs.map(|secs| format!("; Max-Age={secs}")).unwrap_or_default();
    let name = prefix.cookie_name();
    let cookie = format!("{name}={token}; Path=/{max_age}; HttpOnly; Secure; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    if prefix == CookiePrefix::HostHttp {
        append_clear(response, REFRESH_COOKIE);
    }
}

/// Tells the browser to drop the refresh cookie, under either name.
pub(crate) fn clear_refresh_cookie(response: &mut Response) {
    append_clear(response, REFRESH_COOKIE);
    append_clear(response, REFRESH_COOKIE_HTTP);
}

fn append_clear(response: &mut Response, name: &str) {
    let cookie = format!("{name}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&cookie).expect("a static cookie is valid"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect()
    }

    #[test]
    fn the_own_origin_and_listed_origins_pass_and_others_are_refused() {
        let allowed = ["http://127.0.0.1:8080".to_owned()];
        let own = headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")]);
        assert!(check_same_site(&own, &allowed).is_ok());
        let listed = headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:8080")]);
        assert!(check_same_site(&listed, &allowed).is_ok());
        assert!(check_same_site(&headers(&[("host", "a.example")]), &allowed).is_ok(), "no Origin: not a browser CSRF");
        for bad in [
            headers(&[("host", "127.0.0.1:3000"), ("origin", "http://evil.example")]),
            headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000.evil.example")]),
            headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]),
            headers(&[("origin", "http://127.0.0.1:3000")]),
        ] {
            assert!(check_same_site(&bad, &allowed).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_refresh_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; __Host-refresh_token=tok ; b=2")]);
        assert_eq!(refresh_cookie(&h, CookiePrefix::Host), Some("tok"));
        assert_eq!(refresh_cookie(&h, CookiePrefix::HostHttp), Some("tok"), "the other name is read too");
        let both = headers(&[("cookie", "__Host-refresh_token=old; __Host-Http-refresh_token=new")]);
        assert_eq!(refresh_cookie(&both, CookiePrefix::HostHttp), Some("new"));
        assert_eq!(refresh_cookie(&both, CookiePrefix::Host), Some("old"));
        assert_eq!(refresh_cookie(&headers(&[("cookie", "refresh_token=x")]), CookiePrefix::Host), None);
    }

    proptest::proptest! {
        #[test]
        fn any_cookie_or_origin_header_is_handled(cookie in "\\PC{0,80}", origin in "\\PC{0,40}") {
            let mut h = HeaderMap::new();
            if let (Ok(c), Ok(o)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&origin)) {
                h.insert(COOKIE, c);
                h.insert(ORIGIN, o);
                h.insert(HOST, HeaderValue::from_static("app.example"));
                let _ = refresh_cookie(&h, CookiePrefix::HostHttp);
                if check_same_site(&h, &[]).is_ok() {
                    proptest::prop_assert!(origin.trim().eq_ignore_ascii_case("http://app.example") || origin.trim().eq_ignore_ascii_case("https://app.example"));
                }
            }
        }
    }
}
