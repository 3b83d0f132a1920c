//! Sender-constrained tokens (DPoP, RFC 9449): what a proof must say for the request it comes with,
//! when a nonce is asked for, and that no proof is accepted twice. A session bound at login (or at its
//! first refresh with a proof) keeps the key's thumbprint; every later refresh must be proved by that
//! key, and its access tokens carry `cnf.jkt`, so neither a stolen refresh token nor a stolen access
//! token works without the private key.
//!
//! Replay: a proof at login or refresh is recorded in the shared database (one `INSERT` that two
//! instances cannot both win; a refresh's is part of its rotation's transaction, so a proof costs the
//! refresh no commit of its own). A proof at a resource is recorded in this
//! instance's bounded memory only ([`replay::SeenProofs`]): a proof copied off the wire could be
//! replayed once at another instance, within the proof's short life, with the access token it is bound
//! to and for the same method and URL. That is the price of not writing to the database on every read.

pub(crate) mod nonce;
pub(crate) mod proof;
pub(crate) mod replay;
pub(crate) mod target;

use std::time::Duration;

use crate::auth::error::{AuthError, DpopAt};
use crate::clock::Millis;
use crate::config::DpopSetting;
use crate::store::Store;

pub(crate) use crate::auth::error::ProofError;
pub(crate) use proof::ALGORITHMS;
pub(crate) use target::RequestTarget;

/// How far ahead of the server's clock a proof's `iat` may be (clients' clocks run fast too).
const FUTURE_SKEW_MS: Millis = 10_000;

/// The DPoP rules of this server.
#[derive(Debug, Clone)]
pub(crate) struct DpopPolicy {
    pub(crate) setting: DpopSetting,
    /// Whether every proof must carry a nonce this server issued.
    pub(crate) nonce_required: bool,
    /// How old a proof's `iat` may be.
    pub(crate) max_age: Duration,
    pub(crate) nonces: nonce::Nonces,
    pub(crate) seen: std::sync::Arc<replay::SeenProofs>,
    /// The scheme, host and port clients reach this server at, when a proxy changes them; unset,
    /// the request's own `Host`.
    pub(crate) public_url: Option<url::Url>,
}

/// A proof that passed, and the key it was made with.
#[derive(Debug, Clone)]
pub(crate) struct Proven {
    pub(crate) jkt: String,
    /// At a token endpoint: the record that spends the proof, for the caller's write.
    pub(crate) spend: Option<ProofSpend>,
}

/// What spends a proof in the database: its key (of thumbprint and `jti`) and when it may be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProofSpend {
    pub(crate) key: [u8; 32],
    pub(crate) forget_at: Millis,
}

/// Where a proof was presented: the token endpoints record it in the database, resources in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    /// Login or refresh.
    Token,
    /// A protected route, with the access token sent beside the proof and the thumbprint it is bound
    /// to (its `cnf.jkt`).
    Resource { access_token: &'a str, jkt: &'a str },
}

impl Endpoint<'_> {
    fn at(self) -> DpopAt {
        match self {
            Self::Token => DpopAt::Token,
            Self::Resource { .. } => DpopAt::Resource,
        }
    }
}

impl DpopPolicy {
    /// Checks `proof` for `target` at `endpoint` (RFC 9449 §4.3). At a resource its `jti` is spent
    /// here; at a token endpoint the answer says how, and the caller spends it in its own write.
    pub(crate) fn check(
        &self,
        now: Millis,
        proof: &str,
        target: &RequestTarget<'_>,
        endpoint: Endpoint<'_>,
    ) -> Result<Proven, AuthError> {
        let at = endpoint.at();
        let refuse = |error| AuthError::DpopProof { error, at };
        let signed = proof::verify_signature(proof).map_err(refuse)?;
        let claims = &signed.claims;
        // Methods are case-sensitive (RFC 9110 §9.1).
        if claims.htm != target.method {
            return Err(refuse(ProofError::Method));
        }
        if !target.matches(&claims.htu, self.public_url.as_ref()) {
            return Err(refuse(ProofError::Url));
        }
        let iat = claims.iat.saturating_mul(1000);
        let max_age = crate::clock::millis(self.max_age);
        if iat > now.saturating_add(FUTURE_SKEW_MS) || iat < now.saturating_sub(max_age) {
            return Err(refuse(ProofError::Stale));
        }
        if let Endpoint::Resource { access_token, jkt } = endpoint {
            if claims.ath.as_deref() != Some(proof::token_hash(access_token).as_str()) {
                return Err(refuse(ProofError::TokenHash));
            }
            // Before anything is remembered: a proof by another key costs this server nothing.
            if signed.jkt != jkt {
                return Err(refuse(ProofError::WrongKey));
            }
        }
        if self.nonce_required && !claims.nonce.as_deref().is_some_and(|nonce| self.nonces.accepts(nonce, now)) {
            return Err(AuthError::DpopNonceRequired { nonce: self.nonce(now), at });
        }
        // Recorded until no clock could still take the proof for fresh.
        let forget_at = iat.saturating_add(max_age).max(now).saturating_add(FUTURE_SKEW_MS);
        let spend = ProofSpend { key: replay::key(&signed.jkt, &claims.jti), forget_at };
        if let Endpoint::Token = endpoint {
            return Ok(Proven { jkt: signed.jkt, spend: Some(spend) });
        }
        if !self.seen.spend(&signed.jkt, spend.key, forget_at, now)? {
            return Err(refuse(ProofError::Replayed));
        }
        Ok(Proven { jkt: signed.jkt, spend: None })
    }

    /// Whether login and refresh bind new sessions to a proof's key.
    pub(crate) fn binds(&self) -> bool {
        self.setting != DpopSetting::Off
    }

    /// The nonce to hand out with an answer.
    pub(crate) fn nonce(&self, now: Millis) -> String {
        self.nonces.current(now)
    }
}

/// Which token endpoint a proof came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRequest {
    Login,
    Refresh,
}

/// The key a login or refresh proved, from the request's proof (if any), and the record that spends
/// the proof; `None` when the request has none and the policy lets it go unbound. A login spends the
/// proof here; a refresh in its rotation.
///
/// With `DPOP=off` a login ignores a proof, as a server that never heard of DPoP would (§5), but a
/// refresh still checks one: a session bound before the setting changed stays bound to its key.
pub(crate) async fn token_endpoint_key(
    policy: &DpopPolicy,
    store: &Store,
    now: Millis,
    proof: Option<&str>,
    target: &RequestTarget<'_>,
    request: TokenRequest,
) -> Result<Option<Proven>, AuthError> {
    match proof {
        Some(_) if request == TokenRequest::Login && !policy.binds() => Ok(None),
        Some(proof) => {
            let proven = policy.check(now, proof, target, Endpoint::Token)?;
            if let (TokenRequest::Login, Some(spend)) = (request, proven.spend)
                && !store.spend_dpop_proof(&spend.key, spend.forget_at, now).await?
            {
                return Err(AuthError::DpopProof { error: ProofError::Replayed, at: DpopAt::Token });
            }
            Ok(Some(proven))
        }
        None if policy.setting == DpopSetting::Required => {
            Err(AuthError::DpopProof { error: ProofError::Missing, at: DpopAt::Token })
        }
        None => Ok(None),
    }
}
