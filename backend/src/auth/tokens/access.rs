//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`; `iss`, `sub`, `aud`, `exp`, `iat`,
//! `jti` and `client_id`, plus `auth_time` and `amr` from the session), signed with a key of the shared key ring named by its `kid` (EdDSA by
//! default, ES256 or RS256), or with HS256 and the shared secret. Verification takes the algorithm from
//! our own key, never from the token alone, and pins issuer and audience.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::key_material::{Key, KeyAlgorithm};
use super::key_ring::{KeyError, KeyRing};
use crate::clock::{Millis, millis};
use crate::config::Secret;
use verified::{Verified, VerifiedTokens};

/// The `typ` header that tells an access token apart from any other JWT signed with the same key.
const ACCESS_TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) sub: String,
    pub(crate) username: String,
    pub(crate) role: String,
    pub(crate) sid: String,
    pub(crate) jti: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) iss: String,
    pub(crate) aud: String,
    /// RFC 9068 §2.2: the client the token was issued to (the login's `appId`, or `JWT_CLIENT_ID`).
    #[serde(default)]
    pub(crate) client_id: String,
    /// When the user last proved who they are (seconds; OIDC Core §2, RFC 9068 §2.2.1): the session's,
    /// copied unchanged by every refresh. Absent from tokens of an earlier release, which then count
    /// as not recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time: Option<i64>,
    /// How (RFC 8176), such as `["pwd"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) amr: Vec<String>,
    /// RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to; absent for a Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<Confirmation>,
}

/// The `cnf` claim (RFC 7800) of a DPoP-bound token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    pub(crate) jkt: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    #[error("cannot sign the token")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("no signing key")]
    Key(#[from] KeyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AccessError {
    #[error("access token expired")]
    Expired,
    #[error("access token is invalid")]
    Invalid,
}

/// Who an access token is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) username: &'a str,
    pub(crate) role: &'a str,
    pub(crate) session_id: &'a str,
    /// The client the session was opened by; `JWT_CLIENT_ID` when it named none.
    pub(crate) client_id: Option<&'a str>,
    /// When and how the user last proved who they are on the session (milliseconds; RFC 8176
    /// method names, comma-separated).
    pub(crate) auth_time: Millis,
    pub(crate) amr: &'a str,
    /// The DPoP key the session is bound to.
    pub(crate) dpop_jkt: Option<&'a str>,
}

/// The key a token will be signed with, taken before the work that the token answers (`None`: the
/// shared secret).
#[derive(Debug, Clone)]
pub(crate) struct SigningKey(Option<Arc<Key>>);

/// What signs: the shared secret (HS256), or the database's key ring.
#[derive(Clone)]
pub(crate) enum Signer {
    Hs256 { encoding: EncodingKey, decoding: DecodingKey },
    Ring(KeyRing),
}

impl Signer {
    pub(crate) fn hs256(secret: &Secret) -> Self {
        Self::Hs256 {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
        }
    }

