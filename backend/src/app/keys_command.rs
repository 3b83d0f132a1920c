//! `backend keys rotate | list | revoke`: the commands besides serving. Timings and the algorithm come
//! from the settings the servers last wrote to the database (`key_policy`), so a rotation never
//! depends on the shell it runs in; and the commands never create a database by accident.

use std::path::PathBuf;

use crate::auth::tokens::key_material::{self, KeyAlgorithm, MaterialError};
use crate::auth::tokens::key_schedule::{activation_before, at_once, first_gap, row_times, signer};
use crate::clock::millis;
use crate::clock::{Clock, Millis};
use crate::config::{Config, ConfigError, DatabaseTarget, KeySetting};
use crate::store::{KeyPolicyRow, KeyRow, PoolSettings, Replacement, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot read or write the signing keys")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Material(#[from] MaterialError),
    #[error("no database at {0}: run this where the servers' DATABASE_URL points, or pass --create")]
    NoDatabase(PathBuf),
    #[error("no valid key has kid {0:?} (see `backend keys list`)")]
    UnknownKey(String),
    #[error("the servers sign with HS256 (JWT_SECRET): there are no keys to rotate")]
    SharedSecret,
    #[error(
        "{variable}={shell} here, but the servers run with {variable}={servers} (recorded at their last start). \
         Unset {variable} to rotate by the servers' settings; to move the servers to {shell}, restart them \
         with it first"
    )]
    PolicyMismatch { variable: &'static str, shell: String, servers: String },
}

/// The settings a rotation follows, and where they came from.
struct Policy {
    algorithm: KeyAlgorithm,
    activation_delay_ms: Millis,
    overlap_ms: Millis,
    source: &'static str,
}

/// Opens the database the configuration names; a missing SQLite file is an error unless `create`.
pub(super) async fn open(config: &Config, create: bool) -> Result<Store, CommandError> {
    let target = config.database()?;
    if let DatabaseTarget::Sqlite { path, .. } = &target
        && !create
        && !path.exists()
    {
        return Err(CommandError::NoDatabase(path.clone()));
    }
    let pool = PoolSettings {
        max_connections: 2,
        acquire_timeout: config.db_acquire_timeout,
        session_cache_ttl: std::time::Duration::ZERO,
    };
    Ok(Store::connect(&target, pool).await?)
}

/// The servers' settings if one has started on this database, else this command's own. A setting this
/// shell was given that disagrees with the servers' is refused rather than quietly overruled.
async fn policy(store: &Store, config: &Config) -> Result<Policy, CommandError> {
    match store.key_policy().await? {
        Some(recorded) => {
            refuse_disagreement(&recorded, config)?;
            let KeyPolicyRow { algorithm, activation_delay_ms, access_token_ttl_ms, leeway_ms, .. } = recorded;
            Ok(Policy {
                algorithm: KeyAlgorithm::from_jose(&algorithm).ok_or(CommandError::SharedSecret)?,
                activation_delay_ms,
                overlap_ms: access_token_ttl_ms + leeway_ms,
                source: "the servers' settings",
            })
        }
        None => Ok(Policy {
            algorithm: crate::app::key_algorithm(config.jwt_algorithm).ok_or(CommandError::SharedSecret)?,
            activation_delay_ms: millis(config.key_activation_delay),
            overlap_ms: millis(config.access_token_ttl) + millis(config.jwt_leeway),
            source: "this command's settings (no server has started on this database yet)",
        }),
    }
}

fn refuse_disagreement(recorded: &KeyPolicyRow, config: &Config) -> Result<(), CommandError> {
    let algorithm = crate::app::algorithm_name(config.jwt_algorithm);
    for &setting in &config.explicit_key_settings {
        let (shell, servers) = match setting {
            KeySetting::Algorithm => (algorithm.to_owned(), recorded.algorithm.clone()),
            KeySetting::ActivationDelay => {
                (duration(millis(config.key_activation_delay)), duration(recorded.activation_delay_ms))
            }
            KeySetting::AccessTokenTtl => {
                (duration(millis(config.access_token_ttl)), duration(recorded.access_token_ttl_ms))
            }
            KeySetting::Leeway => (duration(millis(config.jwt_leeway)), duration(recorded.leeway_ms)),
        };
        if shell != servers {
            return Err(CommandError::PolicyMismatch { variable: setting.variable(), shell, servers });
        }
    }
    Ok(())
}

fn duration(ms: Millis) -> String {
    humantime::format_duration(std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))).to_string()
}

