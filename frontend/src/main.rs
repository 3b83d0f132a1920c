//! Mounts the app. Off the browser there is nothing to run; the binary exists for Trunk.

#[cfg(target_arch = "wasm32")]
fn main() {
    // Readable panics in development; the release build leaves the formatting code out.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    // The DPoP key comes first: the client must know it before its first request. A browser that
    // cannot keep a key (no IndexedDB) runs the demo with Bearer tokens instead.
    // wasm-bindgen's own spawner: Leptos's executor is set up by the mount, which has not run yet.
    wasm_bindgen_futures::spawn_local(async {
        let key = silent_refresh::browser::WebCryptoDpopKey::load_or_create(frontend::DPOP_KEY_NAME).await;
        if let Err(error) = &key {
            web_sys::console::warn_1(&format!("{error}; going on without DPoP").into());
        }
        let key = key.ok();
        leptos::mount::mount_to_body(move || leptos::view! { <frontend::App dpop_key=key.clone() /> });
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the frontend runs in a browser: build it with `trunk build`");
}
