//! The accept loop, with the limits `axum::serve` does not have: hyper's header timeout (which needs a
//! timer), a deadline for the first byte and for idleness, and a cap on connections. A slow or silent
//! client is disconnected; everyone else is served meanwhile.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The per-connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// For the request head, and for the first byte of a new connection.
    pub(crate) header_read: Duration,
    /// No request in progress and no bytes moving.
    pub(crate) idle: Duration,
    pub(crate) max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
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
                    tracing::debug!(%remote, "closed a silent or idle connection");
                }
            }
            drop(permit);
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

/// What a connection has done, for its watchdog.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last byte read or written.
    last_progress_ms: AtomicU64,
    bytes_read: AtomicU64,
    requests_in_progress: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            requests_in_progress: AtomicUsize::new(0),
        }
    }

    fn progressed(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_progress_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves when the connection has sent nothing within the header timeout of opening, or has
    /// been idle (no request in progress, no bytes moving) for the idle timeout. Sleeps until the next
    /// moment either could be true, so a quiet connection costs a wake-up per timeout, not a poll.
    async fn expired(&self, limits: ConnectionLimits) {
        loop {
            let age = self.opened.elapsed();
            let next_check = if self.bytes_read.load(Ordering::Relaxed) == 0 {
                if age > limits.header_read {
                    return;
                }
                limits.header_read - age
            } else if self.requests_in_progress.load(Ordering::Relaxed) > 0 {
                limits.idle
            } else {
                let quiet = age.saturating_sub(Duration::from_millis(self.last_progress_ms.load(Ordering::Relaxed)));
                if quiet > limits.idle {
                    return;
                }
                limits.idle - quiet
            };
            tokio::time::sleep(next_check + Duration::from_millis(10)).await;
        }
    }
}

/// The socket, noting every read and write that moves bytes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.bytes_read.fetch_add(read as u64, Ordering::Relaxed);
            self.activity.progressed();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(written)) = &polled
            && *written > 0
        {
            self.activity.progressed();
        }
        polled
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
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = &polled
            && *written > 0
        {
            self.activity.progressed();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router for one connection: it knows the peer's address and counts requests in progress, so a
/// long request is never mistaken for an idle connection.
#[derive(Clone)]
struct Tracked {
    inner: Router,
    remote: SocketAddr,
    activity: Arc<Activity>,
}

impl tower::Service<hyper::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<hyper::Request<Incoming>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let in_progress = InProgress::start(Arc::clone(&self.activity));
        let answer = tower::Service::call(&mut self.inner, request.map(axum::body::Body::new));
        Box::pin(async move {
            let answer = answer.await;
            drop(in_progress);
            answer
        })
    }
}

/// Counts one request in progress for as long as it lives (a dropped request stops counting).
struct InProgress(Arc<Activity>);

impl InProgress {
    fn start(activity: Arc<Activity>) -> Self {
        activity.requests_in_progress.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.requests_in_progress.fetch_sub(1, Ordering::Relaxed);
        self.0.progressed();
    }
}
