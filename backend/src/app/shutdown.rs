//! Graceful shutdown on SIGTERM or Ctrl-C.

use std::future::Future;

/// Registers the SIGTERM and Ctrl-C handlers now, so a signal that arrives before serving starts is not
/// lost (it would otherwise kill the process with the default action), and resolves on the first one.
pub(super) fn signal() -> impl Future<Output = ()> + Send + 'static {
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
