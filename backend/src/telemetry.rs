//! Logging: set-up, and errors as one line. Request spans carry the request id; nothing logs headers or bodies, so tokens and
//! passwords never reach the log.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests spawn many apps in one process) is harmless, so its error is ignored.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Fields as plain `name=value`: the default field formatter styles every name through
    // `nu_ansi_term` even with colour off, which cost more than the rest of a cheap request's span.
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| write!(writer, "{field}={value:?}"))
        .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .fmt_fields(fields)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}

/// An error and all its sources, joined with ": ", for one-line logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
