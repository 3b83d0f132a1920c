//! The demo single-page app, built on the `silent-refresh` client like any other user of it. It exists
//! only for `wasm32`; on the host the crate is empty.

// `#[component]` expands to items whose visibility the lint misjudges.
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod app;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod components;
#[cfg(target_arch = "wasm32")]
mod device;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod pages;

#[cfg(target_arch = "wasm32")]
pub use app::{App, DPOP_KEY_NAME};
