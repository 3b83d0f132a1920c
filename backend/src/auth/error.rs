//! What the rules refuse, and why. The HTTP layer maps each variant onto a status and error code.

use crate::auth::passwords::PasswordError;
use crate::auth::tokens::access::SignError;
use crate::store::{RevokeReason, StoreError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    /// Input that breaks a rule (a malformed email, a password of the wrong length).
    #[error("{0}")]
    Invalid(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the new password is the current one")]
    PasswordUnchanged,
    #[error("too many attempts; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("access token is invalid")]
    InvalidToken,
    #[error("access token expired")]
    TokenExpired,
    #[error("session is no longer active")]
    SessionEnded,
    /// The caller has no live session with this id.
    #[error("no such session")]
    NoSuchSession,
    /// A resource server's credentials are missing or wrong.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    RefreshRefused(RefreshRefusal),
    #[error("refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    #[error("the session was idle for too long and has ended")]
    SessionIdle,
    /// A password-reset token that is unknown, used, superseded or expired (all told apart by nothing).
    #[error("this password-reset link is invalid or has expired; ask for a new one")]
    ResetTokenInvalid,
    /// A sensitive request whose token's authentication is older than `max_age` seconds (RFC 9470).
    #[error("enter your password again to do this")]
    ReauthenticationRequired { max_age: u64 },
    #[error("internal error")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Password(#[from] PasswordError),
    #[error("internal error")]
    Signing(#[from] SignError),
    #[error("internal error")]
    Random(#[from] getrandom::Error),
    /// A task the rule ran on ended without an answer (it panicked, or the runtime is shutting down).
    #[error("internal error")]
    Interrupted,
}

/// Why a presented refresh token can never work again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// Not the shape the server issues, or no session knows it.
    Unknown,
    Expired,
    /// Its session was revoked, for this reason when it is one this version records.
    Revoked(Option<RevokeReason>),
    /// The session's account was deleted.
    AccountGone,
}

impl std::fmt::Display for RefreshRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unknown => "refresh token is invalid",
            Self::Expired => "refresh token has expired",
            Self::AccountGone => "account no longer exists",
            Self::Revoked(None) => "session has been revoked",
            Self::Revoked(Some(reason)) => match reason {
                RevokeReason::Logout => "session has ended: logged out",
                RevokeReason::LogoutAll => "session has ended: logged out everywhere",
                RevokeReason::Revoked => "session has ended: revoked from another session",
                RevokeReason::Replaced => "session has ended: replaced by a newer login on this device",
                RevokeReason::RefreshTokenReused => "session has ended: a refresh token was reused",
                RevokeReason::TokenRevocation => "session has ended: one of its tokens was revoked",
                RevokeReason::LogoutOthers => "session has ended: signed out from another device",
                RevokeReason::PasswordChanged => "session has ended: the password was changed",
                RevokeReason::PasswordReset => "session has ended: the password was reset",
                RevokeReason::Idle => "session has ended: it was idle for too long",
                RevokeReason::SessionCap => {
                    "session has ended: too many sessions, and this was the least recently used"
                }
            },
        })
    }
}
