//! Input parsed once, at the edge, into types that cannot hold invalid values. Handlers parse; the
//! flows behind them (`accounts.rs`) take only these, so nothing malformed costs a throttle slot or a
//! hash, or reaches the database.
//!
//! One identity rule, from the PRECIS framework (RFC 8264): an e-mail address is enforced with the
//! UsernameCaseMapped profile of RFC 8265 (full-width forms mapped to their ordinary ones, lower case,
//! NFC; control, invisible, format, symbol and space characters refused), and the result is both what
//! is stored and what is compared, so look-alikes of one address (NFC and NFD, full-width, with a
//! zero-width or bidi character) are one account or are refused. A username, which people read but
//! nothing compares, is enforced with the Nickname profile of RFC 8266 (NFKC, spaces folded, controls
//! and invisible characters refused). Device fields refuse control characters.

use std::fmt;

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{Nickname, UsernameCaseMapped};
use shared::auth::limits::{
    MAX_DEVICE_FIELD_CHARS, MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_NEW_PASSWORD_CHARS,
};
use shared::auth::{LoginRequest, RegisterRequest};

use crate::auth::error::AuthError;

/// An email address, trimmed and lower-cased, so `Ann@Example.com` and `ann@example.com` are one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email(String);

impl Email {
    /// A well-formed address, as sign-up requires.
    pub(crate) fn parse(raw: &str) -> Result<Self, AuthError> {
        let email = Self::normalize(raw)?;
        let invalid = || AuthError::Invalid("email address is invalid".into());
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// Whatever someone logs in with: an address of another shape simply matches no account.
    fn for_login(raw: &str) -> Result<Self, AuthError> {
        Self::normalize(raw).map(Self)
    }

    fn normalize(raw: &str) -> Result<String, AuthError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.chars().count() > MAX_EMAIL_CHARS {
            return Err(AuthError::Invalid(format!("email must be 1 to {MAX_EMAIL_CHARS} characters")));
        }
        let email = UsernameCaseMapped::enforce(raw).map_err(|_| {
            AuthError::Invalid(
                "email contains a character that is not allowed (control, invisible, symbol or space)".into(),
            )
        })?;
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(AuthError::Invalid(format!("email must be 1 to {MAX_EMAIL_CHARS} characters")));
        }
        Ok(email.into_owned())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password within the accepted length. Its `Debug` never shows it.
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

