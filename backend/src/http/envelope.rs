//! The outermost layer, one service for what every request and answer gets: a request id (kept from
//! the client's `X-Request-Id` or made here) in a span and on the answer, the limits of `limits.rs`,
//! the security headers, and one access line per answer.
//!
//! It is one hand-written service, not a stack of tower layers and `from_fn` closures, because on a
//! cheap route the stack cost more than the route: each layer boxed a future or cloned a service per
//! request. A request without a body (every GET) takes a path that allocates nothing beyond its id.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::Service;
use tracing::Span;

use crate::http::limits::{self, RequestLimits};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The headers every answer carries unless a route set its own: no MIME sniffing, no framing
/// (clickjacking), no referrer leaks.
const SECURITY_HEADERS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// Wraps the whole application.
#[derive(Debug, Clone)]
pub(crate) struct Envelope<S> {
    inner: S,
    limits: RequestLimits,
    ids: RequestIds,
}

impl<S> Envelope<S> {
    pub(crate) fn new(inner: S, limits: RequestLimits) -> Self {
        Self { inner, limits, ids: RequestIds::new() }
    }
}

impl<S> Service<Request> for Envelope<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Enveloped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = match request.headers().get(REQUEST_ID) {
            Some(given) => given.clone(),
            None => self.ids.next(),
        };
        // Only method and path: headers and bodies carry tokens and passwords.
        let span = tracing::info_span!(
            "request",
            id = %id.to_str().unwrap_or("-"),
            method = %request.method().as_str(),
            path = %request.uri().path(),
        );
        let deadline = tokio::time::Instant::now() + self.limits.whole_request;
        let answer = if let Err(refused) = limits::check_host(request.version(), request.headers()) {
            Answer::Ready { response: Some(refused.into_response()) }
        } else if hyper::body::Body::is_end_stream(request.body()) {
            Answer::Routed { answer: tokio::time::timeout_at(deadline, self.inner.call(request)) }
        } else {
            // Taking the service that was polled ready, and leaving a clone for the next call.
            let inner = self.inner.clone();
            let mut ready = std::mem::replace(&mut self.inner, inner);
            let body_read = self.limits.body_read;
            Answer::Reading {
                answer: Box::pin(async move {
                    let (parts, body) = request.into_parts();
                    match limits::read_body(body, body_read).await {
                        Ok(body) => {
                            let routed = ready.call(Request::from_parts(parts, Body::from(body)));
                            limits::within_deadline(deadline, async move {
                                match routed.await {
                                    Ok(response) => response,
                                    Err(never) => match never {},
                                }
                            })
                            .await
                        }
                        Err(refused) => refused.into_response(),
                    }
                }),
            }
        };
        Enveloped { answer, span, id: Some(id), started: Instant::now() }
    }
}

pin_project_lite::pin_project! {
    #[project = AnswerProj]
    enum Answer<F> {
        Ready { response: Option<Response> },
        Routed { #[pin] answer: tokio::time::Timeout<F> },
        Reading { answer: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

pin_project_lite::pin_project! {
    /// The answer, in the request's span, with the envelope's headers added when it is ready.
    pub(crate) struct Enveloped<F> {
        #[pin]
        answer: Answer<F>,
        span: Span,
        id: Option<HeaderValue>,
        started: Instant,
    }
}

impl<F> Future for Enveloped<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = match this.answer.project() {
            AnswerProj::Ready { response } => response.take().unwrap_or_else(limits::timed_out),
            AnswerProj::Routed { answer } => match ready!(answer.poll(cx)) {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_elapsed) => limits::timed_out(),
            },
            AnswerProj::Reading { answer } => ready!(answer.as_mut().poll(cx)),
        };
        finish(response.headers_mut(), this.id.take());
        tracing::info!(
            target: "access",
            status = response.status().as_u16(),
            latency_us = u64::try_from(this.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "answered"
        );
        Poll::Ready(Ok(response))
    }
}

fn finish(headers: &mut HeaderMap, id: Option<HeaderValue>) {
    headers.reserve(SECURITY_HEADERS.len() + 1);
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if let Some(id) = id {
        headers.insert(REQUEST_ID, id);
    }
}

/// Request ids: this process's random prefix and a counter. Unique like a UUID per request, without a
/// `getrandom` system call on every request.
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self { prefix: prefix.into(), next: Arc::default() }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{}-{n}", self.prefix)).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }
}
