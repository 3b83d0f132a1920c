//! The auth server: short-lived access JWTs, rotating refresh tokens with a grace window and reuse
//! detection, and the session API around them.
//!
//! Layout: `tokens` holds the token rules, `store` the database, `routes` the HTTP surface,
//! `delivery` body or cookie delivery, `passwords` hashing, `throttle` throttling, `spa` the built app.
//! Only [`App`] and [`Config`] face outside: [`App::build`] assembles the app from a [`Config`] (tests
//! serve it on 127.0.0.1:0), and [`run`] serves it until a shutdown signal.

mod accounts;
mod app;
pub mod clock;
pub mod config;
mod delivery;
mod domain;
mod error;
mod extract;
#[cfg(feature = "e2e")]
mod fault;
mod metrics;
mod openapi;
mod passwords;
mod routes;
mod spa;
mod state;
mod store;
pub mod telemetry;
mod throttle;
mod tokens;
mod upkeep;

pub use app::{App, StartError, rotate_keys, run};
pub use config::{Config, ConfigError};
pub use passwords::PasswordError;
pub use store::StoreError;
pub use telemetry::error_chain;
pub use tokens::keys::KeyError;
