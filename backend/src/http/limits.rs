//! Per-request limits, for every route and the SPA alike: a request head must name its host exactly
//! once (RFC 9112 §3.2), the body must arrive within `BODY_READ_TIMEOUT` and be at most 64 KiB, and
//! the answer must be ready within `REQUEST_TIMEOUT`; `envelope.rs` applies them. The connection-level
//! limits (the head's own timeout, idleness, the connection cap) are in `app/serve.rs`.

use std::future::Future;
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
    match tokio::time::timeout(deadline, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Err(_) => Err(ApiError::RequestTimeout),
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
    match tokio::time::timeout_at(deadline, answer).await {
        Ok(response) => response,
        Err(_) => timed_out(),
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
