//! Requests described as data (so one can be sent again byte for byte after a refresh) and the
//! answers that come back.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DecodeError;

/// An HTTP method. The common ones are variants; anything else is [`Method::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// Any other method, spelled as it goes on the wire.
    Other(String),
}

impl Method {
    /// The method as it goes on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Other(method) => method,
        }
    }
}

/// A request body. Its content type is set from the variant unless a header says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// JSON text (`application/json`).
    Json(String),
    /// Form fields (`application/x-www-form-urlencoded`).
    Form(Vec<(String, String)>),
    /// Bytes as they are, with the given content type.
    Raw {
        /// The `Content-Type` to send.
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl Body {
    /// The `Content-Type` this body is sent with.
    pub fn content_type(&self) -> &str {
        match self {
            Self::Json(_) => "application/json",
            Self::Form(_) => "application/x-www-form-urlencoded",
            Self::Raw { content_type, .. } => content_type,
        }
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Self::Json(text) => Cow::Borrowed(text.as_bytes()),
            Self::Form(fields) => Cow::Owned(form_urlencode(fields).into_bytes()),
            Self::Raw { bytes, .. } => Cow::Borrowed(bytes),
        }
    }
}

/// A request to the API: method, path (joined to the transport's base URL) or absolute URL, query,
/// headers and body. Built with [`Request::get`] and friends:
///
/// ```
/// use silent_refresh::{Method, Request};
///
/// let request = Request::post("/api/things")
///     .query("dry_run", "true")
///     .header("X-Trace", "abc")
///     .json(&serde_json::json!({"name": "x"}))
///     .unwrap();
/// assert_eq!(request.method, Method::Post);
/// assert_eq!(request.url(), "/api/things?dry_run=true");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// A path such as `/api/me`, joined to the transport's base URL, or an absolute URL.
    pub path: String,
    /// Query parameters, appended to `path` percent-encoded.
    pub query: Vec<(String, String)>,
    /// Extra headers. The client adds `Authorization` itself.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Body>,
    /// This request's own time limit, instead of [`Config::request_timeout`](crate::Config).
    pub timeout: Option<Duration>,
    /// How the browser's HTTP cache treats it; `None`: the transport's default, which for
    /// `FetchTransport` is [`CacheMode::NoStore`].
    pub cache: Option<CacheMode>,
}

/// The fetch cache mode of a request (what `RequestInit.cache` takes in a browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheMode {
    /// Bypass the HTTP cache entirely. API answers are per-user and short-lived, and the cache's lock
    /// would make identical concurrent requests wait for each other.
    NoStore,
    /// The browser's default behaviour.
    Default,
    /// Revalidate with the server before using a cached answer.
    NoCache,
    /// Fetch from the network and update the cache.
    Reload,
    /// Use a cached answer, stale or not, if there is one.
    ForceCache,
}

impl Request {
    /// A request with any method.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            cache: None,
        }
    }

    /// A time limit for this request alone.
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The browser cache mode for this request alone.
    #[must_use]
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = Some(mode);
        self
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::Put, path)
    }

    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::Patch, path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::Delete, path)
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, serde_json::Error> {
        self.body = Some(Body::Json(serde_json::to_string(body)?));
        Ok(self)
    }

    /// Sets a form body.
    #[must_use]
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = Some(Body::Form(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()));
        self
    }

    /// Sets a body of any content type.
    #[must_use]
    pub fn raw(mut self, content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(Body::Raw { content_type: content_type.into(), bytes: bytes.into() });
        self
    }

    /// `path` with the query appended.
    pub fn url(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let separator = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.path, form_urlencode(&self.query))
    }

    /// The first header called `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// An answer: any status, its headers and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers as received (names lower-case in browsers).
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
    }

    /// The first header called `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// `Retry-After` in seconds, when the server gave one as a number.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.header_value("retry-after")?.trim().parse().ok()
    }

    /// RFC 9470's step-up challenge: a 401 whose `WWW-Authenticate` says
    /// `error="insufficient_user_authentication"`, meaning "enter your password again", not "refresh".
    /// `Some` with the `max_age` it names (in seconds), if any.
    pub fn step_up_challenge(&self) -> Option<Option<u64>> {
        if self.status != 401 {
            return None;
        }
        let challenge = self.header_value("www-authenticate")?;
        let (scheme, params) = challenge.trim().split_once(' ')?;
        // The scheme the token was sent with: Bearer, or DPoP for a bound token (RFC 9449 §7.1).
        if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
            return None;
        }
        let param = |name: &str| {
            params.split(',').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().trim_matches('"'))
            })
        };
        (param("error")? == "insufficient_user_authentication").then(|| param("max_age").and_then(|v| v.parse().ok()))
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        serde_json::from_slice(&self.body).map_err(DecodeError::from)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// `application/x-www-form-urlencoded`, as the URL standard serialises it.
pub(crate) fn form_urlencode(fields: &[(String, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_are_percent_encoded() {
        let request = Request::get("/a?x=1").query("q", "a b&c=d/é");
        assert_eq!(request.url(), "/a?x=1&q=a+b%26c%3Dd%2F%C3%A9");
        let form = Body::Form(vec![("grant_type".into(), "refresh_token".into())]);
        assert_eq!(&*form.to_bytes(), b"grant_type=refresh_token");
    }

    #[test]
    fn headers_are_found_whatever_their_case() {
        let response = Response { status: 200, headers: vec![("content-type".into(), "x".into())], body: vec![] };
        assert_eq!(response.header_value("Content-Type"), Some("x"));
    }

    #[test]
    fn a_step_up_challenge_is_told_apart_from_any_other_401() {
        let answer = |status: u16, challenge: &str| Response {
            status,
            headers: vec![("WWW-Authenticate".into(), challenge.into())],
            body: vec![],
        };
        let step_up = r#"Bearer error="insufficient_user_authentication", error_description="a, b", max_age=600"#;
        assert_eq!(answer(401, step_up).step_up_challenge(), Some(Some(600)));
        assert_eq!(answer(401, r#"bearer error=insufficient_user_authentication"#).step_up_challenge(), Some(None));
        // A DPoP-bound token's challenge names its own scheme.
        let dpop = r#"DPoP error="insufficient_user_authentication", max_age=60, algs="ES256""#;
        assert_eq!(answer(401, dpop).step_up_challenge(), Some(Some(60)));
        for (status, other) in [
            (401, r#"Bearer error="invalid_token", error_description="expired""#),
            (401, "Bearer"),
            (401, r#"Basic realm="insufficient_user_authentication""#),
            (403, step_up),
            (401, ""),
        ] {
            assert_eq!(answer(status, other).step_up_challenge(), None, "{status} {other}");
        }
        assert_eq!(Response::new(401, "").step_up_challenge(), None);
    }
}
