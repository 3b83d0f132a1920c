//! Black-box tests of the HTTP contract, over real HTTP on 127.0.0.1 against a real database.
//!
//! Every test gets its own database: a SQLite file in a temporary folder, or, when `TEST_POSTGRES_URL`
//! is set, a fresh PostgreSQL database created for it. The same suite therefore runs on both engines.

#[path = "../support/backend_process.rs"]
mod backend_process;
mod helpers;
#[path = "../support/mail.rs"]
mod mail;

mod algorithms;
mod app_server;
mod bad_input;
mod bff;
mod contract;
mod cookies;
mod dpop;
mod durability;
mod expiry;
mod identity;
mod instances;
mod interactions;
mod issuer;
mod jose;
mod key_commands;
mod keys;
mod lifecycle_model;
mod live;
mod logging;
mod native_client;
mod native_dpop;
mod oauth;
mod openapi;
mod password_reset;
mod prometheus;
mod recent_auth;
mod rotation;
mod session_controls;
mod sessions;
mod slow_clients;
mod ssr_layer;
mod startup;
mod static_files;
mod throttling;
mod upgrade;
