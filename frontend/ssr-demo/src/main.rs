//! `ssr-demo`: the server-rendered demo's app server (see `server::Settings` for its environment).

#[tokio::main]
async fn main() {
    if let Err(error) = ssr_demo::server::run().await {
        eprintln!("ssr-demo: {error}");
        std::process::exit(1);
    }
}
