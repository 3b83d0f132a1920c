//! Start-up: build the state from the configuration, assemble the router, serve until a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::{Config, ConfigError, JwtAlgorithm, MetricsExposure, RefreshExpiry};
use crate::metrics::Metrics;
use crate::passwords::{PasswordError, Passwords};
use crate::state::{AppState, SessionPolicy};
use crate::store::{NewUser, PoolSettings, Store, StoreError};
use crate::throttle::{Limit, Throttle};
use crate::tokens::{AccessTokens, KeyError, KeyRing, RefreshTokens, Signer, millis};

const MAX_BODY_BYTES: usize = 64 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "demo-password";

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
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error")]
    Serve(#[source] std::io::Error),
    #[error("invalid CORS origin {0:?}")]
    CorsOrigin(String),
    #[error("cannot read the single-page app's {path}")]
    Spa {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the OpenAPI document")]
    OpenApi(#[source] serde_json::Error),
    #[error("CSP_CONNECT_SRC {0:?} is not an origin (scheme://host[:port])")]
    CspSource(String),
}

/// A built application, ready to serve.
#[derive(Debug)]
pub struct App {
    state: AppState,
    router: Router,
    purge_every: std::time::Duration,
    key_reload: std::time::Duration,
    metrics: MetricsExposure,
}

impl App {
    /// Connects the store (running migrations), prepares keys and hashing, seeds the demo user.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`build`](Self::build), with every time-dependent rule reading `clock` (tests pass a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub async fn build_with_clock(config: &Config, clock: SharedClock) -> Result<Self, StartError> {
        let secret = config.signing_secret()?;
        let pool = PoolSettings {
            max_connections: config.db_max_connections,
            acquire_timeout: config.db_acquire_timeout,
            session_cache_ttl: config.session_cache_ttl,
        };
        let store = Store::connect(&config.database()?, pool).await?;
        let signer = match config.jwt_algorithm {
            JwtAlgorithm::EdDsa => Signer::EdDsa(KeyRing::load(store.clone(), clock.now()).await?),
            JwtAlgorithm::Hs256 => Signer::hs256(&secret),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let state = AppState {
            clock,
            store,
            access: AccessTokens::new(
                signer,
                &config.jwt_issuer,
                &config.jwt_audience,
                config.access_token_ttl,
                config.jwt_leeway,
            ),
            refresh: RefreshTokens::new(&secret),
            // One core stays free for everything else during a login storm; sign-ups get one worker
            // of their own (see passwords.rs).
            passwords: Passwords::new(cores.saturating_sub(1).max(1), 1).await?,
            throttle: Throttle::new(
                Limit { max: config.login_max_failures, window: config.login_failure_window },
                Limit { max: config.register_max_per_ip, window: config.register_window },
            ),
            metrics: Arc::new(Metrics::default()),
            sessions: SessionPolicy {
                refresh_ttl_ms: millis(config.refresh_token_ttl),
                sliding: config.refresh_expiry == RefreshExpiry::Sliding,
                max_lifetime_ms: millis(config.session_max_lifetime),
                grace_ms: millis(config.refresh_reuse_grace),
            },
            trust_forwarded_for: config.trust_forwarded_for,
            cors_origins: config.cors_origins.iter().map(|o| o.trim().to_owned()).collect(),
            // Verifiers may cache the key set for half the activation delay, so a standby key reaches
            // them before it signs anything.
            jwks_max_age: (config.key_activation_delay.as_secs() / 2).min(3600),
        };
        if config.demo_user_enabled() {
            seed_demo_user(&state).await?;
        }
        let router = router(state.clone(), config)?;
        Ok(Self {
            state,
            router,
            purge_every: config.purge_interval,
            key_reload: config.key_reload_interval,
            metrics: config.metrics,
        })
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let purge = crate::upkeep::spawn(self.state.clone(), self.purge_every);
        let reload = crate::upkeep::reload_keys(self.state.clone(), self.key_reload);
        let counting = crate::upkeep::count_sessions(self.state.clone(), SESSION_GAUGE_EVERY);
        let metrics = match self.metrics {
            MetricsExposure::Separate(addr) => Some(serve_metrics(self.state.clone(), addr).await?),
            MetricsExposure::Same | MetricsExposure::Off => None,
        };
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        purge.abort();
        reload.abort();
        counting.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.state.store.close().await;
        served.map_err(StartError::Serve)
    }
}

/// How often the live-sessions gauge is refreshed.
const SESSION_GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// `/metrics` on a listener of its own.
async fn serve_metrics(state: AppState, addr: SocketAddr) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!("metrics on http://{bound}/metrics");
    let router: axum::Router = crate::routes::metrics().with_state(state).into();
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(error = %crate::error_chain(&error), "the metrics listener stopped");
        }
    }))
}

