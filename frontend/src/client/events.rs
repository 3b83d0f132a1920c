//! Events the client emits so a UI can show what it does, and running counters.

/// Why a refresh started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// The access token is close to expiry (or past it) by the wall clock.
    Proactive,
    /// A request came back 401.
    Unauthorized,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutReason {
    /// The refresh endpoint refused the session (expired, revoked, reused).
    SessionExpired(String),
    /// The user logged out here.
    UserRequested,
    /// Another tab logged out, or cleared the session.
    OtherTab,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    RefreshStarted {
        reason: RefreshReason,
    },
    RefreshSucceeded {
        duration_ms: u64,
    },
    /// Another tab had already rotated the token; this tab took it over without a refresh call.
    TokenAdopted,
    /// `retry_in_ms` is set for transient failures (the session is kept), absent for final ones.
    RefreshFailed {
        reason: String,
        retry_in_ms: Option<u64>,
    },
    RequestsReplayed {
        count: u32,
    },
    /// Storage refused the session (full, disabled or blocked). The client keeps it in memory and
    /// offers it to storage again at every use; the session goes on.
    SessionNotSaved {
        reason: String,
    },
    LoggedOut {
        reason: LogoutReason,
    },
}

/// Running totals since the client was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
