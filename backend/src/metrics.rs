//! What this process counts. `/api/metrics` serves a few counters as JSON (the demo and the tests read
//! the refresh count there); `/metrics` serves everything in Prometheus's text format, on the API's
//! listener, on one of its own, or not at all (`METRICS`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

mod sharded;

use sharded::{ShardedCounter, ShardedHistogram};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// The route template (`/api/sessions/{id}`), never the concrete path.
    route: String,
    /// `2xx`, `4xx`, …
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Succeeded,
    Failed,
    Throttled,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
        }
    }
}

/// How a refresh attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshOutcome {
    Rotated,
    /// Answered from the grace window: the same successor again.
    Grace,
    Reused,
    Invalid,
    Expired,
    Revoked,
}

impl RefreshOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Grace => "grace",
            Self::Reused => "reused",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Connections {
    state: &'static str,
}

/// One route's and status class's counter and histogram, cheap to keep: each is a handle on the series
/// the registry renders.
#[derive(Debug, Clone)]
pub(crate) struct RequestSeries {
    count: ShardedCounter,
    duration: ShardedHistogram,
}

impl RequestSeries {
    pub(crate) fn observe(&self, elapsed: Duration) {
        self.count.inc();
        self.duration.observe(elapsed);
    }
}

/// What a status adds to its route's labels, indexed by [`status_class`].
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A status's class as an index into the five classes (anything past 5xx counts as 5xx).
pub(crate) fn status_class(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, ShardedCounter>,
    durations: Family<RouteLabels, ShardedHistogram>,
    refreshes: Family<Outcome, Counter>,
    logins: Family<Outcome, Counter>,
    sessions_active: Gauge,
    key_reloads: Family<Outcome, Counter>,
    connections: Family<Connections, Gauge>,
    // The JSON counters of `/api/metrics`.
    login_count: AtomicU64,
    refresh_count: AtomicU64,
    grace_count: AtomicU64,
    reuse_count: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, ShardedCounter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status class",
            requests.clone(),
        );
        // 0.5 ms to about 4 s.
        let durations = Family::<RouteLabels, ShardedHistogram>::default();
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route template and status class",
            durations.clone(),
        );
        let refreshes = Family::<Outcome, Counter>::default();
        registry.register(
            "refreshes",
            "Refresh attempts: rotated, grace, reused, invalid, expired, revoked",
            refreshes.clone(),
        );
        let logins = Family::<Outcome, Counter>::default();
        registry.register("logins", "Login attempts: succeeded, failed, throttled", logins.clone());
        let sessions_active = Gauge::default();
        registry.register("sessions_active", "Live sessions, refreshed periodically", sessions_active.clone());
        let key_reloads = Family::<Outcome, Counter>::default();
        registry.register("key_reloads", "Reads of the signing-key table: succeeded, failed", key_reloads.clone());
        let connections = Family::<Connections, Gauge>::default();
        registry.register("db_connections", "Database pool connections, idle or in use", connections.clone());
        Self {
            registry,
            requests,
            durations,
            refreshes,
            logins,
            sessions_active,
            key_reloads,
            connections,
            login_count: AtomicU64::new(0),
            refresh_count: AtomicU64::new(0),
            grace_count: AtomicU64::new(0),
            reuse_count: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub(crate) fn login(&self, outcome: LoginOutcome) {
        self.logins.get_or_create(&Outcome { outcome: outcome.label() }).inc();
        if outcome == LoginOutcome::Succeeded {
            self.login_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn refresh(&self, outcome: RefreshOutcome) {
        self.refreshes.get_or_create(&Outcome { outcome: outcome.label() }).inc();
        // The JSON counts every answered refresh (grace answers included), and grace and reuse apart.
        let counters: &[&AtomicU64] = match outcome {
            RefreshOutcome::Rotated => &[&self.refresh_count],
            RefreshOutcome::Grace => &[&self.refresh_count, &self.grace_count],
            RefreshOutcome::Reused => &[&self.reuse_count],
            RefreshOutcome::Invalid | RefreshOutcome::Expired | RefreshOutcome::Revoked => &[],
        };
        for counter in counters {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One read of the signing-key table.
    pub(crate) fn key_reload(&self, succeeded: bool) {
        let outcome = if succeeded { "succeeded" } else { "failed" };
        self.key_reloads.get_or_create(&Outcome { outcome }).inc();
    }

    pub(crate) fn set_sessions_active(&self, count: i64) {
        self.sessions_active.set(count);
    }

    pub(crate) fn snapshot(&self) -> shared::ops::Metrics {
        shared::ops::Metrics {
            logins: self.login_count.load(Ordering::Relaxed),
            refreshes: self.refresh_count.load(Ordering::Relaxed),
            grace_refreshes: self.grace_count.load(Ordering::Relaxed),
            reuse_detected: self.reuse_count.load(Ordering::Relaxed),
        }
    }

    /// Counts and times one answered request, by its route template (`/api/sessions/{id}`, never the
    /// concrete path, so ids never become label values).
    /// The series of one route template and one status class (an index from [`status_class`]), to
    /// count answers with.
    pub(crate) fn request_series(&self, route: &str, class: usize) -> RequestSeries {
        let labels = RouteLabels { route: route.to_owned(), status: STATUS_CLASSES[class.min(4)] };
        RequestSeries {
            count: self.requests.get_or_create(&labels).clone(),
            duration: self.durations.get_or_create(&labels).clone(),
        }
    }

    /// Everything, in Prometheus's text format, with the pool's state as of now.
    pub(crate) fn render(&self, pool: (u32, u32)) -> String {
        let (size, idle) = pool;
        self.connections.get_or_create(&Connections { state: "idle" }).set(i64::from(idle));
        self.connections.get_or_create(&Connections { state: "in_use" }).set(i64::from(size.saturating_sub(idle)));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("cannot encode the metrics");
        }
        text
    }
}
