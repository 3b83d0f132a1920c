//! Logging: set-up, the request a line was logged for, and errors as one line. Nothing logs headers or
//! bodies, so tokens and passwords never reach the log.
//!
//! Every line logged while a request is being answered names that request
//! (`request{id=… method=… path=…}: `). The request is not a `tracing` span: the log subscriber formats
//! a span's fields as text the moment the span is made, which cost a cheap route more than the route
//! itself. A request's context is a value the envelope makes current while it polls the answer, and it
//! is turned into text only when a line is actually written.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderValue, Method, Uri};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Fields as plain `name=value`: the default field formatter styles every name through
    // `nu_ansi_term` even with colour off.
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| match field.name() {
        "message" => write!(writer, "{value:?}"),
        name => write!(writer, "{name}={value:?}"),
    })
    .delimited(" ");
    // A second init (tests spawn many apps in one process) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .fmt_fields(fields)
        .event_format(Lines)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The request being answered on this thread, as the log shows it.
#[derive(Debug)]
pub(crate) struct RequestContext {
    pub(crate) id: HeaderValue,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// Runs `poll` with `request` as the current request of this thread's log lines, and puts back
/// whatever was current before (a request polled inside another's poll, as in tests, nests).
pub(crate) fn in_request<R>(request: &Arc<RequestContext>, poll: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<RequestContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(Arc::clone(request)));
    let _restore = Restore(previous);
    poll()
}

/// One line per event: time, level, the request (if any), the spans, the fields.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        write!(writer, " {:>5} ", event.metadata().level())?;
        let request = CURRENT.try_with(|current| current.borrow().clone()).ok().flatten();
        if let Some(request) = request {
            let id = request.id.to_str().unwrap_or("-");
            write!(writer, "request{{id={id} method={} path={}}}: ", request.method, request.uri.path())?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
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