/// Adds a key that signs after the activation delay and gives the keys before it an end (the new key's
/// start plus one access-token lifetime and the leeway); on an empty ring the key signs at once.
/// Returns what to print.
pub async fn rotate_keys(config: &Config, clock: &dyn Clock, create: bool) -> Result<String, CommandError> {
    let store = open(config, create).await?;
    let policy = policy(&store, config).await?;
    let now = clock.now();
    let empty = store.signing_keys(now).await?.is_empty();
    // An empty ring has nothing to overlap with: waiting would only leave the servers without a key.
    let activates_at = if empty { at_once(now) } else { now + policy.activation_delay_ms };
    let key = key_material::generate(policy.algorithm, now, activates_at)?;
    let kid = key.kid.clone();
    let retires_at = activates_at + policy.overlap_ms;
    let retired = if empty {
        store.add_signing_key(key, false).await?;
        0
    } else {
        store.add_successor_key(key, retires_at).await?
    };
    store.close().await;
    let seconds = |at: Millis| ((at - now) / 1000).max(0);
    Ok(format!(
        "added {} key {kid}: published now, signs in {} s; {retired} older key(s) accepted for {} s more \
         (timed by {})",
        policy.algorithm.jose(),
        seconds(activates_at),
        if retired == 0 { 0 } else { seconds(retires_at) },
        policy.source
    ))
}

/// Every key with its algorithm, state and times, one line each.
pub async fn list_keys(config: &Config, clock: &dyn Clock) -> Result<String, CommandError> {
    let store = open(config, false).await?;
    let rows = store.all_signing_keys().await?;
    store.close().await;
    let now = clock.now();
    let signing = signing_kid(&rows, now);
    let mut out = format!(
        "{:<44}  {:<5}  {:<8}  {:<20}  {:<20}  {}\n",
        "kid", "alg", "state", "created", "signs from", "retires"
    );
    for row in &rows {
        let state = match row.retires_at {
            Some(end) if end <= now => "retired",
            _ if row.activates_at > now => "standby",
            _ if Some(row.kid.as_str()) == signing => "active",
            _ => "retiring",
        };
        let retires = row.retires_at.map_or_else(|| "-".to_owned(), time);
        out.push_str(&format!(
            "{:<44}  {:<5}  {:<8}  {:<20}  {:<20}  {}\n",
            row.kid,
            row.algorithm,
            state,
            time(row.created_at),
            time(row.activates_at),
            retires
        ));
    }
    Ok(out)
}

/// Ends `kid` now and makes sure another key signs: a standing-by one at once, or a new one.
pub async fn revoke_key(config: &Config, clock: &dyn Clock, kid: &str) -> Result<String, CommandError> {
    let store = open(config, false).await?;
    let now = clock.now();
    let valid = store.signing_keys(now).await?;
    if !valid.iter().any(|r| r.kid == kid) {
        store.close().await;
        return Err(CommandError::UnknownKey(kid.to_owned()));
    }
    let others: Vec<KeyRow> = valid.into_iter().filter(|r| r.kid != kid).collect();
    let (replacement, mut said) = if signing_kid(&others, now).is_some() {
        (Replacement::AlreadySigning, "another key was already signing".to_owned())
    } else if let Some(standby) = others.first() {
        (
            Replacement::Activate { kid: standby.kid.clone(), at: at_once(now) },
            format!("standby key {} signs from now on", standby.kid),
        )
    } else {
        let policy = policy(&store, config).await?;
        let key = key_material::generate(policy.algorithm, now, at_once(now))?;
        let said = format!("new {} key {} signs from now on", policy.algorithm.jose(), key.kid);
        (Replacement::Add(key), said)
    };
    // Some key must also sign at every later instant: revoking a rotation's standby key, or the key
    // that just took over, would leave only retiring keys, and every login and refresh would fail
    // once they end.
    let mut after = others;
    match &replacement {
        Replacement::AlreadySigning => {}
        Replacement::Activate { kid, at } => {
            after.iter_mut().filter(|r| &r.kid == kid).for_each(|r| r.activates_at = *at)
        }
        Replacement::Add(key) => after.push(key.clone()),
    }
    let successor = match first_gap(&after, now, row_times) {
        Some(gap) => {
            let policy = policy(&store, config).await?;
            let activates_at = activation_before(gap, now, policy.activation_delay_ms);
            let key = key_material::generate(policy.algorithm, now, activates_at)?;
            said.push_str(&format!(
                "\nthe remaining keys all retire: new {} key {} signs in {} s, before the last one ends",
                policy.algorithm.jose(),
                key.kid,
                ((activates_at - now) / 1000).max(0)
            ));
            Some(key)
        }
        None => None,
    };
    // Another `keys revoke` of the same key may have won meanwhile.
    if !store.revoke_signing_key(kid, now, replacement, successor).await? {
        store.close().await;
        return Err(CommandError::UnknownKey(kid.to_owned()));
    }
    store.close().await;
    Ok(format!(
        "WARNING: key {kid} is revoked: every token it signed is refused from now on (by each server at its \
         next key reload, within KEY_RELOAD_INTERVAL), so their holders refresh or log in again.\n{said}"
    ))
}

/// The key that signs at `now`, by the servers' own rule.
fn signing_kid(rows: &[KeyRow], now: Millis) -> Option<&str> {
    signer(rows, now, row_times).map(|r| r.kid.as_str())
}

pub(super) fn time(at: Millis) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(at).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}
