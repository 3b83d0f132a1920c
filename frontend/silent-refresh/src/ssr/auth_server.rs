//! The calls the layer makes to the auth server on the user's behalf, in its cookie mode: the refresh
//! token travels as the cookie it would have been in the browser, and the answers' `Set-Cookie`
//! headers are read for the successor.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use serde_json::Value;

use super::config::SsrConfig;

/// A live access token for a session, shared by every request that presented its refresh token.
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) expires_at: Instant,
    pub(crate) expires_at_unix: u64,
    /// The token's whole life: the refresh margin is at most half of it, so that tokens shorter than
    /// `refresh_ahead` are still used by more than one request.
    pub(crate) lifetime: Duration,
    /// The user fields of the answer (the answer minus its token fields).
    pub(crate) user: Value,
    /// The refresh token that replaced the presented one, with the auth server's own `Set-Cookie`
    /// headers for it; `None` for a grant reached through its successor.
    pub(crate) successor: Option<Successor>,
    /// Set by a logout through the layer, or when an API refused the access token (a revoked signing
    /// key, a clock that moved): no request uses this access token any more, whichever entry of the
    /// table it reached it through (shared with the successor's copy); the next one refreshes.
    pub(crate) retired: Arc<AtomicBool>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("expires_at_unix", &self.expires_at_unix).finish_non_exhaustive()
    }
}

impl Grant {
    pub(crate) fn is_live(&self, ahead: Duration) -> bool {
        let margin = ahead.min(self.lifetime / 2);
        !self.retired.load(Ordering::Acquire) && Instant::now() + margin < self.expires_at
    }

    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// The same access token, reached through the successor (which has no successor of its own yet).
    pub(crate) fn for_successor(&self) -> Self {
        Self {
            access_token: self.access_token.clone(),
            expires_at: self.expires_at,
            expires_at_unix: self.expires_at_unix,
            lifetime: self.lifetime,
            user: self.user.clone(),
            successor: None,
            retired: Arc::clone(&self.retired),
        }
    }
}

/// The rotated refresh token.
#[derive(Clone)]
pub(crate) struct Successor {
    pub(crate) token: String,
    /// The cookie's `Max-Age`; `None` for a browser-session cookie ("remember me" off).
    pub(crate) max_age: Option<u64>,
    pub(crate) set_cookie: Vec<HeaderValue>,
}

/// What the auth server said to a refresh.
pub(crate) enum RefreshAnswer {
    Granted(Grant),
    /// The session is over (refused, expired, revoked, reused): the headers that clear the cookie.
    Refused(Vec<HeaderValue>),
    /// No answer, or one that is not about the token (5xx, 429): nobody is logged out for it.
    Unavailable,
}

/// An answer relayed to the browser: status, body and the auth server's `Set-Cookie` and `Retry-After`.
pub(crate) struct Relayed {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) set_cookie: Vec<HeaderValue>,
    pub(crate) retry_after: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthServer {
    http: reqwest::Client,
}

impl AuthServer {
    pub(crate) fn new() -> Self {
        // Bounded: a page render waits for it. Redirects are never followed with a user's cookie.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn post(&self, config: &SsrConfig, path: &str, client: Option<IpAddr>) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .post(format!("{}{path}", config.auth_url))
            .header("x-token-delivery", "cookie")
            .header("content-type", "application/json");
        match client {
            Some(ip) => builder.header("x-forwarded-for", ip.to_string()),
            None => builder,
        }
    }

    fn cookie(config: &SsrConfig, token: &str) -> String {
        // The auth server reads either of its names; the last one listed is the long-standing one.
        let name = config.cookie_names.last().map_or("__Host-refresh_token", String::as_str);
        format!("{name}={token}")
    }

    pub(crate) async fn refresh(&self, config: &SsrConfig, token: &str, client: Option<IpAddr>) -> RefreshAnswer {
        let request =
            self.post(config, &config.refresh_path, client).header("cookie", Self::cookie(config, token)).body("{}");
        let Ok(answer) = relay(request).await else { return RefreshAnswer::Unavailable };
        match answer.status {
            status if status.is_success() => {
                grant(config, &answer).map_or(RefreshAnswer::Unavailable, RefreshAnswer::Granted)
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RefreshAnswer::Refused(answer.set_cookie),
            _ => RefreshAnswer::Unavailable,
        }
    }

    /// The login, relayed; with its grant when it succeeded.
    pub(crate) async fn login(
        &self,
        config: &SsrConfig,
        body: Bytes,
        client: Option<IpAddr>,
    ) -> Result<(Relayed, Option<Grant>), reqwest::Error> {
        let answer = relay(self.post(config, &config.login_path, client).body(body)).await?;
        let grant = if answer.status.is_success() { grant(config, &answer) } else { None };
        Ok((answer, grant))
    }

    /// Ends the session of `token` at the auth server. A failure is not the user's problem: the
    /// layer clears the cookie whatever happens, and the session dies with its refresh token's life.
    pub(crate) async fn logout(&self, config: &SsrConfig, token: &str, client: Option<IpAddr>) -> Option<StatusCode> {
        let request =
            self.post(config, &config.logout_path, client).header("cookie", Self::cookie(config, token)).body("{}");
        relay(request).await.ok().map(|answer| answer.status)
    }
}

async fn relay(request: reqwest::RequestBuilder) -> Result<Relayed, reqwest::Error> {
    let response = request.send().await?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers();
    let set_cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
        .collect();
    let retry_after = headers.get("retry-after").and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok());
    let body = response.bytes().await?;
    Ok(Relayed { status, body: Bytes::from(body.to_vec()), set_cookie, retry_after })
}

/// The grant in a cookie-mode answer: `data.access_token` and `data.expires_in`, the rest of `data`
/// as the user, and the refresh cookie among the `Set-Cookie` headers.
fn grant(config: &SsrConfig, answer: &Relayed) -> Option<Grant> {
    let envelope: Value = serde_json::from_slice(&answer.body).ok()?;
    let mut data = envelope.get("data")?.as_object()?.clone();
    let access_token = data.remove("access_token")?.as_str()?.to_owned();
    let expires_in = data.remove("expires_in")?.as_u64()?;
    for field in ["refresh_token", "token_type", "refresh_expires_in"] {
        data.remove(field);
    }
    let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let successor = answer
        .set_cookie
        .iter()
        .find_map(|header| refresh_cookie(config, header))
        .map(|(token, max_age)| Successor { token, max_age, set_cookie: answer.set_cookie.clone() });
    Some(Grant {
        access_token,
        expires_at: Instant::now() + Duration::from_secs(expires_in),
        expires_at_unix: now_unix + expires_in,
        lifetime: Duration::from_secs(expires_in),
        user: Value::Object(data),
        successor,
        retired: Arc::new(AtomicBool::new(false)),
    })
}

/// The refresh token and `Max-Age` of a `Set-Cookie` that sets one of the refresh cookie's names.
pub(crate) fn refresh_cookie(config: &SsrConfig, header: &HeaderValue) -> Option<(String, Option<u64>)> {
    let text = header.to_str().ok()?;
    let mut parts = text.split(';');
    let (name, value) = parts.next()?.trim().split_once('=')?;
    if value.is_empty() || !config.cookie_names.iter().any(|known| known == name) {
        return None;
    }
    let max_age = parts.filter_map(|attribute| attribute.trim().split_once('=')).find_map(|(key, value)| {
        key.eq_ignore_ascii_case("max-age").then(|| value.trim().parse::<u64>().ok()).flatten()
    });
    Some((value.to_owned(), max_age))
}