    /// The algorithms this signer's tokens may use.
    fn algorithms(&self) -> Vec<Algorithm> {
        match self {
            Self::Hs256 { .. } => vec![Algorithm::HS256],
            Self::Ring(_) => KeyAlgorithm::ALL.into_iter().map(KeyAlgorithm::jwt).collect(),
        }
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub(crate) struct AccessTokens {
    signer: Signer,
    /// One per algorithm the signer may use, each pinned to it.
    validations: Vec<Validation>,
    issuer: String,
    previous_issuer: Option<PreviousIssuer>,
    audience: String,
    default_client_id: String,
    known_client_ids: Vec<String>,
    ttl: Duration,
    leeway: Duration,
    /// Shared by the clones, as the instance's tokens are.
    verified: Arc<VerifiedTokens>,
}

/// How many verified tokens an instance remembers (under 1 KiB each with the claims' strings, so at most
/// about 16 MiB): more than the clients one instance serves within an access token's lifetime in any
/// deployment this server is sized for (the benchmark's herd is 10 000). Past it, a shard starts over
/// and its tokens are verified again: slower, never wrong.
const VERIFIED_TOKENS: usize = 16_384;

/// What is fixed for every token: who issues it, for whom, and how long it lives.
#[derive(Debug, Clone)]
pub(crate) struct TokenPolicy {
    pub(crate) issuer: String,
    /// The issuer before a deliberate change, while tokens it issued may still be alive.
    pub(crate) previous_issuer: Option<PreviousIssuer>,
    pub(crate) audience: String,
    pub(crate) default_client_id: String,
    /// The `appId`s a token's `client_id` may take; any other gets `default_client_id`.
    pub(crate) known_client_ids: Vec<String>,
    pub(crate) ttl: Duration,
    pub(crate) leeway: Duration,
}

/// An issuer whose tokens are accepted until `until`.
#[derive(Debug, Clone)]
pub(crate) struct PreviousIssuer {
    pub(crate) issuer: String,
    pub(crate) until: Millis,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    pub(crate) fn new(signer: Signer, policy: TokenPolicy) -> Self {
        // Each validation accepts one algorithm, chosen by the key that verifies, so `alg: none` and
        // algorithm-confusion tokens fail before any check.
        let validations = signer
            .algorithms()
            .into_iter()
            .map(|algorithm| {
                let mut validation = Validation::new(algorithm);
                match &policy.previous_issuer {
                    Some(previous) => validation.set_issuer(&[&policy.issuer, &previous.issuer]),
                    None => validation.set_issuer(&[&policy.issuer]),
                }
                validation.set_audience(&[&policy.audience]);
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                // `exp` is checked in `verify` against the state's clock rather than the wall clock.
                validation.validate_exp = false;
                validation
            })
            .collect();
        let TokenPolicy { issuer, previous_issuer, audience, default_client_id, known_client_ids, ttl, leeway } =
            policy;
        Self {
            signer,
            validations,
            issuer,
            previous_issuer,
            audience,
            default_client_id,
            known_client_ids,
            ttl,
            leeway,
            verified: Arc::new(VerifiedTokens::new(VERIFIED_TOKENS)),
        }
    }

    /// `iss` of every token.
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `client_id` a session opened by `app_id` gets: the app when it is a configured client, else
    /// the default, so a user cannot choose the client a resource server sees.
    pub(crate) fn client_id<'a>(&'a self, app_id: Option<&'a str>) -> &'a str {
        app_id.filter(|app| self.known_client_ids.iter().any(|known| known == app)).unwrap_or(&self.default_client_id)
    }

    /// The key that will sign at `now`, found (and the ring repaired if need be) before anything is
    /// written: a refresh must not consume a token it cannot answer.
    pub(crate) async fn signing_key(&self, now: Millis) -> Result<SigningKey, SignError> {
        match &self.signer {
            Signer::Hs256 { .. } => Ok(SigningKey(None)),
            Signer::Ring(ring) => Ok(SigningKey(Some(ring.current_signer(now).await?))),
        }
    }

    /// Signs a token for `subject` with `key`, valid from `now` for the configured lifetime. Returns it
    /// with its lifetime in seconds.
    pub(crate) fn issue(
        &self,
        key: &SigningKey,
        subject: Subject<'_>,
        now: Millis,
    ) -> Result<(String, u64), SignError> {
        self.sign(key, subject, now, now..now + millis(self.ttl))
    }

    /// The signer, for the JWKS route and the key reloader.
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Signs, with the key that signs at `now`, a token whose `iat` and `exp` are `validity`'s ends,
    /// which may lie in the past (the demo's "expire my token"). Also returns its lifetime in seconds
    /// as `expires_in` reports it: from `now` to the end, 0 when that is already past.
    pub(crate) async fn issue_until(
        &self,
        subject: Subject<'_>,
        now: Millis,
        validity: std::ops::Range<Millis>,
    ) -> Result<(String, u64), SignError> {
        let key = self.signing_key(now).await?;
        self.sign(&key, subject, now, validity)
    }

    fn sign(
        &self,
        key: &SigningKey,
        subject: Subject<'_>,
        now: Millis,
        validity: std::ops::Range<Millis>,
    ) -> Result<(String, u64), SignError> {
        let expires_at = validity.end;
        let claims = AccessClaims {
            sub: subject.user_id.to_owned(),
            username: subject.username.to_owned(),
            role: subject.role.to_owned(),
            sid: subject.session_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: validity.start / 1000,
            exp: expires_at / 1000,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            client_id: self.client_id(subject.client_id).to_owned(),
            auth_time: Some(subject.auth_time / 1000),
            amr: subject.amr.split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect(),
            cnf: subject.dpop_jkt.map(|jkt| Confirmation { jkt: jkt.to_owned() }),
        };
        let header = |algorithm| Header { typ: Some(ACCESS_TYP.to_owned()), ..Header::new(algorithm) };
        let token = match (&self.signer, &key.0) {
            (Signer::Hs256 { encoding, .. }, _) => jsonwebtoken::encode(&header(Algorithm::HS256), &claims, encoding)?,
            (Signer::Ring(_), Some(key)) => {
                let header = Header { kid: Some(key.kid.clone()), ..header(key.algorithm.jwt()) };
                jsonwebtoken::encode(&header, &claims, &key.encoding)?
            }
            (Signer::Ring(_), None) => return Err(SignError::Key(KeyError::NoneActive)),
        };
        Ok((token, super::seconds_until(expires_at, now)))
    }

    /// Checks signature, algorithm, `kid` (one of ours), `typ`, `iss`, `aud` and `exp` (with leeway).
    /// The signature of a token seen before is not checked again while the key that verified it is
    /// still the ring's (`verified.rs`); everything that depends on `now` is checked every time.
    pub(crate) async fn verify(&self, token: &str, now: Millis) -> Result<AccessClaims, AccessError> {
        let digest = verified::digest(token);
        if let Some(claims) = self.verified.get(&digest, |key| self.still_trusts(key, now)) {
            return self.check_time(claims, now);
        }
        let Verified { claims, key } = self.verify_signature(token, now).await?;
        let claims = self.check_time(claims, now)?;
        let leeway = self.leeway_secs();
        self.verified.insert(digest, Verified { claims: claims.clone(), key }, now / 1000, leeway);
        Ok(claims)
    }

    /// Whether the ring still holds `key`, unchanged, as a key tokens may name at `now`.
    fn still_trusts(&self, key: &Arc<Key>, now: Millis) -> bool {
        match &self.signer {
            Signer::Ring(ring) => ring.holds(key, now),
            // A ring's key under a shared secret: never this instance's.
            Signer::Hs256 { .. } => false,
        }
    }

    /// Everything about a token that does not change with time: signature, algorithm, `kid`, `typ`,
    /// `crit`, `iss` (one of the accepted ones) and `aud`.
    async fn verify_signature(&self, token: &str, now: Millis) -> Result<Verified, AccessError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessError::Invalid)?;
        if header.typ.as_deref() != Some(ACCESS_TYP) || names_critical_extensions(token) {
            return Err(AccessError::Invalid);
        }
        let mut ring_key = None;
        let (decoding, algorithm) = match &self.signer {
            Signer::Hs256 { decoding, .. } => (decoding, Algorithm::HS256),
            Signer::Ring(ring) => {
                let kid = header.kid.as_deref().ok_or(AccessError::Invalid)?;
                let key = ring.verifying_key(kid, now).await.ok_or(AccessError::Invalid)?;
                let ring_key = ring_key.insert(key);
                (&ring_key.decoding, ring_key.algorithm.jwt())
            }
        };
        // The key decides the algorithm; a token that claims another is refused.
        let validation = self.validations.iter().find(|v| v.algorithms == [algorithm]);
        let validation = validation.filter(|_| header.alg == algorithm).ok_or(AccessError::Invalid)?;
        let claims =
            jsonwebtoken::decode::<AccessClaims>(token, decoding, validation).map_err(|_| AccessError::Invalid)?.claims;
        Ok(Verified { claims, key: ring_key })
    }

    /// `exp` with the leeway, and an earlier issuer only until its end.
    fn check_time(&self, claims: AccessClaims, now: Millis) -> Result<AccessClaims, AccessError> {
        // Expired once `exp` plus the leeway is behind us, in whole seconds as the claim is.
        if claims.exp.saturating_add(self.leeway_secs()) < now / 1000 {
            return Err(AccessError::Expired);
        }
        if claims.iss != self.issuer && self.previous_issuer.as_ref().is_none_or(|previous| now >= previous.until) {
            return Err(AccessError::Invalid);
        }
        Ok(claims)
    }

    fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }
}

/// RFC 7515 §4.1.11: a `crit` header lists extensions the recipient must understand or refuse the
/// token; this server understands none.
fn names_critical_extensions(token: &str) -> bool {
    let header = token.split('.').next().unwrap_or_default();
    let Ok(json) = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header) else {
        return true;
    };
    serde_json::from_slice::<serde_json::Value>(&json).map_or(true, |header| header.get("crit").is_some())
}

#[cfg(test)]
mod tests;
mod verified;
