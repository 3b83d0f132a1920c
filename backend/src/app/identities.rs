//! Accounts under the identity rule (`auth/identity.rs`): keyed at start when an earlier release or
//! rule made them, and `backend accounts conflicts`, which lists what that keying could not separate.

use std::fmt::Write as _;

use crate::auth::identity;
use crate::config::Config;
use crate::store::{Collision, Store, StoreError};

use super::keys_command::{CommandError, open, time};

/// Keys every account the current rule has not keyed yet, and warns when some now share a key.
pub(super) async fn key_accounts(store: &Store) -> Result<(), StoreError> {
    let keyed = store.key_accounts(identity::RULE_VERSION, identity::of_stored).await?;
    if keyed == 0 {
        return Ok(());
    }
    tracing::info!(keyed, rule = identity::RULE_VERSION, "accounts keyed by the identity rule");
    let (keys, skeletons) = store.identity_collisions().await?;
    if !keys.is_empty() || !skeletons.is_empty() {
        tracing::warn!(
            sharing_a_key = keys.len(),
            looking_alike = skeletons.len(),
            "some accounts from before the identity rule collide under it; each still logs in with its own \
             address as stored; `backend accounts conflicts` lists them"
        );
    }
    Ok(())
}

/// `backend accounts conflicts`: accounts that share an identity key or a look-alike skeleton.
pub async fn account_conflicts(config: &Config) -> Result<String, CommandError> {
    let store = open(config, false).await?;
    let listed = async {
        key_accounts(&store).await?;
        store.identity_collisions().await
    }
    .await;
    store.close().await;
    let (keys, skeletons) = listed?;
    Ok(report(&keys, &skeletons))
}

fn report(keys: &[Collision], skeletons: &[Collision]) -> String {
    if keys.is_empty() && skeletons.is_empty() {
        return "no accounts collide under the identity rule".to_owned();
    }
    let mut out = String::new();
    if !keys.is_empty() {
        out.push_str(
            "Accounts that share an identity key (the same address under the rule). Each logs in with its own\n\
             address exactly as stored; any other spelling reaches the one marked \"holds\".\n",
        );
        groups(&mut out, keys, "key");
    }
    if !skeletons.is_empty() {
        out.push_str(
            "Accounts whose addresses look alike (UTS #39 skeleton). Both log in as before; a new sign-up that\n\
             looks like either is refused.\n",
        );
        groups(&mut out, skeletons, "skeleton");
    }
    out
}

fn groups(out: &mut String, rows: &[Collision], what: &str) {
    let mut shared: Option<&str> = None;
    for row in rows {
        if shared != Some(row.shared.as_str()) {
            let _ = writeln!(out, "  {what} {}", row.shared);
            shared = Some(&row.shared);
        }
        let holds = if row.claim.is_some() { "holds" } else { "     " };
        let _ = writeln!(out, "    {holds}  {}  created {}  id {}", row.email, time(row.created_at), row.id);
    }
}
