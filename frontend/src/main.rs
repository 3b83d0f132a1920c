//! Mounts the app. Off the browser there is nothing to run; the binary exists for Trunk.

#[cfg(target_arch = "wasm32")]
fn main() {
    // Readable panics in development; the release build leaves the formatting code out.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(frontend::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the frontend runs in a browser: build it with `trunk build`");
}
