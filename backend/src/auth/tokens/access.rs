//! Access tokens: JWTs with `typ: at+jwt` (RFC 9068), signed with EdDSA and a `kid` from the key ring
//! (the default), or with HS256 and the shared secret; pinned algorithm, issuer and audience.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::key_ring::{KeyError, KeyRing};
use super::millis;
use crate::clock::Millis;
use crate::config::Secret;

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
}

/// What signs: the shared secret (HS256), or the database's key ring (EdDSA).
#[derive(Clone)]
pub(crate) enum Signer {
    Hs256 { encoding: EncodingKey, decoding: DecodingKey },
    EdDsa(KeyRing),
}

impl Signer {
    pub(crate) fn hs256(secret: &Secret) -> Self {
        Self::Hs256 {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hs256 { .. } => Algorithm::HS256,
            Self::EdDsa(_) => Algorithm::EdDSA,
        }
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub(crate) struct AccessTokens {
    signer: Signer,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: Duration,
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
    pub(crate) fn new(signer: Signer, issuer: &str, audience: &str, ttl: Duration, leeway: Duration) -> Self {
        // Only the configured algorithm is accepted, so `alg: none` and algorithm-confusion tokens
        // fail before any check.
        let mut validation = Validation::new(signer.algorithm());
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `exp` is checked in `verify` against the state's clock rather than the wall clock.
        validation.validate_exp = false;
        Self { signer, validation, issuer: issuer.to_owned(), audience: audience.to_owned(), ttl, leeway }
    }

    /// Signs a token for `subject`, valid from `now` for the configured lifetime. Returns it with its
    /// lifetime in seconds.
    pub(crate) fn issue(&self, subject: Subject<'_>, now: Millis) -> Result<(String, u64), SignError> {
        self.issue_until(subject, now, now..now + millis(self.ttl))
    }

    /// The signer, for the JWKS route and the key reloader.
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Signs, with the key that signs at `now`, a token whose `iat` and `exp` are `validity`'s ends,
    /// which may lie in the past (the demo's "expire my token"). Also returns its lifetime in seconds
    /// as `expires_in` reports it: from `now` to the end, 0 when that is already past.
    pub(crate) fn issue_until(
        &self,
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
        };
        let mut header = Header { typ: Some(ACCESS_TYP.to_owned()), ..Header::new(self.signer.algorithm()) };
        let token = match &self.signer {
            Signer::Hs256 { encoding, .. } => jsonwebtoken::encode(&header, &claims, encoding)?,
            Signer::EdDsa(ring) => {
                let key = ring.signing_key(now)?;
                header.kid = Some(key.kid.clone());
                jsonwebtoken::encode(&header, &claims, &key.encoding)?
            }
        };
        Ok((token, super::seconds_until(expires_at, now)))
    }

    /// Checks signature, algorithm, `kid` (one of ours), `typ`, `iss`, `aud` and `exp` (with leeway).
    pub(crate) async fn verify(&self, token: &str, now: Millis) -> Result<AccessClaims, AccessError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessError::Invalid)?;
        if header.alg != self.signer.algorithm()
            || header.typ.as_deref() != Some(ACCESS_TYP)
            || names_critical_extensions(token)
        {
            return Err(AccessError::Invalid);
        }
        let ring_key;
        let decoding = match &self.signer {
            Signer::Hs256 { decoding, .. } => decoding,
            Signer::EdDsa(ring) => {
                let kid = header.kid.as_deref().ok_or(AccessError::Invalid)?;
                ring_key = ring.verifying_key(kid, now).await.ok_or(AccessError::Invalid)?;
                &ring_key.decoding
            }
        };
        let claims = jsonwebtoken::decode::<AccessClaims>(token, decoding, &self.validation)
            .map_err(|_| AccessError::Invalid)?
            .claims;
        // Expired once `exp` plus the leeway is behind us, in whole seconds as the claim is.
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) < now / 1000 {
            return Err(AccessError::Expired);
        }
        Ok(claims)
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
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn tokens(secret: &str) -> AccessTokens {
        let secret: Secret = secret.parse().unwrap();
        AccessTokens::new(Signer::hs256(&secret), "iss", "aud", Duration::from_secs(60), Duration::ZERO)
    }

    const SUBJECT: Subject<'static> = Subject { user_id: "u1", username: "ann", role: "user", session_id: "s1" };
    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn verify(tokens: &AccessTokens, token: &str) -> Result<AccessClaims, AccessError> {
        futures::executor::block_on(tokens.verify(token, now()))
    }

    fn now() -> Millis {
        crate::clock::Clock::now(&crate::clock::SystemClock)
    }

    #[test]
    fn a_fresh_token_round_trips_with_all_claims() {
        let (token, expires_in) = tokens(KEY).issue(SUBJECT, now()).unwrap();
        let claims = verify(&tokens(KEY), &token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str(), claims.username.as_str()), ("u1", "s1", "ann"));
        assert_eq!(claims.role, "user");
        assert_eq!(expires_in, 60);
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let past = now() - 120_000;
        let (token, expires_in) = tokens(KEY).issue_until(SUBJECT, now(), past..past + 1000).unwrap();
        assert_eq!(expires_in, 0, "no lifetime left");
        assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Expired));
    }

    #[test]
    fn expiry_is_judged_by_the_given_now_with_the_leeway() {
        let secret: Secret = KEY.parse().unwrap();
        let tokens =
            AccessTokens::new(Signer::hs256(&secret), "iss", "aud", Duration::from_secs(60), Duration::from_secs(5));
        let issued = 1_000_000_000_000;
        let (token, _) = tokens.issue(SUBJECT, issued).unwrap();
        let at = |offset_ms: i64| futures::executor::block_on(tokens.verify(&token, issued + offset_ms));
        assert!(at(65_999).is_ok(), "within lifetime plus leeway");
        assert_eq!(at(66_000), Err(AccessError::Expired));
        // Far in the wall clock's past, yet valid by the clock it is judged with.
        assert!(at(0).is_ok());
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let (token, _) = tokens("another-key-another-key-another-key").issue(SUBJECT, now()).unwrap();
        assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Invalid));
    }

    #[test]
    fn alg_none_is_invalid() {
        let (token, _) = tokens(KEY).issue(SUBJECT, now()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        assert_eq!(verify(&tokens(KEY), &format!("{header}.{payload}.")), Err(AccessError::Invalid));
    }

    #[test]
    fn a_plain_jwt_without_the_access_typ_is_invalid() {
        let claims = verify(&tokens(KEY), &tokens(KEY).issue(SUBJECT, now()).unwrap().0).unwrap();
        let plain =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(KEY.as_bytes()))
                .unwrap();
        assert_eq!(verify(&tokens(KEY), &plain), Err(AccessError::Invalid));
    }

    #[test]
    fn a_token_with_a_crit_header_is_invalid_though_signed_by_us() {
        let claims = verify(&tokens(KEY), &tokens(KEY).issue(SUBJECT, now()).unwrap().0).unwrap();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let signed_with = |header: &[u8]| {
            use hmac::Mac as _;
            let signed = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header));
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
            mac.update(signed.as_bytes());
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
        };
        let plain = signed_with(br#"{"alg":"HS256","typ":"at+jwt"}"#);
        assert!(verify(&tokens(KEY), &plain).is_ok(), "the same token without crit verifies");
        let critical = signed_with(br#"{"alg":"HS256","typ":"at+jwt","crit":["exp"]}"#);
        assert_eq!(verify(&tokens(KEY), &critical), Err(AccessError::Invalid));
    }

    #[test]
    fn a_token_for_another_audience_is_invalid() {
        let secret: Secret = KEY.parse().unwrap();
        let other = AccessTokens::new(Signer::hs256(&secret), "iss", "other", Duration::from_secs(60), Duration::ZERO);
        let (token, _) = other.issue(SUBJECT, now()).unwrap();
        assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Invalid));
    }

    proptest::proptest! {
        /// Arbitrary text, and arbitrary dot-separated base64url segments (which reach the JSON and
        /// signature checks), never panic and never verify.
        #[test]
        fn any_presented_token_that_was_not_issued_is_refused(
            text in ".{0,300}",
            segments in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 1..5),
        ) {
            let tokens = tokens(KEY);
            proptest::prop_assert!(verify(&tokens, &text).is_err());
            proptest::prop_assert!(verify(&tokens, &segments.join(".")).is_err());
        }

        /// A header we signed ourselves with arbitrary JSON claims decodes without panicking, and
        /// passes only with the claims we require.
        #[test]
        fn signed_tokens_with_arbitrary_claims_never_panic(claims in proptest::collection::hash_map("[a-z]{1,5}", ".{0,10}", 0..6)) {
            let header = Header { typ: Some(ACCESS_TYP.to_owned()), ..Header::new(Algorithm::HS256) };
            let key = EncodingKey::from_secret(KEY.as_bytes());
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            proptest::prop_assert!(verify(&tokens(KEY), &token).is_err());
        }
    }
}
