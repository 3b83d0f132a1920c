//! Settings, read once at start-up from flags or environment variables (every flag has one).

mod secret;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

pub use secret::Secret;
pub use values::{
    AccountsCommand, ClientCredentials, Command, CookiePrefix, DatabaseTarget, DpopSetting, JwtAlgorithm, KeysCommand,
    MetricsExposure, RefreshExpiry,
};
pub use values::{KeySetting, is_url_issuer};
use values::{parse_duration, parse_issuer, parse_lifetime, parse_public_url};

use secret::MIN_SECRET_BYTES;
const DEFAULT_DB_FILE: &str = "app.db";

#[derive(Debug, Clone, Parser)]
#[command(name = "backend", version, about = "Auth server with silent JWT refresh", args_override_self = true)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The key settings this process was given by flag or environment, not by default (the `keys`
    /// commands refuse to act on ones that disagree with the servers').
    #[arg(skip)]
    pub explicit_key_settings: Vec<KeySetting>,

    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// `sqlite://path` or `postgres://…`. Default: a SQLite file in DATA_DIR, created on first start.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Folder for the default SQLite file and the generated signing key.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// The server's secret, at least 32 bytes: refresh-token successors are derived from it, and with
    /// JWT_ALGORITHM=hs256 it also signs access tokens. Required unless the embedded default database
    /// is used, where one is generated once and kept in DATA_DIR with mode 0600.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// How access tokens are signed: `eddsa`, `es256` or `rs256` (keys kept in the database and
    /// published at /.well-known/jwks.json; a change takes effect at the next `backend keys rotate`), or
    /// `hs256` (JWT_SECRET; other services would need the secret to verify).
    #[arg(long, env = "JWT_ALGORITHM", default_value = "eddsa")]
    pub jwt_algorithm: JwtAlgorithm,

    /// How long a key added by `backend keys rotate` is published before it signs, so verifiers'
    /// caches have it first. The JWKS is cacheable for half of this.
    #[arg(long, env = "KEY_ACTIVATION_DELAY", default_value = "10m", value_parser = parse_duration)]
    pub key_activation_delay: Duration,

    /// How often each instance reads the signing keys again (it also does when a token names a key it
    /// does not know).
    #[arg(long, env = "KEY_RELOAD_INTERVAL", default_value = "5s", value_parser = parse_lifetime)]
    pub key_reload_interval: Duration,

    /// `iss` of issued access tokens and this server's identifier in its OAuth metadata (RFC 8414): the
    /// https URL it is reached at, without query or fragment. Unset: the issuer the database recorded at
    /// its first start (`http://127.0.0.1:3000` on a new one; `silent-refresh`, the earlier default, on a
    /// database an earlier release wrote). A change keeps tokens of the previous issuer valid for one
    /// ACCESS_TOKEN_TTL. Every instance must agree.
    #[arg(long, env = "JWT_ISSUER", value_parser = parse_issuer)]
    pub jwt_issuer: Option<String>,

    /// `client_id` of access tokens whose login named no `appId` in CLIENT_IDS (RFC 9068 §2.2).
    #[arg(long, env = "JWT_CLIENT_ID", default_value = "silent-refresh-spa")]
    pub jwt_client_id: String,

    /// The applications a login's `appId` may name as its token's `client_id`, as `id,…`. Any other
    /// `appId` still labels the session but the token carries JWT_CLIENT_ID: a user cannot choose the
    /// client a resource server sees. None: every token carries JWT_CLIENT_ID.
    #[arg(long, env = "CLIENT_IDS", value_delimiter = ',')]
    pub client_ids: Vec<String>,

    /// Resource servers that may call `/oauth/introspect`, as `id:secret,…` (secrets of 16 bytes or
    /// more, sent with HTTP Basic). None: introspection answers 401 to everyone.
    #[arg(long, env = "INTROSPECTION_CLIENTS", value_delimiter = ',', hide_env_values = true)]
    pub introspection_clients: Vec<ClientCredentials>,

    /// `aud` of issued access tokens; every instance must agree.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "silent-refresh-api")]
    pub jwt_audience: String,

    /// Access token lifetime.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_lifetime)]
    pub access_token_ttl: Duration,

    /// Refresh token lifetime (per rotation when sliding).
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "7d", value_parser = parse_lifetime)]
    pub refresh_token_ttl: Duration,

    /// `sliding`: each refresh extends expiry to now + REFRESH_TOKEN_TTL (capped by SESSION_MAX_LIFETIME);
    /// `fixed`: the session keeps the expiry set at login.
    #[arg(long, env = "REFRESH_EXPIRY", default_value = "sliding")]
    pub refresh_expiry: RefreshExpiry,

    /// The refresh cookie's name in cookie mode: `host` (`__Host-refresh_token`) or `host-http`
    /// (`__Host-Http-refresh_token`, which a script cannot set in a browser that knows the prefix).
    /// Either name is read, so changing it logs nobody out.
    #[arg(long, env = "REFRESH_COOKIE_PREFIX", default_value = "host")]
    pub refresh_cookie_prefix: CookiePrefix,

    /// Hard cap on a session's life, counted from login.
    #[arg(long, env = "SESSION_MAX_LIFETIME", default_value = "30d", value_parser = parse_lifetime)]
    pub session_max_lifetime: Duration,

    /// How long the previous refresh token still answers with the same successor; `0` disables.
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_grace: Duration,

    /// Clock skew tolerated when checking an access token's `exp`.
    #[arg(long, env = "JWT_LEEWAY", default_value = "5s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Built single-page app to serve at `/` (when the folder exists).
    #[arg(long, env = "STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Create demo@example.com / demo-password on first start.
    /// Default: on with the embedded default database, off when DATABASE_URL is set.
    #[arg(long, env = "DEMO_USER", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo_user: Option<bool>,

    /// Mount the demo's routes (`/api/demo/echo`, which holds a request open for up to 10 s, and
    /// `/api/demo/expired-token`). Default: on with the demo user, off otherwise.
    #[arg(long, env = "DEMO_ROUTES", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo_routes: Option<bool>,

    /// Login attempts per account evaluated within LOGIN_FAILURE_WINDOW (an IP gets four times as many);
    /// failures keep their slot, successes give it back. Past it, 429.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value = "5", value_parser = clap::value_parser!(u32).range(1..))]
    pub login_max_failures: u32,

    /// Window over which login attempts are counted.
    #[arg(long, env = "LOGIN_FAILURE_WINDOW", default_value = "1m", value_parser = parse_lifetime)]
    pub login_failure_window: Duration,

    /// Sign-ups per client address within REGISTER_WINDOW. Past it, 429.
    #[arg(long, env = "REGISTER_MAX_PER_IP", default_value = "10", value_parser = clap::value_parser!(u32).range(1..))]
    pub register_max_per_ip: u32,

    /// Window over which sign-ups are counted.
    #[arg(long, env = "REGISTER_WINDOW", default_value = "1h", value_parser = parse_lifetime)]
    pub register_window: Duration,

    /// The longest a session lives whose login said `"remember": false` (its cookie also dies with the
    /// browser).
    #[arg(long, env = "SESSION_TTL_NOT_REMEMBERED", default_value = "12h", value_parser = parse_lifetime)]
    pub session_ttl_not_remembered: Duration,

    /// A session with no authenticated request (refreshes do not count) for this long ends: its next
    /// refresh answers 403 `session_idle`. Off unless set.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", value_parser = parse_lifetime)]
    pub session_idle_timeout: Option<Duration>,

    /// How recently the user must have entered their password (at login or with
    /// `POST /api/auth/reauthenticate`) for a password change, "sign out other devices", "log out
    /// everywhere" or ending another device's session; older, they answer 401
    /// `reauthentication_required` (RFC 9470). 0 asks every time (the password entered within the
    /// last 30 seconds, the time a client needs to ask and retry).
    #[arg(long, env = "REAUTH_MAX_AGE", default_value = "10m", value_parser = parse_duration)]
    pub reauth_max_age: Duration,

    /// DPoP (RFC 9449): `optional` binds a session to the key of the proof its login or refresh sent,
    /// `required` refuses a login or refresh without one, `off` binds no new session (sessions bound
    /// before stay bound).
    #[arg(long, env = "DPOP", default_value = "optional")]
    pub dpop: DpopSetting,

    /// Whether every DPoP proof must carry a nonce from this server (`DPoP-Nonce`); a proof without
    /// one is answered with `use_dpop_nonce` and the nonce, once.
    #[arg(long, env = "DPOP_NONCE_REQUIRED", default_value = "true", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dpop_nonce_required: bool,

    /// How old a DPoP proof's `iat` may be.
    #[arg(long, env = "DPOP_PROOF_MAX_AGE", default_value = "60s", value_parser = parse_duration)]
    pub dpop_proof_max_age: Duration,

    /// The URL clients reach this server at (scheme, host, port and any path prefix), when a proxy
    /// changes it; a DPoP proof's `htu` is compared with it. Unset: the request's own `Host`.
    #[arg(long, env = "PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<url::Url>,

    /// Live sessions per user; a login beyond it ends the least recently used one. 0: unlimited.
    #[arg(long, env = "MAX_SESSIONS_PER_USER", default_value = "20")]
    pub max_sessions_per_user: u32,

    /// How long a login waits for other attempts in progress on the same account or address (whose
    /// outcome decides whether it may go on) before it is refused with 429.
    #[arg(long, env = "LOGIN_QUEUE_TIMEOUT", default_value = "10s", value_parser = parse_lifetime)]
    pub login_queue_timeout: Duration,

    /// Per-address limits (logins, sign-ups, introspection clients, password-reset requests,
    /// connections) count an IPv6
    /// address by this many leading bits, since one IPv6 client holds at least a /64 (RFC 6177, RFC 8981).
    #[arg(long, env = "IPV6_LIMIT_PREFIX", default_value = "64", value_parser = clap::value_parser!(u8).range(1..=128))]
    pub ipv6_limit_prefix: u8,

    /// How often expired and revoked sessions, stale throttle counters, retired signing keys and used or
    /// expired password-reset tokens are deleted.
    #[arg(long, env = "PURGE_INTERVAL", default_value = "1h", value_parser = parse_lifetime)]
    pub purge_interval: Duration,

    /// How long a client may take to send a request's head (the request line and headers); a slower
    /// one is disconnected. Also the longest a new connection may wait before its first byte.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_lifetime)]
    pub header_read_timeout: Duration,

    /// How long a connection may sit with no request in progress and no bytes moving (keep-alive
    /// included) before it is closed.
    #[arg(long, env = "IDLE_TIMEOUT", default_value = "60s", value_parser = parse_lifetime)]
    pub idle_timeout: Duration,

    /// How long a client may take to send a request's body; a slower one gets 408.
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value = "30s", value_parser = parse_lifetime)]
    pub body_read_timeout: Duration,

    /// How long one request may take from its head to its answer; past it the answer is 408.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_lifetime)]
    pub request_timeout: Duration,

    /// Connections served at once on each listener; past it new connections wait in the kernel's
    /// queue, and the log says so once.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "4096", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Connections one client address (an IPv6 address by IPV6_LIMIT_PREFIX) may hold at once; past it
    /// a new connection from that address is closed at once. Default: a quarter of MAX_CONNECTIONS. Behind
    /// a proxy that connects from one address, set it to MAX_CONNECTIONS.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: Option<u32>,

    /// Maximum database connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value = "10", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,

    /// How long a session confirmed live is trusted without asking the database again. Revocations on
    /// this instance act at once; on other instances sharing the database, within this time. `0`: ask
    /// every time.
    #[arg(long, env = "SESSION_CACHE_TTL", default_value = "1s", value_parser = parse_duration)]
    pub session_cache_ttl: Duration,

    /// How long a request waits for a free database connection.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_lifetime)]
    pub db_acquire_timeout: Duration,

    /// Take the client address for login throttling from the last `X-Forwarded-For` entry. Turn on only
    /// behind a proxy that appends it; otherwise clients could pick their own address.
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value = "false", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_forwarded_for: bool,

    /// Where Prometheus metrics are served: `same` (at /metrics on BIND), `off`, or an address of their
    /// own such as `127.0.0.1:9100`, to keep them off the public listener.
    #[arg(long, env = "METRICS", default_value = "same")]
    pub metrics: MetricsExposure,

    /// Browser origins allowed to call the API cross-origin (comma-separated). Empty: same-origin only.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Origins the served SPA may call besides its own (comma-separated), added to the
    /// Content-Security-Policy's `connect-src`. Empty: the SPA talks to this server only.
    #[arg(long, env = "CSP_CONNECT_SRC", value_delimiter = ',')]
    pub csp_connect_src: Vec<String>,

    /// Where password-reset mail goes: `smtp://[user:password@]host[:port]` (STARTTLS when the server
    /// offers it) or `smtps://…` (TLS from the start). Required when DATABASE_URL is set, unless
    /// MAIL_OUTBOX is.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of password-reset mail.
    #[arg(long, env = "MAIL_FROM", default_value = "silent-refresh <no-reply@localhost>")]
    pub mail_from: String,

    /// A folder that receives each mail as an `.eml` file instead of sending it (never served over
    /// HTTP). The embedded default uses DATA_DIR/outbox when SMTP_URL is not set.
    #[arg(long, env = "MAIL_OUTBOX")]
    pub mail_outbox: Option<PathBuf>,

    /// How long a password-reset link works; a newer request or its use voids it sooner.
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "30m", value_parser = parse_lifetime)]
    pub password_reset_ttl: Duration,

    /// The page a password-reset link opens, with `#token=…` added. Default: JWT_ISSUER's
    /// `/reset-password`, the demo app's page.
    #[arg(long, env = "PASSWORD_RESET_URL")]
    pub password_reset_url: Option<String>,
}

