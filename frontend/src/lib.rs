//! The demo single-page app and the refresh-aware HTTP client it is built on.
//!
//! [`client`] is plain Rust and builds everywhere; the Leptos app exists only for `wasm32`.

pub mod client;

// `#[component]` expands to items whose visibility the lint misjudges.
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod app;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod components;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod pages;

#[cfg(target_arch = "wasm32")]
pub use app::App;
