//! Per-request limits, for every route and the SPA alike: a request head must name its host exactly
//! once (RFC 9112 §3.2), the body must arrive within `BODY_READ_TIMEOUT` and be at most 64 KiB, and
//! the answer must be ready within `REQUEST_TIMEOUT`; `envelope.rs` applies them. The connection-level
//! limits (the head's own timeout, idleness, the connection cap) are in `app/serve.rs`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Version, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};

use crate::config::Config;
use crate::http::error::ApiError;

/// The largest request body read.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    pub(crate) body_read: Duration,
    pub(crate) whole_request: Duration,
}

impl RequestLimits {
    pub(crate) fn of(config: &Config) -> Self {
        Self { body_read: config.body_read_timeout, whole_request: config.request_timeout }
    }
}

/// Reads a whole body under the body deadline and the size limit.
pub(crate) async fn read_body(body: Body, deadline: Duration) -> Result<Bytes, ApiError> {
    let deadline = tokio::time::Instant::now() + deadline;
    match Deadline::new(deadline, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Err(Elapsed) => Err(ApiError::RequestTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::PayloadTooLarge),
        Ok(Err(_)) => Err(ApiError::Validation("cannot read the request body".into())),
    }
}

/// The answer, or 408 if it is not ready by `deadline`.
pub(crate) async fn within_deadline(
    deadline: tokio::time::Instant,
    answer: impl Future<Output = Response>,
) -> Response {
    Deadline::new(deadline, answer).await.unwrap_or_else(|Elapsed| timed_out())
}

/// The deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

pin_project_lite::pin_project! {
    /// `inner`, or `Elapsed` once its deadline passes. Unlike `tokio::time::timeout_at`, the timer is
    /// armed only when `inner` is first pending: most answers are ready on their first poll, and a
    /// tokio timer takes the runtime's one timer lock when it is dropped, armed or not, which on a
    /// cheap route cost more (in lock contention between the workers) than the route itself.
    pub(crate) struct Deadline<F> {
        #[pin]
        inner: F,
        when: When,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

/// When a [`Deadline`] passes.
#[derive(Debug, Clone, Copy)]
enum When {
    At(tokio::time::Instant),
    /// This long after the first poll: the clock is read only if the answer is not ready at once.
    AfterFirstPoll(Duration),
}

impl<F> Deadline<F> {
    pub(crate) fn new(deadline: tokio::time::Instant, inner: F) -> Self {
        Self { inner, when: When::At(deadline), timer: None }
    }

    /// `inner`, given `limit` from its first poll (a request's first poll follows its call at once).
    pub(crate) fn after(limit: Duration, inner: F) -> Self {
        Self { inner, when: When::AfterFirstPoll(limit), timer: None }
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.inner.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let when = *this.when;
        let timer = this.timer.get_or_insert_with(|| {
            let deadline = match when {
                When::At(deadline) => deadline,
                When::AfterFirstPoll(limit) => tokio::time::Instant::now() + limit,
            };
            Box::pin(tokio::time::sleep_until(deadline))
        });
        timer.as_mut().poll(cx).map(|()| Err(Elapsed))
    }
}

pub(crate) fn timed_out() -> Response {
    ApiError::RequestTimeout.into_response()
}

/// HTTP/1.1 requires exactly one `Host`; no version may send two.
pub(crate) fn check_host(version: Version, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get_all(header::HOST).iter().count() {
        0 if version == Version::HTTP_11 => Err(ApiError::Validation("the request has no Host header".into())),
        0 | 1 => Ok(()),
        _ => Err(ApiError::Validation("the request has more than one Host header".into())),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[tokio::test]
    async fn a_deadline_answers_what_is_ready_and_cuts_what_is_not() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        assert_eq!(Deadline::new(deadline, async { 7 }).await, Ok(7));
        let slow = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            8
        };
        assert_eq!(Deadline::new(deadline, slow).await, Ok(8));
        let never = std::future::pending::<()>();
        assert_eq!(Deadline::new(deadline, never).await, Err(Elapsed));
        assert!(tokio::time::Instant::now() >= deadline);
        let started = tokio::time::Instant::now();
        assert_eq!(Deadline::after(Duration::from_millis(50), async { 9 }).await, Ok(9));
        let never = std::future::pending::<()>();
        assert_eq!(Deadline::after(Duration::from_millis(50), never).await, Err(Elapsed));
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn one_host_is_required_in_http_1_1_and_two_are_refused_everywhere() {
        let mut one = HeaderMap::new();
        one.insert(header::HOST, HeaderValue::from_static("a.example"));
        let mut two = one.clone();
        two.append(header::HOST, HeaderValue::from_static("b.example"));
        assert!(check_host(Version::HTTP_11, &one).is_ok());
        assert!(check_host(Version::HTTP_11, &HeaderMap::new()).is_err());
        assert!(check_host(Version::HTTP_10, &HeaderMap::new()).is_ok());
        assert!(check_host(Version::HTTP_11, &two).is_err());
        assert!(check_host(Version::HTTP_2, &two).is_err());
    }
}
