//! The typed values settings take, and how durations are read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite { url: String, path: PathBuf },
    Postgres { url: String },
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExposure {
    Same,
    Off,
    Separate(SocketAddr),
}

impl FromStr for MetricsExposure {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "same" => Ok(Self::Same),
            "off" => Ok(Self::Off),
            address => address.parse().map(Self::Separate).map_err(|_| "expected same, off or host:port".to_owned()),
        }
    }
}

/// Administration commands; without one, the server runs.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Signing keys: rotate, list, revoke. Timings and the algorithm come from the settings the servers
    /// last wrote to the database, not from this shell.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Accounts under the identity rule for e-mail addresses.
    Accounts {
        #[command(subcommand)]
        action: AccountsCommand,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AccountsCommand {
    /// Lists accounts from before the identity rule that share an address under it, or look alike.
    Conflicts,
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum KeysCommand {
    /// Adds a key that is published at once and signs after the servers' KEY_ACTIVATION_DELAY; the
    /// current key stays published and accepted until every token it signed has expired. On an empty
    /// ring the new key signs at once.
    Rotate {
        /// Create the database if it does not exist (by default a missing database is an error).
        #[arg(long)]
        create: bool,
    },
    /// Lists every key with its algorithm, state and times.
    List,
    /// Ends a compromised key now: every token it signed is refused. Another key is made active.
    Revoke {
        /// The key's `kid`, as `keys list` shows it (a kid may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "eddsa")]
    EdDsa,
    #[value(name = "es256")]
    Es256,
    #[value(name = "rs256")]
    Rs256,
    #[value(name = "hs256")]
    Hs256,
}

/// A resource server's credentials for introspection. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials").field("id", &self.id).field("secret", &"[redacted]").finish()
    }
}

/// Shortest accepted introspection secret.
const MIN_CLIENT_SECRET_BYTES: usize = 16;

impl FromStr for ClientCredentials {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (id, secret) = value.trim().split_once(':').ok_or("expected id:secret")?;
        if id.is_empty() || id.contains(char::is_control) {
            return Err("a client id must be non-empty printable text".into());
        }
        if secret.len() < MIN_CLIENT_SECRET_BYTES {
            return Err(format!("a client secret must be at least {MIN_CLIENT_SECRET_BYTES} bytes"));
        }
        Ok(Self { id: id.to_owned(), secret: secret.to_owned() })
    }
}

/// An issuer identifier as RFC 8414 §2 wants it, an http(s) URL with no query or fragment (its trailing
/// slash dropped), or a plain name such as an earlier release's `silent-refresh`, which keeps working
/// (start-up warns that discovery needs a URL).
pub(super) fn parse_issuer(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', ' ']) => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        None if is_plain_name(value) => Ok(value.to_owned()),
        _ => Err("must be an http(s) URL without query or fragment, e.g. https://auth.example.com".into()),
    }
}

/// A non-URL issuer: printable, no spaces, and no scheme (so a misspelt URL is still refused).
fn is_plain_name(value: &str) -> bool {
    !value.is_empty() && !value.contains(':') && value.chars().all(|c| c.is_ascii_graphic())
}

/// A setting that times or shapes signing keys, which the servers record at start (`key_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetting {
    Algorithm,
    ActivationDelay,
    AccessTokenTtl,
    Leeway,
}

impl KeySetting {
    pub const ALL: [Self; 4] = [Self::Algorithm, Self::ActivationDelay, Self::AccessTokenTtl, Self::Leeway];

    /// The argument's id in `Config`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Algorithm => "jwt_algorithm",
            Self::ActivationDelay => "key_activation_delay",
            Self::AccessTokenTtl => "access_token_ttl",
            Self::Leeway => "jwt_leeway",
        }
    }

    /// Its environment variable.
    pub fn variable(self) -> &'static str {
        match self {
            Self::Algorithm => "JWT_ALGORITHM",
            Self::ActivationDelay => "KEY_ACTIVATION_DELAY",
            Self::AccessTokenTtl => "ACCESS_TOKEN_TTL",
            Self::Leeway => "JWT_LEEWAY",
        }
    }
}

/// Whether an issuer is a URL (RFC 8414 discovery needs one).
pub fn is_url_issuer(issuer: &str) -> bool {
    issuer.starts_with("https://") || issuer.starts_with("http://")
}

/// The refresh cookie's name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CookiePrefix {
    /// `__Host-refresh_token`: Secure, `Path=/`, no `Domain` (every current browser enforces it).
    Host,
    /// `__Host-Http-refresh_token`: also only ever set by a `Set-Cookie` header with `HttpOnly`, never
    /// by a script (draft-ietf-httpbis-layered-cookies; enforced by Chromium from 140; a browser
    /// without it still enforces the `__Host-` part).
    HostHttp,
}

impl CookiePrefix {
    /// The cookie's name.
    pub fn cookie_name(self) -> &'static str {
        match self {
            Self::Host => shared::auth::REFRESH_COOKIE,
            Self::HostHttp => shared::auth::REFRESH_COOKIE_HTTP,
        }
    }
}

/// Sender-constrained tokens (DPoP, RFC 9449).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DpopSetting {
    /// Logins ignore proofs and bind nothing; sessions bound earlier stay bound to their keys.
    Off,
    /// A login or refresh with a proof binds its session; one without stays a Bearer session.
    Optional,
    /// Every login and refresh needs a proof; a session from before is bound at its next refresh.
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RefreshExpiry {
    Sliding,
    Fixed,
}

/// `PUBLIC_URL`: an http(s) URL with no query, fragment or credentials.
pub(super) fn parse_public_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim()).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && url.has_host();
    if plain { Ok(url) } else { Err(format!("{value:?} must be an http(s) URL without query, fragment or user")) }
}

pub(super) fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(value).map_err(|e| format!("{e} (use e.g. 3s, 1m, 15m, 7d)"))
}

/// A duration that must be positive (a zero lifetime would make every token dead on arrival).
pub(super) fn parse_lifetime(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err("must be greater than zero".into()),
        duration => Ok(duration),
    }
}
