//! The client in a native program: log in (or resume the session saved by a previous run), then call
//! `/api/me` every second across many token lifetimes while the driver refreshes ahead of expiry.
//!
//! ```sh
//! cargo xtask run   # the demo server on 127.0.0.1:3000, in another terminal
//! cargo run -p silent-refresh --example native --features native
//! ```

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::time::Duration;

    use silent_refresh::native::{Driver, FileStore, ReqwestTransport, SystemClock};
    use silent_refresh::{ClientEvent, EnvelopeProtocol, RefreshClient, Request};

    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let calls: u32 = std::env::var("CALLS").ok().and_then(|c| c.parse().ok()).unwrap_or(u32::MAX);
    // The client is !Send: one thread, one local set.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    tokio::task::LocalSet::new().block_on(&runtime, async move {
        let store = FileStore::new(std::env::temp_dir().join("silent-refresh-example-session.json"));
        let client = RefreshClient::builder(
            EnvelopeProtocol::<serde_json::Value>::default(),
            ReqwestTransport::new(&base),
            SystemClock,
        )
        .store(store)
        .build();
        client.subscribe(|event| {
            if matches!(event, ClientEvent::RefreshSucceeded { .. } | ClientEvent::LoggedOut { .. }) {
                println!("{event:?}");
            }
        });
        if client.session().is_none() {
            let credentials = serde_json::json!({"email": "demo@example.com", "password": "demo-password"});
            client.login(&Request::post("/api/auth/login").json(&credentials)?).await?;
            println!("logged in");
        } else {
            println!("resumed the saved session");
        }
        let driver = Driver::start(client.clone(), Duration::from_secs(1));
        for call in 1..=calls {
            let me: serde_json::Value = client.fetch(&Request::get("/api/me")).await?;
            // `/api/me` answers the user's fields and the session id side by side.
            println!("{call}: {}", me["email"]);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        driver.stop();
        Ok(())
    })
}

#[cfg(target_arch = "wasm32")]
fn main() {}
