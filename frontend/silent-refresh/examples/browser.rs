//! The client in a plain wasm-bindgen app, no framework: log in, keep the session fresh, call the API.
//! Build it with `cargo build --example browser --features browser --target wasm32-unknown-unknown`.

#[cfg(target_arch = "wasm32")]
fn main() {
    use std::time::Duration;

    use silent_refresh::browser::{self, Driver};
    use silent_refresh::{ClientEvent, Config, EnvelopeProtocol, Request};

    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Account {
        email: String,
    }

    let client = browser::client(EnvelopeProtocol::<Account>::default(), "", Config::default());
    client.subscribe(|event| {
        if let ClientEvent::LoggedOut { .. } = event {
            let _ = web_sys::window().map(|w| w.location().set_href("/login"));
        }
    });
    // Refreshes ahead of expiry, on wake-up and going online, and follows other tabs, until dropped.
    let driver = Driver::start(client.clone(), Duration::from_secs(1), || {});
    wasm_bindgen_futures::spawn_local(async move {
        let credentials = serde_json::json!({"email": "demo@example.com", "password": "demo-password"});
        let login = Request::post("/api/auth/login").json(&credentials).expect("a JSON body");
        if let Err(error) = client.login(&login).await {
            web_sys::console::log_1(&format!("login failed: {error}").into());
            return;
        }
        match client.fetch::<serde_json::Value>(&Request::get("/api/me")).await {
            Ok(me) => web_sys::console::log_1(&format!("hello {me}").into()),
            Err(error) => web_sys::console::log_1(&format!("failed: {error}").into()),
        }
        drop(driver);
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("this example runs in a browser: build it for wasm32-unknown-unknown");
}