/// Where mail goes, as the settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTarget {
    Smtp { url: String },
    Outbox { folder: PathBuf },
}

impl Config {
    /// Parses flags and environment. On `--help` or a bad value this prints and hands back the exit code.
    pub fn load() -> Result<Self, ExitCode> {
        match Self::try_parse_explicit(std::env::args_os()) {
            Ok(config) => Ok(config),
            Err(error) if !error.use_stderr() => {
                let _ = error.print();
                Err(ExitCode::SUCCESS)
            }
            Err(error) => {
                // clap's first line already names the flag and its variable (`--access-token-ttl <ACCESS_TOKEN_TTL>`).
                let rendered = error.to_string();
                eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid arguments"));
                Err(ExitCode::from(2))
            }
        }
    }

    /// Parses like `try_parse_from`, also noting which key settings were given rather than defaulted.
    pub fn try_parse_explicit<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = <Self as clap::CommandFactory>::command().try_get_matches_from(args)?;
        let mut config = <Self as clap::FromArgMatches>::from_arg_matches(&matches)?;
        config.explicit_key_settings = KeySetting::ALL
            .into_iter()
            .filter(|setting| {
                matches
                    .value_source(setting.id())
                    .is_some_and(|source| source != clap::parser::ValueSource::DefaultValue)
            })
            .collect();
        Ok(config)
    }

    /// True when no DATABASE_URL was given and the embedded SQLite file is used.
    pub fn uses_embedded_default(&self) -> bool {
        self.database_url.is_none()
    }

    pub fn demo_user_enabled(&self) -> bool {
        self.demo_user.unwrap_or_else(|| self.uses_embedded_default())
    }

    /// Whether `/api/demo/*` is mounted: with the demo user unless said otherwise.
    pub fn demo_routes_enabled(&self) -> bool {
        self.demo_routes.unwrap_or_else(|| self.demo_user_enabled())
    }

    /// The database to connect to.
    pub fn database(&self) -> Result<DatabaseTarget, ConfigError> {
        let url = match &self.database_url {
            None => {
                let path = self.data_dir.join(DEFAULT_DB_FILE);
                return Ok(DatabaseTarget::Sqlite { url: sqlite_url(&path), path });
            }
            Some(url) => url.trim(),
        };
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = PathBuf::from(rest.split('?').next().unwrap_or_default());
            if path.as_os_str().is_empty() || rest.starts_with(":memory:") {
                return Err(ConfigError::Invalid("DATABASE_URL", "a sqlite URL must name a file".into()));
            }
            return Ok(DatabaseTarget::Sqlite { url: sqlite_url(&path), path });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres { url: url.to_owned() });
        }
        Err(ConfigError::Invalid("DATABASE_URL", "expected sqlite://path or postgres://…".into()))
    }

    /// Where mail goes: SMTP_URL, else MAIL_OUTBOX, else (for the embedded default only) DATA_DIR/outbox.
    /// A server on a database of its own must say: a reset link written to a folder nobody reads would
    /// leave its users locked out without a word.
    pub fn mail_target(&self) -> Result<MailTarget, ConfigError> {
        match (&self.smtp_url, &self.mail_outbox) {
            (Some(url), _) => Ok(MailTarget::Smtp { url: url.clone() }),
            (None, Some(folder)) => Ok(MailTarget::Outbox { folder: folder.clone() }),
            (None, None) if self.uses_embedded_default() => {
                Ok(MailTarget::Outbox { folder: self.data_dir.join("outbox") })
            }
            (None, None) => Err(ConfigError::Invalid(
                "SMTP_URL",
                "is required when DATABASE_URL is set, to send password-reset mail (or MAIL_OUTBOX=<folder> to \
                 write it to files)"
                    .into(),
            )),
        }
    }

    /// The signing key: JWT_SECRET, or for the embedded default a key generated once and kept on disk.
    pub fn signing_secret(&self) -> Result<Secret, ConfigError> {
        match &self.jwt_secret {
            Some(secret) => Ok(secret.clone()),
            None if self.uses_embedded_default() => secret::load_or_create(&self.data_dir),
            None => Err(ConfigError::Invalid(
                "JWT_SECRET",
                format!("is required when DATABASE_URL is set (at least {MIN_SECRET_BYTES} bytes)"),
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} {1}")]
    Invalid(&'static str, String),
    #[error("cannot use the signing key file {path}")]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn sqlite_url(path: &Path) -> String {
    // mode=rwc creates the file on first start.
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
mod tests;
