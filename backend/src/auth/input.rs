//! Input parsed once, at the edge, into types that cannot hold invalid values. Handlers parse; the
//! flows behind them (`accounts.rs`) take only these, so nothing malformed costs a throttle slot or a
//! hash, or reaches the database.
//!
//! An e-mail address follows the identity rule of `auth/identity.rs`. A username, which people read but
//! nothing compares, is enforced with the PRECIS Nickname profile of RFC 8266 (NFKC, spaces folded,
//! controls and invisible characters refused). Device fields refuse control characters.

use std::fmt;

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{Nickname, OpaqueString};
use shared::auth::limits::{MAX_DEVICE_FIELD_CHARS, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_NEW_PASSWORD_CHARS};
use shared::auth::{LoginRequest, RegisterRequest};

use crate::auth::error::AuthError;
use crate::auth::identity::{self, Identity, Lookup};

/// The address of a new account, by the identity rule (`auth/identity.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email(Identity);

impl Email {
    /// An address sign-up accepts, or a `validation_failed` that names the reason.
    pub(crate) fn parse(raw: &str) -> Result<Self, AuthError> {
        identity::for_sign_up(raw).map(Self).map_err(|refusal| AuthError::Invalid(refusal.to_string()))
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.0
    }
}

/// What a login looks its account up by: any address of the right length (one of another shape simply
/// matches no account).
pub(crate) fn lookup(raw: &str) -> Result<Lookup, AuthError> {
    identity::for_login(raw).map_err(|refusal| AuthError::Invalid(refusal.to_string()))
}

/// A password within the accepted length, as typed. Its `Debug` never shows it.
///
/// What is hashed and compared is its RFC 8265 OpaqueString form (non-ASCII spaces mapped to a space,
/// NFC), so one password typed in composed or decomposed Unicode (macOS and Windows keyboards) is one
/// password (NIST SP 800-63B §5.1.1.2). A password the profile refuses (a control or unassigned
/// character) is kept as typed rather than refused: nobody is turned away for what they can type.
pub(crate) struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// A new password: 8 to 128 characters.
    fn new_password(raw: String) -> Result<Self, AuthError> {
        Self::within(raw, MIN_NEW_PASSWORD_CHARS)
    }

    /// The form that is hashed and compared (RFC 8265 §4.2), or `None` when the profile refuses it.
    pub(crate) fn normalized(&self) -> Option<String> {
        OpaqueString::enforce(self.0.as_str()).ok().map(std::borrow::Cow::into_owned)
    }

    /// The form a new password is hashed in: normalised, or as typed when the profile refuses it.
    pub(crate) fn for_hashing(self) -> String {
        self.normalized().unwrap_or(self.0)
    }

    /// A password someone logs in with: anything up to 128 characters but nothing.
    pub(crate) fn given(raw: String) -> Result<Self, AuthError> {
        Self::within(raw, 1)
    }

    fn within(raw: String, min: usize) -> Result<Self, AuthError> {
        let length = raw.chars().count();
        if !(min..=MAX_PASSWORD_CHARS).contains(&length) {
            return Err(AuthError::Invalid(format!("password must be {min} to {MAX_PASSWORD_CHARS} characters")));
        }
        Ok(Self(raw))
    }

    pub(crate) fn expose(self) -> String {
        self.0
    }

    /// True when both are the same password.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0 == other.0 || self.normalized().is_some_and(|mine| Some(mine) == other.normalized())
    }
}

/// A sign-up.
#[derive(Debug)]
pub(crate) struct NewAccount {
    pub(crate) username: String,
    pub(crate) email: Email,
    pub(crate) password: Password,
}

