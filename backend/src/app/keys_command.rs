//! `backend keys rotate`: the one command besides serving.

use crate::app::StartError;
use crate::auth::tokens::key_ring;
use crate::auth::tokens::millis;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{PoolSettings, Store};

/// Adds a key that signs after `KEY_ACTIVATION_DELAY` and gives the keys before it an end (the new
/// key's start plus one access-token lifetime and the leeway). Returns a line to print.
pub async fn rotate_keys(config: &Config, clock: &dyn Clock) -> Result<String, StartError> {
    let pool = PoolSettings {
        max_connections: 2,
        acquire_timeout: config.db_acquire_timeout,
        session_cache_ttl: std::time::Duration::ZERO,
    };
    let store = Store::connect(&config.database()?, pool).await?;
    let now = clock.now();
    let activates_at = now + millis(config.key_activation_delay);
    let retires_at = activates_at + millis(config.access_token_ttl) + millis(config.jwt_leeway);
    let key = key_ring::generate(now, activates_at)?;
    let kid = key.kid.clone();
    store.add_signing_key(key, false).await?;
    let retired = store.retire_signing_keys(activates_at, retires_at).await?;
    store.close().await;
    let seconds = |at: i64| (at - now) / 1000;
    Ok(format!(
        "added key {kid}: published now, signs in {} s; {retired} older key(s) accepted for {} s more",
        seconds(activates_at),
        seconds(retires_at)
    ))
}
