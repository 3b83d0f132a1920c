//! What a request knows about its session once the layer has run: the snapshot for the page and the
//! access token for the server's own calls. `Send + Sync`, cheap to clone, one per request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::auth_server::Grant;
use crate::snapshot::{Presence, SessionSnapshot};

/// The request's session, put in the request's extensions by [`RefreshLayer`](super::RefreshLayer).
/// Server functions and blocking resources read it (`leptos_axum::extract::<ServerSession>()`, or
/// [`ServerSession::from_parts`] on the `Parts` in Leptos's context) and call APIs with
/// [`ServerSession::authorize`]. It never refreshes: the layer did that before the page started, so a
/// streamed or nested resource cannot lose a rotated cookie.
#[derive(Clone)]
pub struct ServerSession {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: SessionSnapshot,
    grant: Option<Arc<Grant>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("ServerSession").field("snapshot", &self.inner.snapshot).finish_non_exhaustive()
    }
}

/// A call made with [`ServerSession::send`] that could not be made or was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The request has no live session (presence logged out or unknown): answer 401.
    NoSession,
    /// The upstream API did not answer.
    Transport(reqwest::Error),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSession => f.write_str("no live session for this request"),
            Self::Transport(error) => write!(f, "the upstream API did not answer: {error}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoSession => None,
            Self::Transport(error) => Some(error),
        }
    }
}

impl ServerSession {
    pub(crate) fn new(snapshot: SessionSnapshot, grant: Option<Arc<Grant>>, http: reqwest::Client) -> Self {
        Self { inner: Arc::new(Inner { snapshot, grant, http }) }
    }

    /// What to serialise into the page: presence, user and expiry, never a token.
    pub fn snapshot(&self) -> &SessionSnapshot {
        &self.inner.snapshot
    }

    /// Whether the request has a live session.
    pub fn presence(&self) -> Presence {
        self.inner.snapshot.presence
    }

    /// The access token, valid for at least the layer's `refresh_ahead` when the request arrived. For
    /// server-side use only: in the BFF mode it must never be written into a response.
    pub fn access_token(&self) -> Option<&str> {
        self.inner.grant.as_deref().map(|grant| grant.access_token.as_str())
    }

    /// `request` with `Authorization: Bearer <access token>`, or [`SessionError::NoSession`].
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, SessionError> {
        let token = self.access_token().ok_or(SessionError::NoSession)?;
        Ok(request.bearer_auth(token))
    }

    /// Sends `request` (built with [`ServerSession::http`]) with the access token. A 401 from the API
    /// is returned as it is, and never refreshed here (the response may have started); the layer
    /// stops using that access token, so the next request (the client's retry, or the next page)
    /// refreshes first, and learns whether the session is still there.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, SessionError> {
        let answer = self.authorize(request)?.send().await.map_err(SessionError::Transport)?;
        if answer.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.token_refused();
        }
        Ok(answer)
    }

    /// Tells the layer that an API refused this request's access token (for calls not made with
    /// [`ServerSession::send`]): the next request refreshes before it uses the session.
    pub fn token_refused(&self) {
        if let Some(grant) = &self.inner.grant {
            grant.retire();
        }
    }

    /// The layer's HTTP client (connection pool shared by all requests).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The session the layer put in these request parts (Leptos provides the request's `Parts` as
    /// context during server rendering and in server functions).
    pub fn from_parts(parts: &Parts) -> Option<Self> {
        parts.extensions.get::<Self>().cloned()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ServerSession {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, "RefreshLayer is not installed on this router"))
    }
}

/// The request's CSP nonce: the layer sends `script-src 'nonce-…'` for HTML answers, so every inline
/// script the page needs (Leptos's hydration scripts) must carry it. Leptos 0.8: provide it as
/// `leptos::nonce::Nonce` in the render's context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(pub(crate) Arc<str>);

impl CspNonce {
    /// The nonce (base64url, 128 random bits).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nonce the layer put in these request parts.
    pub fn from_parts(parts: &Parts) -> Option<Self> {
        parts.extensions.get::<Self>().cloned()
    }
}
