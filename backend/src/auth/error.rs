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
    /// A DPoP proof that is missing where required, malformed, or does not fit the request or the key
    /// (RFC 9449 `invalid_dpop_proof`).
    #[error("{error}")]
    DpopProof { error: ProofError, at: DpopAt },
    /// The proof carries no nonce this server issued, or an old one; retry with `nonce` (§8, §9).
    #[error("the DPoP proof must carry the server's nonce")]
    DpopNonceRequired { nonce: String, at: DpopAt },
    /// An access token bound to a DPoP key, sent as a Bearer token or without its proof.
    #[error("this access token is bound to a DPoP key: send it with the DPoP scheme and a proof")]
    DpopBoundToken,
    /// An unbound access token sent with the DPoP scheme.
    #[error("this access token is not bound to a DPoP key: send it as a Bearer token")]
    NotDpopBound,
    /// This instance's memory of proofs seen at resources is full of proofs still fresh.
    #[error("too many DPoP proofs at once; retry shortly")]
    DpopBusy,
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

/// Why a proof is refused, said in the answer's `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProofError {
    #[error("the DPoP proof is not a compact JWS")]
    Malformed,
    #[error("the DPoP proof's typ is not dpop+jwt")]
    Type,
    #[error("the DPoP proof's alg is not one of ES256, EdDSA, RS256, PS256")]
    Algorithm,
    #[error("the DPoP proof's jwk is not a public key of its alg")]
    Key,
    #[error("the DPoP proof's jwk holds a private key")]
    PrivateKey,
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    #[error("the DPoP proof names critical extensions")]
    Critical,
    #[error("the DPoP proof lacks jti, htm, htu or iat")]
    Claims,
    #[error("the DPoP proof's htm is not this request's method")]
    Method,
    #[error("the DPoP proof's htu is not this request's URL")]
    Url,
    #[error("the DPoP proof's iat is too far from now")]
    Stale,
    #[error("the DPoP proof's ath is not the hash of the access token sent")]
    TokenHash,
    #[error("the DPoP proof is signed by another key than the token is bound to")]
    WrongKey,
    #[error("the DPoP proof was already used")]
    Replayed,
    #[error("more than one DPoP header")]
    Several,
    #[error("a DPoP proof is required")]
    Missing,
}

/// Where a DPoP proof was refused: at login or refresh (400, as RFC 6749 §5.2 errors are) or at a
/// protected route (401 with a `DPoP` challenge, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DpopAt {
    Token,
    Resource,
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
