//! What this process counts. `/api/metrics` serves a few counters as JSON (the demo and the tests read
//! the refresh count there); `/metrics` serves everything in Prometheus's text format, on the API's
//! listener, on one of its own, or not at all (`METRICS`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// The route template (`/api/sessions/{id}`), never the concrete path.
    route: String,
    /// `2xx`, `4xx`, …
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Connections {
    state: &'static str,
}

pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    refreshes: Family<Outcome, Counter>,
    logins: Family<Outcome, Counter>,
    sessions_active: Gauge,
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
        let requests = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status class",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.5 ms to about 4 s.
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
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
        let connections = Family::<Connections, Gauge>::default();
        registry.register("db_connections", "Database pool connections, idle or in use", connections.clone());
        Self {
            registry,
            requests,
            durations,
            refreshes,
            logins,
            sessions_active,
            connections,
            login_count: AtomicU64::new(0),
            refresh_count: AtomicU64::new(0),
            grace_count: AtomicU64::new(0),
            reuse_count: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// `outcome`: `succeeded`, `failed` or `throttled`.
    pub(crate) fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
        if outcome == "succeeded" {
            self.login_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `outcome`: `rotated`, `grace`, `reused`, `invalid`, `expired` or `revoked`.
    pub(crate) fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&Outcome { outcome }).inc();
        // The JSON counts every answered refresh (grace answers included), and grace and reuse apart.
        let counters: &[&AtomicU64] = match outcome {
            "rotated" => &[&self.refresh_count],
            "grace" => &[&self.refresh_count, &self.grace_count],
            "reused" => &[&self.reuse_count],
            _ => &[],
        };
        for counter in counters {
            counter.fetch_add(1, Ordering::Relaxed);
        }
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

/// Counts and times every request that matched a route, by its template.
pub(crate) async fn track(State(metrics): State<std::sync::Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RouteLabels { route, status: format!("{}xx", response.status().as_u16() / 100) };
    metrics.requests.get_or_create(&labels).inc();
    metrics.durations.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}
