//! Silent JWT refresh for Rust web front ends.
//!
//! [`RefreshClient`] sends your API requests with the current access token and makes expiry
//! invisible: a token that is due is refreshed ahead of time by a driver (a timer and wake-up events); any
//! number of concurrent 401s share **one** refresh call and are replayed once; a refresh the server
//! refuses rejects every waiter with [`ClientError::SessionExpired`] (nothing hangs), while a network
//! error never logs anyone out. Tabs are serialised with the Web Locks API, and a logout or a newer
//! login always wins over a refresh that was still on the wire.
//!
//! The core is plain Rust over small traits, so it runs (and is tested) anywhere:
//! [`Transport`], [`TokenStore`], [`Clock`], [`RefreshLock`] and the server's [`Protocol`]
//! ([`EnvelopeProtocol`] for this project's server, [`OAuthProtocol`] for an OAuth 2.0 token
//! endpoint). Features add the rest:
//!
//! | feature | what it adds |
//! |---|---|
//! | `browser` | fetch, `localStorage`, Web Locks, `Driver` (the wake-up triggers), `same_origin_target` |
//! | `native`  | `native`: a `reqwest` transport, the system clock, a tokio driver, a file store |
//! | `testing` | the `testing` module: a scripted server with real token rules, virtual clock, fake storage and lock |
//! | `leptos`  | `leptos`: context, signals, `RequireSession` |
//! | `hydrate` | `hydrate`: the page's session snapshot, a `server_fn` client with one shared session check and one retry on a 401 |
//! | `ssr`     | `ssr`: refresh before render for an Axum router (Leptos's included), `ServerSession`, the backend-for-frontend mode |
//!
//! # Example
//!
//! Natively, against the fake server from the `testing` feature:
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use futures::executor::block_on;
//! use futures::future::join_all;
//! use silent_refresh::testing::{FakeClock, FakeLock, FakeServer, FakeStore, TestUser};
//! use silent_refresh::{Config, EnvelopeProtocol, RefreshClient, Request};
//!
//! let clock = FakeClock::new();
//! let server = FakeServer::new(&clock);
//! let client = RefreshClient::builder(EnvelopeProtocol::<TestUser>::default(), server.clone(), clock.clone())
//!     .store(FakeStore::default())
//!     .lock(FakeLock::default())
//!     .config(Config::default())
//!     .build();
//! block_on(client.login(&FakeServer::login_request())).unwrap();
//!
//! server.expire_access(); // every request now gets 401 …
//! let request = Request::get("/api/me");
//! let answers = block_on(join_all((0..10).map(|_| client.fetch::<String>(&request))));
//! assert!(answers.iter().all(Result::is_ok)); // … yet all ten succeed
//! assert_eq!(server.refresh_calls(), 1); // through one refresh
//! # }
//! ```
//!
//! In a browser, with the `browser` feature, the same client runs over fetch, `localStorage` and Web
//! Locks: `examples/browser.rs` is a complete program for `wasm32-unknown-unknown`, and the crate's
//! README has a Leptos quick start.
#![deny(missing_docs)]

mod account;
mod client;
mod config;
#[cfg(feature = "dpop")]
pub mod dpop;
mod error;
mod events;
mod http;
mod ports;
mod protocol;
pub mod redirect;
mod session;
mod snapshot;

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "hydrate")]
pub mod hydrate;
#[cfg(feature = "leptos")]
#[allow(unreachable_pub)] // `#[component]` expands to items the lint misjudges
pub mod leptos;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod native;
#[cfg(all(feature = "ssr", not(target_arch = "wasm32")))]
pub mod ssr;
#[cfg(feature = "testing")]
pub mod testing;

pub use account::AccountProtocol;
pub use client::{ClientBuilder, RefreshClient};
pub use config::{Config, ConfigBuilder, RefreshMargin, RefreshTrigger};
pub use error::{ApiErrorBody, ClientError, DecodeError, StorageError, TransportError};
pub use events::{ClientEvent, Counters, LogoutReason, RefreshReason};
pub use http::{Body, CacheMode, Method, Request, Response};
pub use ports::{Clock, MemoryStore, NoLock, RefreshLock, TokenStore, Transport};
pub use protocol::{EnvelopeProtocol, OAuthGrant, OAuthProtocol, Protocol, RefreshOutcome, TokenGrant};
pub use session::Session;
pub use snapshot::{Presence, SessionSnapshot};

// Every example in the README compiles and runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
