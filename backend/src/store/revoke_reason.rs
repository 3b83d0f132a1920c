//! Why a session ended: the closed set the `revoked_reason` column holds.

/// Written by the store itself (`Replaced`, `RefreshTokenReused`) or by the rules that end a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RevokeReason {
    /// The user logged out of this session.
    Logout,
    /// The user logged out everywhere.
    LogoutAll,
    /// Revoked from another of the user's sessions.
    Revoked,
    /// A newer login on the same device replaced it.
    Replaced,
    /// A retired refresh token came back.
    RefreshTokenReused,
    /// One of its tokens was revoked at the RFC 7009 endpoint.
    TokenRevocation,
    /// The user signed out their other devices.
    LogoutOthers,
    /// The user changed their password from another session.
    PasswordChanged,
    /// No authenticated request for longer than the idle timeout.
    Idle,
    /// A newer login went past the per-user session cap, and this was the least recently used.
    SessionCap,
    /// The password was reset with a link from the mail.
    PasswordReset,
}

impl RevokeReason {
    const ALL: [Self; 11] = [
        Self::Logout,
        Self::LogoutAll,
        Self::Revoked,
        Self::Replaced,
        Self::RefreshTokenReused,
        Self::TokenRevocation,
        Self::LogoutOthers,
        Self::PasswordChanged,
        Self::Idle,
        Self::SessionCap,
        Self::PasswordReset,
    ];

    /// The column's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::TokenRevocation => "token_revocation",
            Self::LogoutOthers => "logout_others",
            Self::PasswordChanged => "password_changed",
            Self::Idle => "idle",
            Self::SessionCap => "session_cap",
            Self::PasswordReset => "password_reset",
        }
    }

    /// Reads the column back; `None` for a value this version does not write.
    pub(crate) fn from_stored(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_as_itself() {
        for reason in RevokeReason::ALL {
            assert_eq!(RevokeReason::from_stored(reason.as_str()), Some(reason));
        }
        assert_eq!(RevokeReason::from_stored("something else"), None);
    }
}
