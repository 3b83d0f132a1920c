//! The demo, rendered on the server and hydrated in the browser: the page arrives with the user's
//! name already in it (the `ssr` layer refreshed before rendering), the browser adopts the server's
//! session snapshot without a refresh of its own, and server functions run with the request's token.

pub mod app;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod session;

/// The browser's entry point, called by Leptos's hydration script.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A mark for tests and scripts that must wait for the page's own handlers.
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
