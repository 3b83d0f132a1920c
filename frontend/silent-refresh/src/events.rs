//! Events the client emits so a UI can show what it does, and running counters.

/// Why a refresh started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshReason {
    /// The access token is close to expiry, or past it, by the wall clock.
    Proactive,
    /// A request came back 401.
    Unauthorized,
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutReason {
    /// The refresh endpoint refused the session (expired, revoked, reused).
    SessionExpired(String),
    /// The user logged out here.
    UserRequested,
    /// Another tab logged out, or cleared the session.
    OtherTab,
    /// Nobody used the page for the idle policy's time.
    Idle,
}

/// Something the client did. Emitted synchronously, as it happens, so a listener may time-stamp it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// `login` stored a new session.
    LoggedIn,
    /// `resume` restored the session after a page load (with a refresh call).
    Resumed,
    /// A new access token is in use (after a login, a refresh, a resume, or one adopted from another
    /// tab): whatever holds the old one (a WebSocket, an SSE stream, another SDK) should take this one.
    TokensChanged {
        /// When the new access token expires, in Unix milliseconds.
        access_expires_at: i64,
    },
    /// An authenticated request went out (`replay`: the second time, after a refresh).
    RequestSent {
        /// Numbers the client's requests, from 1; a replay keeps its request's number.
        id: u64,
        /// Whether this is the replay after a refresh.
        replay: bool,
    },
    /// An authenticated request's answer arrived (`status`), or it failed (`None`: network error or
    /// timeout).
    RequestAnswered {
        /// As in [`ClientEvent::RequestSent`].
        id: u64,
        /// The HTTP status, if an answer came.
        status: Option<u16>,
    },
    /// A call to the refresh endpoint is about to start.
    RefreshStarted {
        /// Why.
        reason: RefreshReason,
    },
    /// The refresh endpoint issued new tokens.
    RefreshSucceeded {
        /// From the start of the refresh (lock wait included) to storing its result.
        duration_ms: u64,
    },
    /// Another tab had already rotated the tokens; this tab took them over without calling the server.
    TokenAdopted,
    /// A refresh failed. `retry_in_ms` is set for transient failures (the session is kept) and absent
    /// for final ones.
    RefreshFailed {
        /// What went wrong.
        reason: String,
        /// How long until the next refresh may be tried.
        retry_in_ms: Option<u64>,
    },
    /// Requests that got 401 were replayed after a refresh.
    RequestsReplayed {
        /// How many waited for this refresh.
        count: u32,
    },
    /// Storage refused the session. The client keeps it in memory and offers it to storage again at
    /// every use; the session goes on.
    SessionNotSaved {
        /// What storage said.
        reason: String,
    },
    /// The idle policy will log the user out in `in_ms` unless there is input; proactive refresh has
    /// stopped meanwhile.
    SessionEndingSoon {
        /// Time left.
        in_ms: u64,
    },
    /// Input came after [`ClientEvent::SessionEndingSoon`]: the session goes on.
    IdleWarningCleared,
    /// A request needs the user to prove who they are again (RFC 9470): no refresh was made, the
    /// request failed with [`ClientError::ReauthRequired`](crate::ClientError::ReauthRequired), and
    /// other requests go on. Ask for the password and call
    /// [`RefreshClient::reauthenticate`](crate::RefreshClient::reauthenticate).
    ReauthRequired {
        /// How recent, in seconds, the server wants the authentication to be, when it said.
        max_age: Option<u64>,
    },
    /// The session ended here.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
}

/// Running totals since the client was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Refresh calls that succeeded.
    pub refreshes: u32,
    /// Refresh calls that failed, transiently or finally.
    pub refresh_failures: u32,
    /// Tokens taken over from another tab.
    pub adopted: u32,
    /// Requests sent a second time after a 401.
    pub replays: u32,
    /// Requests started through `send` that have not settled yet; 0 once everything has answered.
    pub in_flight: u32,
}
