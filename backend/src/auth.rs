//! The rules: who may log in, how a session starts, rotates and ends, what a token is, and how guessing
//! is throttled. Nothing here knows HTTP; every function returns an [`error::AuthError`] that the HTTP
//! layer maps onto the envelope. Below this layer there is only the store and the base modules.

pub(crate) mod accounts;
pub(crate) mod dpop;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod input;
pub(crate) mod oauth;
pub(crate) mod password_reset;
pub(crate) mod passwords;
pub(crate) mod refresh;
pub(crate) mod service;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod tokens;
