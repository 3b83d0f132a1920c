//! The accept loop, with the limits `axum::serve` does not have, the same for HTTP/1 and HTTP/2: a
//! deadline for a request to arrive once bytes do (hyper's own header timeout needs a timer and covers
//! HTTP/1 only), an idle deadline that only requests reset (so HTTP/2 PINGs or stray frames hold
//! nothing), a cap on connections, and a share of it per client address. A slow or silent client is
//! disconnected; everyone else is served meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::auth::throttle::address_key;
use crate::http::router::AppService;

/// The per-connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// From a connection's first byte with no request in progress (or from its opening) to a request.
    pub(crate) header_read: Duration,
    /// No request in progress and none started or finished.
    pub(crate) idle: Duration,
    pub(crate) max_connections: usize,
    /// Connections one client address may hold; past it a new one is closed at once.
    pub(crate) per_address: usize,
    /// Leading bits of an IPv6 address that name one client.
    pub(crate) ipv6_prefix: u8,
}

/// HTTP/2 streams one connection may have open at once, and the largest header block it may send.
const H2_MAX_STREAMS: u32 = 128;
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: AppService,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No hyper header timer for HTTP/1: the watchdog's head deadline covers both versions, and a
    // second timer armed for every request cost more than the route it guarded.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let shares = Shares::default();
    let graceful = GracefulShutdown::new();
    let at_capacity = Arc::new(AtomicBool::new(false));
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !at_capacity.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                tokio::select! {
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if permits.available_permits() > limits.max_connections / 10 {
            at_capacity.store(false, Ordering::Relaxed);
        }
        let Some(share) = shares.take(address_key(remote.ip(), limits.ipv6_prefix), limits.per_address) else {
            tracing::debug!(%remote, "closed a connection past its address's share");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { inner: stream, activity: Arc::clone(&activity) });
        let service =
            TowerToHyperService::new(Tracked { inner: router.clone(), remote, activity: Arc::clone(&activity) });
        let connection = graceful.watch(builder.serve_connection_with_upgrades(io, service).into_owned());
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = activity.expired(limits) => {
                    tracing::debug!(%remote, "closed a slow, silent or idle connection");
                }
            }
            drop((permit, share));
        });
    }
    drop(listener);
    // Requests in progress get time to finish; a stream that would outlive it (the demo's live
    // stream lasts as long as its token) is cut when the process ends.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}

/// How long a shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Open connections per client address.
#[derive(Debug, Clone, Default)]
struct Shares(Arc<Mutex<HashMap<String, usize>>>);

/// One connection's place in its address's share, given back on drop.
struct Share {
    shares: Shares,
    address: String,
}

impl Shares {
    fn take(&self, address: String, per_address: usize) -> Option<Share> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(address.clone()).or_insert(0);
        if *count >= per_address {
            return None;
        }
        *count += 1;
        Some(Share { shares: self.clone(), address })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Ok(mut open) = self.shares.0.lock()
            && let Some(count) = open.get_mut(&self.address)
        {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// No time recorded.
const NEVER: u64 = u64::MAX;

/// What a connection has done, for its watchdog. Only requests count as use: bytes that start no
/// request (a trickled head, HTTP/2 PINGs or SETTINGS) start the head deadline instead.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last request's start or end.
    last_request_ms: AtomicU64,
    /// Milliseconds after `opened` of the first byte read since then while no request was in progress
    /// (`NEVER`: none); a new connection starts at 0, so it must send a request in time too.
    waiting_since_ms: AtomicU64,
    requests_in_progress: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_request_ms: AtomicU64::new(0),
            waiting_since_ms: AtomicU64::new(0),
            requests_in_progress: AtomicUsize::new(0),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Bytes arrived: with no request in progress, a request must now begin within the head deadline.
    fn bytes_read(&self) {
        if self.requests_in_progress.load(Ordering::Relaxed) == 0
            && self.waiting_since_ms.load(Ordering::Relaxed) == NEVER
        {
            let _ =
                self.waiting_since_ms.compare_exchange(NEVER, self.elapsed_ms(), Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn request_started(&self) {
        self.requests_in_progress.fetch_add(1, Ordering::Relaxed);
        self.waiting_since_ms.store(NEVER, Ordering::Relaxed);
        self.last_request_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn request_ended(&self) {
        self.last_request_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        // A byte noted as the request started is not a new head waiting.
        self.waiting_since_ms.store(NEVER, Ordering::Relaxed);
        self.requests_in_progress.fetch_sub(1, Ordering::Relaxed);
    }

    /// Resolves when, with no request in progress, bytes have waited the head deadline for a request
    /// (a new connection included), or nothing has started or ended a request for the idle deadline.
    /// Sleeps until the next moment either could be true, so a quiet connection costs a wake-up per
    /// deadline, not a poll.
    async fn expired(&self, limits: ConnectionLimits) {
        let (head_ms, idle_ms) = (millis(limits.header_read), millis(limits.idle));
        loop {
            let next_check_ms = if self.requests_in_progress.load(Ordering::Relaxed) > 0 {
                idle_ms
            } else {
                let now = self.elapsed_ms();
                let waiting = self.waiting_since_ms.load(Ordering::Relaxed);
                let head_left = if waiting == NEVER { u64::MAX } else { (waiting + head_ms).saturating_sub(now) };
                let idle_left = (self.last_request_ms.load(Ordering::Relaxed) + idle_ms).saturating_sub(now);
                if head_left == 0 || idle_left == 0 {
                    return;
                }
                head_left.min(idle_left)
            };
            tokio::time::sleep(Duration::from_millis(next_check_ms) + Duration::from_millis(10)).await;
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

/// The socket, telling the watchdog when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router for one connection: it knows the peer's address and counts requests in progress until
/// their answers' bodies are sent, so a long request or a stream is never mistaken for idleness.
#[derive(Clone)]
struct Tracked {
    inner: AppService,
    remote: SocketAddr,
    activity: Arc<Activity>,
}

impl tower::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<InProgressBody>;
    type Error = std::convert::Infallible;
    type Future = Answering<<AppService as tower::Service<axum::extract::Request>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<axum::extract::Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let in_progress = Some(InProgress::start(Arc::clone(&self.activity)));
        Answering { answer: tower::Service::call(&mut self.inner, request.map(axum::body::Body::new)), in_progress }
    }
}

pin_project_lite::pin_project! {
    /// The router's answer; the request stays in progress until its body is sent or dropped.
    struct Answering<F> {
        #[pin]
        answer: F,
        in_progress: Option<InProgress>,
    }
}

impl<F> Future for Answering<F>
where
    F: Future<Output = Result<axum::response::Response, std::convert::Infallible>>,
{
    type Output = Result<hyper::Response<InProgressBody>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.answer.poll(cx))?;
        let in_progress = this.in_progress.take();
        Poll::Ready(Ok(response.map(|body| InProgressBody { body, _in_progress: in_progress })))
    }
}

pin_project_lite::pin_project! {
    /// An answer's body, holding its request in progress.
    struct InProgressBody {
        #[pin]
        body: axum::body::Body,
        _in_progress: Option<InProgress>,
    }
}

impl hyper::body::Body for InProgressBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Counts one request in progress for as long as it lives (a dropped request stops counting).
struct InProgress(Arc<Activity>);

impl InProgress {
    fn start(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self(activity)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}
