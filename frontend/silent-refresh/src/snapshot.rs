//! What the server knew about the session when it rendered a page, carried into the page so that the
//! browser's first render matches the server's HTML (no hydration mismatch, no flash of a login link).

use serde::{Deserialize, Serialize};

/// Whether a session was there when the page was rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The server could not tell: the request may have come without its cookie (a navigation from
    /// another site, on which a `SameSite=Strict` cookie is not sent), or the auth server did not
    /// answer. Render neither the user nor a login link; the browser resolves it.
    Unknown,
    /// No session: no cookie, or one the auth server refused.
    LoggedOut,
    /// A live session, refreshed if it had to be before the page was rendered.
    LoggedIn,
}

/// The session as serialised into a server-rendered page. It never holds a token: in the
/// backend-for-frontend mode no token reaches the browser, and in plain server rendering the page has
/// no use for one (server functions run with the request's token on the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// Whether there is a session.
    pub presence: Presence,
    /// The user fields of the auth server's answer (for this project's server: `username`, `email`,
    /// `role`), when logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<serde_json::Value>,
    /// When the access token the server holds for this session expires, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl SessionSnapshot {
    /// No session.
    pub fn logged_out() -> Self {
        Self { presence: Presence::LoggedOut, user: None, expires_at: None }
    }

    /// The server could not tell.
    pub fn unknown() -> Self {
        Self { presence: Presence::Unknown, user: None, expires_at: None }
    }

    /// A live session of `user`.
    pub fn logged_in(user: serde_json::Value, expires_at: u64) -> Self {
        Self { presence: Presence::LoggedIn, user: Some(user), expires_at: Some(expires_at) }
    }

    /// The user's field `name` as a string (`"username"`, `"email"`), when logged in.
    pub fn user_field(&self, name: &str) -> Option<&str> {
        self.user.as_ref()?.get(name)?.as_str()
    }
}