/// `backend keys rotate`: adds a key that signs after `KEY_ACTIVATION_DELAY` and gives the keys before
/// it an end (the new key's start plus one access-token lifetime and the leeway). Returns a line to print.
pub async fn rotate_keys(config: &Config, clock: &dyn Clock) -> Result<String, StartError> {
    let pool = PoolSettings {
        max_connections: 2,
        acquire_timeout: config.db_acquire_timeout,
        session_cache_ttl: std::time::Duration::ZERO,
    };
    let store = Store::connect(&config.database()?, pool).await?;
    let now = clock.now();
    let activates_at = now + millis(config.key_activation_delay);
    let retires_at = activates_at + millis(config.access_token_ttl) + millis(config.jwt_leeway);
    let key = crate::tokens::keys::generate(now, activates_at)?;
    let kid = key.kid.clone();
    store.add_signing_key(key, false).await?;
    let retired = store.retire_signing_keys(activates_at, retires_at).await?;
    store.close().await;
    let seconds = |at: i64| (at - now) / 1000;
    Ok(format!(
        "added key {kid}: published now, signs in {} s; {retired} older key(s) accepted for {} s more",
        seconds(activates_at),
        seconds(retires_at)
    ))
}

/// Binds `config.bind` and serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let app = App::build(&config).await?;
    let listener =
        TcpListener::bind(config.bind).await.map_err(|source| StartError::Bind { addr: config.bind, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!("listening on http://{addr}");
    app.serve(listener, shutdown).await?;
    tracing::info!("shut down");
    Ok(())
}

/// The whole application: API, the built SPA (when `STATIC_DIR` exists) and the middleware stack.
pub(crate) fn router(state: AppState, config: &Config) -> Result<Router, StartError> {
    // Token responses must never be cached (RFC 6749 §5.1); nothing else under /api should be either.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let metrics = Arc::clone(&state.metrics);
    let mut api = crate::routes::api(config.demo_routes_enabled()).layer(no_store).merge(crate::routes::well_known());
    if config.metrics == MetricsExposure::Same {
        api = api.merge(crate::routes::metrics());
    }
    // Only matched routes are counted, under their template (so ids never become label values).
    let api = api.route_layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track));
    #[cfg(feature = "e2e")]
    let api = crate::fault::with_refresh_outage_switch(api);
    let (api, document) = api.split_for_parts();
    let document = crate::openapi::Document(document.to_json().map_err(StartError::OpenApi)?.into());
    let mut app = api
        .method_not_allowed_fallback(crate::routes::method_not_allowed)
        .layer(axum::Extension(document))
        .with_state(state);
    if config.static_dir.is_dir() {
        app = app.merge(crate::spa::router(&config.static_dir, &config.csp_connect_src)?);
    } else {
        app = app.fallback(|| async { crate::error::ApiError::NotFound });
    }
    let cors_origins = &config.cors_origins;
    if !cors_origins.is_empty() {
        app = app.layer(cors(cors_origins)?);
    }
    // Outermost first: an id is assigned, the request is traced under it, and the id is echoed back.
    Ok(app.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).layer(
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<_>| {
                        let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                        // Only method and path: headers and bodies carry tokens and passwords.
                        tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            // On every response: no MIME sniffing, no framing (clickjacking), no referrer leaks.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            )),
    ))
}

fn cors(origins: &[String]) -> Result<CorsLayer, StartError> {
    let origins = origins
        .iter()
        .map(|o| o.trim().parse().map_err(|_| StartError::CorsOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-token-delivery")])
        .allow_credentials(true))
}

async fn seed_demo_user(state: &AppState) -> Result<(), StartError> {
    if state.store.user_by_email(DEMO_EMAIL).await?.is_some() {
        return Ok(());
    }
    let password_hash = state.passwords.hash(DEMO_PASSWORD.to_owned()).await?;
    let new = NewUser {
        username: "demo",
        email: DEMO_EMAIL,
        password_hash: &password_hash,
        role: shared::auth::DEFAULT_ROLE,
        now: state.now(),
    };
    // Another instance may have seeded it a moment ago; that is fine.
    if state.store.create_user(new).await?.is_some() {
        tracing::info!(email = DEMO_EMAIL, "created the demo user (password in the README)");
    }
    Ok(())
}

/// Registers the SIGTERM and Ctrl-C handlers now, so a signal that arrives before serving starts is not
/// lost (it would otherwise kill the process with the default action), and resolves on the first one.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
