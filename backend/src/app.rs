//! The top: build the state from the configuration, assemble the router, serve until a signal, and
//! the `keys` command. Nothing imports this module but `lib.rs`.

mod demo_user;
mod identities;
mod issuer;
mod keys_command;
mod mailer;
mod serve;
mod shutdown;
mod upkeep;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use serve::ConnectionLimits;
use tokio::net::TcpListener;

pub use identities::account_conflicts;
pub use keys_command::{CommandError, list_keys, revoke_key, rotate_keys};

use crate::auth::dpop::DpopPolicy;
use crate::auth::dpop::nonce::Nonces;
use crate::auth::dpop::replay::SeenProofs;
use crate::auth::passwords::{PasswordError, Passwords};
use crate::auth::service::{Auth, SessionPolicy};
use crate::auth::throttle::{Limit, Throttle};
use crate::auth::tokens::access::{AccessTokens, Signer, TokenPolicy};
use crate::auth::tokens::key_material::KeyAlgorithm;
use crate::auth::tokens::key_ring::{KeyError, KeyPolicy, KeyRing};
use crate::auth::tokens::refresh_token::RefreshTokens;
use crate::clock::{SharedClock, SystemClock, millis};
use crate::config::{Config, ConfigError, JwtAlgorithm, MetricsExposure, RefreshExpiry};
use crate::http::limits::RequestLimits;
use crate::http::router::{AppService, RouterError};
use crate::http::state::{AppState, Shared};
use crate::metrics::Metrics;
use crate::store::{KeyPolicyRow, PoolSettings, Store, StoreError};
use crate::telemetry::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    #[error("cannot prepare password hashing")]
    Password(#[from] PasswordError),
    #[error("cannot load the signing keys")]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error")]
    Serve(#[source] std::io::Error),
}

/// A built application, ready to serve.
#[derive(Debug)]
pub struct App {
    state: AppState,
    router: AppService,
    request_limits: RequestLimits,
    route_paths: Vec<String>,
    purge_every: std::time::Duration,
    key_reload: std::time::Duration,
    metrics: MetricsExposure,
    limits: ConnectionLimits,
}

/// How often the live-sessions gauge is refreshed.
const SESSION_GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

impl App {
    /// Connects the store (running migrations), prepares keys and hashing, seeds the demo user.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`build`](Self::build), with every time-dependent rule reading `clock` (tests pass a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub async fn build_with_clock(config: &Config, clock: SharedClock) -> Result<Self, StartError> {
        let auth = auth(config, clock).await?;
        let state = AppState::new(Shared {
            auth: Arc::new(auth),
            trust_forwarded_for: config.trust_forwarded_for,
            cookie_prefix: config.refresh_cookie_prefix,
            cors_origins: config.cors_origins.iter().map(|o| o.trim().to_owned()).collect(),
            // Verifiers may cache the key set for half the activation delay, so a standby key reaches
            // them before it signs anything.
            jwks_max_age: (config.key_activation_delay.as_secs() / 2).min(3600),
            echoes_in_flight: Arc::default(),
            openapi: Bytes::new(),
        });
        if config.demo_user_enabled() {
            demo_user::seed(&state.auth).await?;
        }
        let (router, route_paths) = crate::http::router::router(&state, config)?;
        Ok(Self {
            state,
            router,
            request_limits: RequestLimits::of(config),
            route_paths,
            purge_every: config.purge_interval,
            key_reload: config.key_reload_interval,
            metrics: config.metrics,
            limits: ConnectionLimits {
                header_read: config.header_read_timeout,
                idle: config.idle_timeout,
                max_connections: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
                per_address: usize::try_from(
                    config.max_connections_per_address.unwrap_or(config.max_connections.div_ceil(4)),
                )
                .unwrap_or(usize::MAX),
                ipv6_prefix: config.ipv6_limit_prefix,
            },
        })
    }

    /// The path template of every route the app registered, in registration order.
    pub fn route_paths(&self) -> &[String] {
        &self.route_paths
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let auth: &Auth = &self.state.auth;
        upkeep::purge_now(auth).await;
        let purge = upkeep::purge(auth.clone(), self.purge_every);
        let reload = upkeep::reload_keys(auth.clone(), self.key_reload);
        let counting = upkeep::count_sessions(auth.clone(), SESSION_GAUGE_EVERY);
        let metrics = match self.metrics {
            MetricsExposure::Separate(addr) => {
                Some(serve_metrics(self.state.clone(), addr, self.limits, self.request_limits).await?)
            }
            MetricsExposure::Same | MetricsExposure::Off => None,
        };
        let served = serve::serve(listener, self.router, self.limits, shutdown).await;
        purge.abort();
        reload.abort();
        counting.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.state.auth.store.close().await;
        served.map_err(StartError::Serve)
    }
}

