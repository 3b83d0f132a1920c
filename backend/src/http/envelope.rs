//! The outermost layer, one service for what every request and answer gets: a request id (kept from
//! the client's `X-Request-Id` or made here) in every log line of the request and on the answer, the
//! limits of `limits.rs`, the security headers, and one access line per answer.
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

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::Service;

use crate::http::limits::{self, RequestLimits};
use crate::telemetry::{self, RequestContext};

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
        let context = Arc::new(RequestContext { id, method: request.method().clone(), uri: request.uri().clone() });
        let answer = if let Err(refused) = limits::check_host(request.version(), request.headers()) {
            Answer::Ready { response: Some(refused.into_response()) }
        } else if hyper::body::Body::is_end_stream(request.body()) {
            Answer::Routed { answer: limits::Deadline::after(self.limits.whole_request, self.inner.call(request)) }
        } else {
            // Taking the service that was polled ready, and leaving a clone for the next call.
            let inner = self.inner.clone();
            let mut ready = std::mem::replace(&mut self.inner, inner);
            let body_read = self.limits.body_read;
            // Reading the body counts against the whole request's time too.
            let deadline = tokio::time::Instant::now() + self.limits.whole_request;
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
        // The clock is read for the access line's latency only when that line is written.
        let started = tracing::enabled!(target: "access", tracing::Level::INFO).then(Instant::now);
        Enveloped { answer, context: Some(context), started }
    }
}

pin_project_lite::pin_project! {
    #[project = AnswerProj]
    enum Answer<F> {
        Ready { response: Option<Response> },
        Routed { #[pin] answer: limits::Deadline<F> },
        Reading { answer: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

pin_project_lite::pin_project! {
    /// The answer, polled with its request as the log's current one, with the envelope's headers added
    /// when it is ready.
    pub(crate) struct Enveloped<F> {
        #[pin]
        answer: Answer<F>,
        // Taken when the answer is ready, so its id moves to the answer's header without a copy.
        context: Option<Arc<RequestContext>>,
        started: Option<Instant>,
    }
}

impl<F> Future for Enveloped<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (answer, started) = (this.answer, *this.started);
        let Some(context) = this.context.as_ref() else {
            // Polled again after it answered.
            return Poll::Ready(Ok(limits::timed_out()));
        };
        let mut response = ready!(telemetry::in_request(context, || {
            let response = match answer.project() {
                AnswerProj::Ready { response } => response.take().unwrap_or_else(limits::timed_out),
                AnswerProj::Routed { answer } => match ready!(answer.poll(cx)) {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(limits::Elapsed) => limits::timed_out(),
                },
                AnswerProj::Reading { answer } => ready!(answer.as_mut().poll(cx)),
            };
            tracing::info!(
                target: "access",
                status = response.status().as_u16(),
                latency_us = started.map_or(0, |started| u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)),
                "answered"
            );
            Poll::Ready(response)
        }));
        // The log no longer holds the context: its id is this future's alone.
        let id = this
            .context
            .take()
            .map(|context| Arc::try_unwrap(context).map_or_else(|shared| shared.id.clone(), |own| own.id));
        finish(response.headers_mut(), id.unwrap_or_else(|| HeaderValue::from_static("-")));
        Poll::Ready(Ok(response))
    }
}

fn finish(headers: &mut HeaderMap, id: HeaderValue) {
    headers.reserve(SECURITY_HEADERS.len() + 1);
    for (name, value) in SECURITY_HEADERS {
        // One lookup: a route's own value stays.
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    // Never indexed by HTTP/2's header compression: every answer's id is new, and indexing each one
    // evicted the headers that do repeat (the security headers), so every answer sent them whole again.
    let mut id = id;
    id.set_sensitive(true);
    headers.insert(REQUEST_ID, id);
}

/// Request ids: this process's random prefix and a counter. Unique like a UUID per request, without a
/// `getrandom` system call on every request. Each thread takes numbers from the shared counter a block
/// at a time, so the workers do not pass one counter's cache line between them on every request; ids
/// are unique, in order within a thread, not across threads.
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

/// Numbers a thread takes at once.
const ID_BLOCK: u64 = 1024;

thread_local! {
    /// The next number this thread gives out and the end of its block, for the counter of one
    /// `RequestIds` (its address: tests make several).
    static ID_BLOCK_OF_THREAD: std::cell::Cell<(usize, u64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

impl RequestIds {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self { prefix: prefix.into(), next: Arc::default() }
    }

    fn number(&self) -> u64 {
        let counter = Arc::as_ptr(&self.next) as usize;
        ID_BLOCK_OF_THREAD
            .try_with(|block| {
                let (owner, next, end) = block.get();
                let (next, end) = if owner == counter && next < end {
                    (next, end)
                } else {
                    let start = self.next.fetch_add(ID_BLOCK, Ordering::Relaxed);
                    (start, start.saturating_add(ID_BLOCK))
                };
                block.set((counter, next + 1, end));
                next
            })
            .unwrap_or_else(|_| self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn next(&self) -> HeaderValue {
        let mut n = self.number();
        // `prefix-n`, with the digits written by hand: `format!` cost more than the rest of the id.
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut id = Vec::with_capacity(self.prefix.len() + 1 + digits.len() - start);
        id.extend_from_slice(self.prefix.as_bytes());
        id.push(b'-');
        id.extend_from_slice(&digits[start..]);
        HeaderValue::from_maybe_shared(Bytes::from(id)).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_prefix_and_a_counter() {
        let ids = RequestIds { prefix: "abc".into(), next: Arc::new(AtomicU64::new(0)) };
        assert_eq!(ids.next(), "abc-0");
        assert_eq!(ids.next(), "abc-1");
        let last = RequestIds { prefix: "abc".into(), next: Arc::new(AtomicU64::new(u64::MAX - 1)) };
        assert_eq!(last.next(), format!("abc-{}", u64::MAX - 1).as_str());
    }

    #[test]
    fn the_id_is_never_indexed_and_a_routes_own_security_header_stays() {
        let mut headers = HeaderMap::new();
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        finish(&mut headers, HeaderValue::from_static("abc-1"));
        assert!(headers[REQUEST_ID].is_sensitive(), "HTTP/2 would index every id");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn ids_from_many_threads_never_repeat() {
        let ids = RequestIds::new();
        let per_thread = usize::try_from(ID_BLOCK).unwrap() * 3 + 7;
        let all: Vec<HeaderValue> = std::thread::scope(|scope| {
            let threads: Vec<_> =
                (0..4).map(|_| scope.spawn(|| (0..per_thread).map(|_| ids.next()).collect::<Vec<_>>())).collect();
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
        });
        // Another counter used on the same threads meanwhile does not disturb this one's blocks.
        let other = RequestIds::new();
        let _ = other.next();
        let mut unique: Vec<_> = all.iter().chain([&ids.next()]).map(|id| id.to_str().unwrap().to_owned()).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4 * per_thread + 1);
    }
}
