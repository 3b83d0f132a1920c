//! What operators and the demo read: the health probe and this process's counters.

use serde::{Deserialize, Serialize};

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
}

/// `GET /api/metrics`: counters of this server process since it started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    pub logins: u64,
    /// Refresh calls answered with a token pair, grace-window answers included.
    pub refreshes: u64,
    /// Of those, the ones answered from the grace window.
    pub grace_refreshes: u64,
    pub reuse_detected: u64,
}
