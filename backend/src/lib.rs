//! The auth server: short-lived access JWTs, rotating refresh tokens with a grace window and reuse
//! detection, and the session API around them.
//!
//! Layers, each importing only the ones below it (ARCHITECTURE.md draws them; `tests/layers` checks):
//! `app` (start-up, serving, the `keys` command) → `http` (routes, extractors, delivery, the envelope)
//! → `auth` (the rules: accounts, refresh, sessions, tokens, throttle, passwords) → `store` (the
//! database) → the base: `config`, `clock`, `mail`, `metrics`, `telemetry`.
//!
//! Outside, [`App::build`] assembles the app from a [`Config`] (tests serve it on 127.0.0.1:0), [`run`]
//! serves it until a shutdown signal, and [`rotate_keys`] is the `keys rotate` command; `clock` and
//! `telemetry` are public for tests and `main`.

mod app;
mod auth;
pub mod clock;
pub mod config;
mod http;
mod mail;
mod metrics;
mod store;
pub mod telemetry;

pub use app::{App, CommandError, StartError, account_conflicts, list_keys, revoke_key, rotate_keys, run};
pub use auth::passwords::PasswordError;
pub use auth::tokens::key_material::MaterialError;
pub use auth::tokens::key_ring::KeyError;
pub use config::{Config, ConfigError};
pub use http::router::RouterError;
pub use http::spa::SpaError;
pub use store::StoreError;
pub use telemetry::error_chain;
