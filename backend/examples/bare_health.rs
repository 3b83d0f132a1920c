//! The floor the benchmark compares `/api/health` with: a minimal axum server (plain `axum::serve`,
//! no limits, no middleware) answering `GET /api/health` with the body given as its second argument,
//! on the address given as its first. `cargo xtask bench` starts it beside the real server.

use axum::Router;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let body: &'static str = Box::leak(args.next().unwrap_or_default().into_boxed_str());
    let app = Router::new()
        .route("/api/health", get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
