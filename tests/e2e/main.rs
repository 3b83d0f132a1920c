//! End to end: the release SPA served by the real backend, driven in real headless Chromium.
//!
//! The backend runs with 3-second access tokens (leeway 0). Each scenario gets its own backend,
//! database and browser, and asserts both what the user sees and what the backend counted.
//! `cargo xtask test` builds `dist/` and sets `E2E_DIST`; without it each scenario fails, saying why.

#[path = "../support/backend_process.rs"]
#[allow(dead_code)] // shared with the API suite, which uses all of it
mod backend_process;
mod harness;
#[path = "../support/mail.rs"]
mod mail;

mod account_recovery;
mod csp;
mod devices;
mod live;
mod login;
mod outage;
mod refresh;
mod revocation;
mod ssr_demo;
mod tabs;
mod timing;
