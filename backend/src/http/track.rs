//! The one per-route layer: every request that matched a route is counted and timed by its template,
//! and its answer gets the route's caching rule (and, for a request with a DPoP proof, the nonce). A route layer, so it runs after routing has set
//! `MatchedPath`; one hand-written layer (no `from_fn`, no stack of layers), because axum clones a
//! route's whole stack of services for every request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tower::{Layer, Service};

use crate::auth::service::Auth;
use crate::http::error::{DPOP, DPOP_NONCE};
use crate::metrics::{Metrics, RequestSeries, status_class};

/// What a route's answers say about caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caching {
    /// `Cache-Control: no-store`, whatever the handler set.
    NoStore,
    /// Whatever the handler set (the JWKS and the metadata have their own lifetimes).
    RoutesOwn,
}

#[derive(Clone)]
pub(crate) struct TrackLayer {
    metrics: Arc<Metrics>,
    caching: Caching,
    auth: Arc<Auth>,
}

impl TrackLayer {
    pub(crate) fn new(auth: &Arc<Auth>, caching: Caching) -> Self {
        Self { metrics: Arc::clone(&auth.metrics), caching, auth: Arc::clone(auth) }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        let series = Arc::new(RouteSeries { metrics: Arc::clone(&self.metrics), by_class: Default::default() });
        Track { inner, series, caching: self.caching, auth: Arc::clone(&self.auth) }
    }
}

/// The series of the one route a `Track` wraps, by status class, looked up in the registry once each
/// (the route template is known from the first request; every later one has the same).
struct RouteSeries {
    metrics: Arc<Metrics>,
    by_class: [OnceLock<RequestSeries>; 5],
}

impl RouteSeries {
    fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let class = status_class(status);
        self.by_class[class].get_or_init(|| self.metrics.request_series(route, class)).observe(elapsed);
    }
}

#[derive(Clone)]
pub(crate) struct Track<S> {
    inner: S,
    series: Arc<RouteSeries>,
    caching: Caching,
    auth: Arc<Auth>,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackedAnswer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        // A client that sends proofs gets the nonce with every answer, ahead of its expiry, so it
        // rarely pays the round trip of a `use_dpop_nonce` (RFC 9449 §8.2).
        let nonce = request.headers().contains_key(DPOP).then(|| self.auth.dpop.nonce(self.auth.now()));
        TrackedAnswer {
            answer: self.inner.call(request),
            series: Arc::clone(&self.series),
            route,
            caching: self.caching,
            started: Instant::now(),
            nonce,
        }
    }
}

pin_project_lite::pin_project! {
    pub(crate) struct TrackedAnswer<F> {
        #[pin]
        answer: F,
        series: Arc<RouteSeries>,
        route: Option<MatchedPath>,
        caching: Caching,
        started: Instant,
        nonce: Option<String>,
    }
}

impl<F> Future for TrackedAnswer<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.answer.poll(cx))?;
        if *this.caching == Caching::NoStore {
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(nonce) = this.nonce.take().and_then(|n| HeaderValue::try_from(n).ok()) {
            response.headers_mut().entry(DPOP_NONCE).or_insert(nonce);
        }
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        this.series.observe(route, response.status().as_u16(), this.started.elapsed());
        Poll::Ready(Ok(response))
    }
}