impl NewAccount {
    pub(crate) fn parse(body: RegisterRequest) -> Result<Self, AuthError> {
        let length = || AuthError::Invalid(format!("username must be 1 to {MAX_USERNAME_CHARS} characters"));
        let username = body.username.trim();
        if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
            return Err(length());
        }
        let username = Nickname::enforce(username).map_err(|_| {
            AuthError::Invalid("username contains a character that is not allowed (control or invisible)".into())
        })?;
        if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
            return Err(length());
        }
        Ok(Self {
            username: username.into_owned(),
            email: Email::parse(&body.email)?,
            password: Password::new_password(body.password)?,
        })
    }
}

/// A login: who, with what, from which device.
#[derive(Debug)]
pub(crate) struct Credentials {
    pub(crate) email: Lookup,
    pub(crate) password: Password,
    pub(crate) device: Device,
    /// "Remember me" (absent: yes).
    pub(crate) remember: bool,
}

/// Where a login comes from, recorded with its session.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) ip: std::net::IpAddr,
    pub(crate) user_agent: Option<String>,
}

/// The longest `User-Agent` kept.
const MAX_USER_AGENT_CHARS: usize = 256;

impl Origin {
    /// `user_agent` as sent, without control characters and cut to 256 characters.
    pub(crate) fn new(ip: std::net::IpAddr, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect::<String>())
            .map(|ua| ua.trim().to_owned())
            .filter(|ua| !ua.is_empty());
        Self { ip, user_agent }
    }
}

/// A password change: the current password, as given, and a new one by the sign-up rules.
#[derive(Debug)]
pub(crate) struct PasswordChange {
    pub(crate) current: Password,
    pub(crate) new: Password,
}

impl PasswordChange {
    pub(crate) fn parse(body: shared::auth::ChangePasswordRequest) -> Result<Self, AuthError> {
        Ok(Self { current: Password::given(body.current_password)?, new: Password::new_password(body.new_password)? })
    }
}

/// A password reset's confirmation: the token from the link, and a new password by the sign-up rules.
#[derive(Debug)]
pub(crate) struct ResetConfirmation {
    /// The token as the link carried it: 256 random bits in the refresh-token shape.
    pub(crate) token: crate::auth::tokens::refresh_token::RefreshToken,
    pub(crate) new: Password,
}

impl ResetConfirmation {
    /// A token of any other shape matches no reset and is refused like an unknown one.
    pub(crate) fn parse(body: shared::auth::PasswordResetConfirm) -> Result<Self, AuthError> {
        let new = Password::new_password(body.new_password)?;
        let token = crate::auth::tokens::refresh_token::RefreshToken::parse(body.token.trim())
            .ok_or(AuthError::ResetTokenInvalid)?;
        Ok(Self { token, new })
    }
}

/// The optional device fields of a login (a login from a known device replaces its session).
#[derive(Debug, Default)]
pub(crate) struct Device {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) app: Option<String>,
}

impl Credentials {
    pub(crate) fn parse(body: LoginRequest) -> Result<Self, AuthError> {
        if body.email.trim().is_empty() || body.password.is_empty() {
            return Err(AuthError::Invalid("email and password are required".into()));
        }
        let device = Device {
            id: optional_field("deviceId", body.device_id.as_deref())?,
            name: optional_field("deviceName", body.device_name.as_deref())?,
            app: optional_field("appId", body.app_id.as_deref())?,
        };
        Ok(Self {
            email: lookup(&body.email)?,
            password: Password::given(body.password)?,
            device,
            remember: body.remember.unwrap_or(true),
        })
    }
}

fn optional_field(name: &str, value: Option<&str>) -> Result<Option<String>, AuthError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.chars().count() > MAX_DEVICE_FIELD_CHARS => {
            Err(AuthError::Invalid(format!("{name} must be at most {MAX_DEVICE_FIELD_CHARS} characters")))
        }
        Some(value) if value.chars().any(char::is_control) => {
            Err(AuthError::Invalid(format!("{name} must not contain control characters")))
        }
        Some(value) => Ok(Some(value.to_owned())),
    }
}

#[cfg(test)]
mod tests;