    /// A password someone logs in with: anything up to 128 characters but nothing.
    fn given(raw: String) -> Result<Self, AuthError> {
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
    pub(crate) email: Email,
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
            email: Email::for_login(&body.email)?,
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
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com", "ann@.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Email::for_login(" ODD ").unwrap().as_str(), "odd", "a login only normalises");
        assert!(Email::for_login("odd\u{0}").is_err(), "but refuses what no address can hold");
    }

    /// Every invisible, format or control character, and every look-alike spelling of an address.
    #[test]
    fn look_alike_addresses_are_one_address_or_refused() {
        let plain = Email::parse("victim@example.com").unwrap();
        for hidden in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}', '\u{202D}', '\u{2066}',
            '\u{061C}', '\u{FE0F}', '\u{180E}', '\u{0000}', '\u{001B}', '\n', '\u{007F}', '\u{0085}',
        ] {
            let spoof = format!("vic{hidden}tim@example.com");
            match Email::parse(&spoof) {
                Ok(parsed) => assert_eq!(parsed, plain, "{spoof:?} became another address"),
                Err(AuthError::Invalid(_)) => {}
                Err(other) => panic!("{spoof:?}: {other}"),
            }
            assert!(Email::for_login(&spoof).map_or(true, |e| e == plain), "{spoof:?} at login");
        }
        let nfc = Email::parse("jos\u{e9}@example.com").unwrap();
        assert_eq!(Email::parse("jose\u{301}@example.com").unwrap(), nfc, "NFD is NFC");
        assert_eq!(Email::parse("\u{FF56}ictim@example.com").unwrap(), plain, "full-width is ordinary");
        assert_eq!(Email::parse("VICTIM@EXAMPLE.COM").unwrap(), plain);
    }

    #[test]
    fn usernames_refuse_control_and_invisible_characters_and_fold_look_alikes() {
        let name = |username: &str| {
            NewAccount::parse(RegisterRequest {
                username: username.into(),
                email: "a@example.com".into(),
                password: "long-enough".into(),
            })
            .map(|account| account.username)
        };
        for bad in ["ann\u{1B}[31m", "ann\nadmin", "ann\u{0}", "an\u{200B}n", "ann\u{202E}", "\u{FEFF}"] {
            assert!(name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(name("Jos\u{0065}\u{0301}").unwrap(), "Jos\u{e9}");
        assert_eq!(name("\u{FF21}nn").unwrap(), "Ann", "full-width folds");
        assert_eq!(name("Ann  Lee").unwrap(), "Ann Lee");
    }

    #[test]
    fn device_fields_refuse_control_characters() {
        for field in ["a\u{0}b", "a\nb", "\u{7F}"] {
            assert!(optional_field("deviceName", Some(field)).is_err(), "{field:?}");
        }
        assert_eq!(
            optional_field("deviceName", Some(" Firefox on Linux ")).unwrap().as_deref(),
            Some("Firefox on Linux")
        );
    }

    #[test]
    fn passwords_have_length_rules_and_hide_themselves() {
        assert!(Password::new_password("short".into()).is_err());
        assert!(Password::new_password("x".repeat(129)).is_err());
        assert!(Password::given("x".into()).is_ok());
        assert_eq!(format!("{:?}", Password::given("secret".into()).unwrap()), "Password([redacted])");
    }

    /// The email `pattern` the OpenAPI document publishes for sign-up, as generated from the schema.
    fn published_email_pattern() -> regex::Regex {
        let schema = serde_json::to_value(<RegisterRequest as utoipa::PartialSchema>::schema()).unwrap();
        regex::Regex::new(schema["properties"]["email"]["pattern"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn the_published_email_pattern_takes_and_refuses_what_the_parser_does() {
        let pattern = published_email_pattern();
        for good in ["ann@example.com", " Ann@Example.COM\t", "a.b+c@x-y.example", "o'neil@x.example"] {
            assert!(pattern.is_match(good) && Email::parse(good).is_ok(), "{good:?}");
        }
        // Beyond ASCII the parser decides alone; the pattern promises only what it surely takes.
        assert!(!pattern.is_match("é@ü.de") && Email::parse("é@ü.de").is_ok());
        for bad in ["ann", "@example.com", "a@example", "a@-x.com", "a@x-.com", "a@x..com", "a b@x.com", "a@x.com\u{1}"]
        {
            assert!(!pattern.is_match(bad) && Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the published pattern takes, sign-up takes; on ASCII the two agree exactly.
        #[test]
        fn the_published_email_pattern_is_the_sign_up_rule(
            email in "[ \t\u{1}\u{85}\u{a0}@.a-cA-Z0-9_+é'\u{200B}-]{0,24}",
        ) {
            let pattern = published_email_pattern();
            let parsed = Email::parse(&email).is_ok();
            if pattern.is_match(&email) {
                proptest::prop_assert!(parsed, "{:?} matches the pattern but is refused", email);
            }
            if email.is_ascii() {
                proptest::prop_assert_eq!(pattern.is_match(&email), parsed, "{:?}", email);
            }
        }

        /// Whatever arrives, parsing never panics, and what parses keeps its promises.
        #[test]
        fn parsed_input_keeps_its_promises(email in "\\PC{0,300}", password in "\\PC{0,200}") {
            if let Ok(parsed) = Email::parse(&email) {
                proptest::prop_assert!(parsed.as_str().contains('@'));
                proptest::prop_assert_eq!(parsed.as_str(), parsed.as_str().trim().to_lowercase());
            }
            if let Ok(parsed) = Password::new_password(password.clone()) {
                proptest::prop_assert!((8..=128).contains(&parsed.expose().chars().count()));
            }
        }
    }
}
