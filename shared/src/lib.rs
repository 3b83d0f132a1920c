//! Wire types and API paths shared by the backend and the browser client.
//!
//! Everything here is plain serde data so it builds for the host and for `wasm32-unknown-unknown`.
//! Field names are the wire contract: the tutorial's axios client depends on them too.

pub mod auth;
pub mod demo;
pub mod envelope;
pub mod oauth;
pub mod ops;
pub mod paths;
pub mod sessions;

pub use envelope::{Envelope, ErrorCode};
