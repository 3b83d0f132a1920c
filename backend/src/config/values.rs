//! The typed values settings take, and how durations are read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite { url: String, path: PathBuf },
    Postgres { url: String },
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExposure {
    Same,
    Off,
    Separate(SocketAddr),
}

impl FromStr for MetricsExposure {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "same" => Ok(Self::Same),
            "off" => Ok(Self::Off),
            address => address.parse().map(Self::Separate).map_err(|_| "expected same, off or host:port".to_owned()),
        }
    }
}

/// Administration commands; without one, the server runs.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Signing keys (EdDSA).
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum KeysCommand {
    /// Adds a key that is published at once and signs after KEY_ACTIVATION_DELAY; the current key
    /// stays published and accepted until every token it signed has expired.
    Rotate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "eddsa")]
    EdDsa,
    #[value(name = "hs256")]
    Hs256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RefreshExpiry {
    Sliding,
    Fixed,
}

pub(super) fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(value).map_err(|e| format!("{e} (use e.g. 3s, 1m, 15m, 7d)"))
}

/// A duration that must be positive (a zero lifetime would make every token dead on arrival).
pub(super) fn parse_lifetime(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err("must be greater than zero".into()),
        duration => Ok(duration),
    }
}
