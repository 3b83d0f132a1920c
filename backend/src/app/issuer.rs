//! Which issuer the tokens carry. An install's issuer never changes because a default did: the first
//! start records it, later starts keep it unless JWT_ISSUER names another, and a deliberate change
//! keeps accepting the previous issuer's tokens for one access-token lifetime.

use crate::auth::tokens::access::PreviousIssuer;
use crate::clock::{Millis, millis};
use crate::config::{Config, is_url_issuer};
use crate::store::{IssuerRow, Store, StoreError};

/// The issuer of a new install.
pub(crate) const FRESH_DEFAULT: &str = "http://127.0.0.1:3000";

/// The issuer to sign with, and the previous one while its tokens may still be alive.
pub(super) async fn settle(
    store: &Store,
    config: &Config,
    now: Millis,
) -> Result<(String, Option<PreviousIssuer>), StoreError> {
    let explicit = config.jwt_issuer.clone();
    let row = store.settle_issuer(move |recorded| decide(recorded, explicit, now)).await?;
    if row.changed_at == Some(now) {
        tracing::warn!(
            from = row.previous.as_deref().unwrap_or_default(),
            to = %row.current,
            "JWT_ISSUER changed: tokens of the previous issuer stay valid for one ACCESS_TOKEN_TTL; tell every \
             service that checks `iss`"
        );
    }
    if !is_url_issuer(&row.current) {
        tracing::warn!(
            issuer = %row.current,
            "the issuer is not a URL: tokens work as before, but OAuth discovery (RFC 8414) needs one; set \
             JWT_ISSUER to this server's public URL when the services that check `iss` are ready for it"
        );
    }
    let until = |at: Millis| at + millis(config.access_token_ttl) + millis(config.jwt_leeway);
    let previous = match (row.previous, row.changed_at) {
        (Some(issuer), Some(at)) if now < until(at) => Some(PreviousIssuer { issuer, until: until(at) }),
        _ => None,
    };
    Ok((row.current, previous))
}

/// The recorded issuer, unless JWT_ISSUER names another. (A database an earlier release wrote has its
/// default, `silent-refresh`, recorded by migration 0009.)
fn decide(recorded: Option<IssuerRow>, explicit: Option<String>, now: Millis) -> IssuerRow {
    match (recorded, explicit) {
        (Some(recorded), Some(explicit)) if recorded.current != explicit => {
            IssuerRow { current: explicit, previous: Some(recorded.current), changed_at: Some(now) }
        }
        (Some(recorded), _) => recorded,
        (None, Some(explicit)) => IssuerRow { current: explicit, previous: None, changed_at: None },
        (None, None) => IssuerRow { current: FRESH_DEFAULT.to_owned(), previous: None, changed_at: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(current: &str) -> IssuerRow {
        IssuerRow { current: current.into(), previous: None, changed_at: None }
    }

    #[test]
    fn a_default_never_changes_a_recorded_issuer() {
        assert_eq!(decide(Some(row("silent-refresh")), None, 5), row("silent-refresh"));
        assert_eq!(decide(None, None, 5), row(FRESH_DEFAULT), "a new install");
    }

    #[test]
    fn an_explicit_change_remembers_the_previous_issuer() {
        let changed = decide(Some(row("silent-refresh")), Some("https://auth.example.com".into()), 5);
        assert_eq!(changed.current, "https://auth.example.com");
        assert_eq!((changed.previous.as_deref(), changed.changed_at), (Some("silent-refresh"), Some(5)));
        // The same setting at the next start changes nothing, so the window is not pushed back.
        assert_eq!(decide(Some(changed.clone()), Some("https://auth.example.com".into()), 9), changed);
    }
}
