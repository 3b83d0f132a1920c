//! Everything that knows a request: the router and its middleware, extractors, token delivery (body or
//! cookie), the envelope's one error mapping, the OpenAPI document, the SPA, and one module per area
//! of routes. Handlers extract, parse, call a rule in `auth`, and answer.

pub(crate) mod delivery;
pub(crate) mod dpop;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod extract;
#[cfg(feature = "e2e")]
pub(crate) mod fault;
pub(crate) mod limits;
pub(crate) mod openapi;
#[cfg(feature = "e2e")]
pub(crate) mod proof_log;
pub(crate) mod reply;
pub(crate) mod router;
pub(crate) mod routes;
pub(crate) mod spa;
pub(crate) mod state;
#[cfg(feature = "e2e")]
pub(crate) mod test_sessions;
pub(crate) mod track;
