//! The refresh-aware HTTP client. Copy this module into your own app.
//!
//! The decision logic ([`ApiClient`]) knows nothing about browsers or Leptos: it talks to the world
//! through four small traits in [`ports`] — transport, token store, clock, cross-tab lock — so it runs
//! and is tested natively with fakes, and in the browser with the adapters in `browser`.

mod api_client;
#[cfg(target_arch = "wasm32")]
pub mod browser;
mod error;
mod events;
pub mod ports;
mod redirect;
mod session;

pub use api_client::ApiClient;
pub use error::{ApiErrorBody, ClientError};
pub use events::{ClientEvent, Counters, LogoutReason, RefreshReason};
pub use ports::{
    ApiRequest, Clock, Method, RawResponse, RefreshLock, StorageError, TokenStore, Transport, TransportError,
};
pub use session::{SessionUser, StoredSession};

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;