/// The rules' handles, from the configuration.
async fn auth(config: &Config, clock: SharedClock) -> Result<Auth, StartError> {
    let secret = config.signing_secret()?;
    // Before anything is opened: a server that could not send a reset link does not start.
    config.mail_target()?;
    let pool = PoolSettings {
        max_connections: config.db_max_connections,
        acquire_timeout: config.db_acquire_timeout,
        session_cache_ttl: config.session_cache_ttl,
    };
    let store = Store::connect(&config.database()?, pool).await?;
    identities::key_accounts(&store).await?;
    let metrics = Arc::new(Metrics::default());
    let now = clock.now();
    let (issuer, previous_issuer) = issuer::settle(&store, config, now).await?;
    // Written at every start, so `backend keys rotate` follows the servers' settings.
    store
        .put_key_policy(KeyPolicyRow {
            algorithm: algorithm_name(config.jwt_algorithm).to_owned(),
            activation_delay_ms: millis(config.key_activation_delay),
            access_token_ttl_ms: millis(config.access_token_ttl),
            leeway_ms: millis(config.jwt_leeway),
            updated_at: now,
        })
        .await?;
    let signer = match key_algorithm(config.jwt_algorithm) {
        Some(algorithm) => {
            let policy = KeyPolicy { algorithm, activation_delay_ms: millis(config.key_activation_delay) };
            Signer::Ring(KeyRing::load(store.clone(), Arc::clone(&metrics), policy, now).await?)
        }
        None => Signer::hs256(&secret),
    };
    let password_reset = mailer::reset_policy(config, &issuer)?;
    let dpop = dpop_policy(config, &store).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Ok(Auth {
        clock,
        store,
        access: AccessTokens::new(
            signer,
            TokenPolicy {
                issuer,
                previous_issuer,
                audience: config.jwt_audience.clone(),
                default_client_id: config.jwt_client_id.clone(),
                known_client_ids: config
                    .client_ids
                    .iter()
                    .map(|id| id.trim().to_owned())
                    .filter(|id| !id.is_empty())
                    .collect(),
                ttl: config.access_token_ttl,
                leeway: config.jwt_leeway,
            },
        ),
        refresh: RefreshTokens::new(&secret),
        // One core stays free for everything else during a login storm; sign-ups get one worker of
        // their own (see auth/passwords.rs).
        passwords: Passwords::new(cores.saturating_sub(1).max(1), 1).await?,
        throttle: Throttle::new(
            Limit { max: config.login_max_failures, window: config.login_failure_window },
            Limit { max: config.register_max_per_ip, window: config.register_window },
            config.login_queue_timeout,
            config.ipv6_limit_prefix,
        ),
        metrics,
        sessions: SessionPolicy {
            refresh_ttl_ms: millis(config.refresh_token_ttl),
            sliding: config.refresh_expiry == RefreshExpiry::Sliding,
            max_lifetime_ms: millis(config.session_max_lifetime),
            grace_ms: millis(config.refresh_reuse_grace),
            not_remembered_ttl_ms: millis(config.session_ttl_not_remembered),
            idle_timeout_ms: config.session_idle_timeout.map(millis),
            max_sessions: config.max_sessions_per_user,
            reauth_max_age: config.reauth_max_age,
        },
        introspection_clients: config.introspection_clients.clone().into(),
        password_reset,
        dpop,
    })
}

/// The DPoP rules, with the nonce secret every instance reads from the database.
async fn dpop_policy(config: &Config, store: &Store) -> Result<DpopPolicy, StartError> {
    let secret = store.dpop_nonce_secret().await?;
    Ok(DpopPolicy {
        setting: config.dpop,
        nonce_required: config.dpop_nonce_required,
        max_age: config.dpop_proof_max_age,
        nonces: Nonces::new(&secret),
        seen: Arc::new(SeenProofs::new(DPOP_SEEN_CAPACITY, DPOP_PROOFS_PER_KEY_PER_MINUTE, 60_000)),
        public_url: config.public_url.clone(),
    })
}

/// How many proofs seen at resources an instance remembers: at a minute each, 400 000 DPoP requests a
/// minute before it refuses new ones (about 25 MB).
const DPOP_SEEN_CAPACITY: usize = 400_000;

/// How many of them one signing key (one bound session) may have a minute, 100 a second: beyond it
/// that key is answered 429, so no one session's flood fills the memory the others need.
const DPOP_PROOFS_PER_KEY_PER_MINUTE: u32 = 6_000;

/// The JOSE name of the algorithm a setting names, as the servers record it in `key_policy`.
pub(crate) fn algorithm_name(setting: JwtAlgorithm) -> &'static str {
    key_algorithm(setting).map_or("HS256", KeyAlgorithm::jose)
}

/// The key-ring algorithm a setting names; `None` for the shared secret.
pub(crate) fn key_algorithm(setting: JwtAlgorithm) -> Option<KeyAlgorithm> {
    match setting {
        JwtAlgorithm::EdDsa => Some(KeyAlgorithm::EdDsa),
        JwtAlgorithm::Es256 => Some(KeyAlgorithm::Es256),
        JwtAlgorithm::Rs256 => Some(KeyAlgorithm::Rs256),
        JwtAlgorithm::Hs256 => None,
    }
}

/// `/metrics` on a listener of its own.
async fn serve_metrics(
    state: AppState,
    addr: SocketAddr,
    limits: ConnectionLimits,
    request_limits: RequestLimits,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!("metrics on http://{bound}/metrics");
    let router = crate::http::router::metrics_only(state, request_limits);
    Ok(tokio::spawn(async move {
        if let Err(error) = serve::serve(listener, router, limits, std::future::pending()).await {
            tracing::error!(error = %error_chain(&error), "the metrics listener stopped");
        }
    }))
}

/// Binds `config.bind` and serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown::signal();
    let app = App::build(&config).await?;
    let listener =
        TcpListener::bind(config.bind).await.map_err(|source| StartError::Bind { addr: config.bind, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!("listening on http://{addr}");
    app.serve(listener, shutdown).await?;
    tracing::info!("shut down");
    Ok(())
}
