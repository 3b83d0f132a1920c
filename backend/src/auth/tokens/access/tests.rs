//! Issuing and verifying access tokens, including hostile ones.

use super::verified::{Verified, VerifiedTokens};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn policy(audience: &str, leeway: Duration) -> TokenPolicy {
    TokenPolicy {
        issuer: "iss".into(),
        previous_issuer: None,
        audience: audience.into(),
        default_client_id: "spa".into(),
        known_client_ids: vec!["mobile".into()],
        ttl: Duration::from_secs(60),
        leeway,
    }
}

fn tokens(secret: &str) -> AccessTokens {
    let secret: Secret = secret.parse().unwrap();
    AccessTokens::new(Signer::hs256(&secret), policy("aud", Duration::ZERO))
}

const SUBJECT: Subject<'static> = Subject {
    user_id: "u1",
    username: "ann",
    role: "user",
    session_id: "s1",
    client_id: None,
    auth_time: 1_700_000_000_000,
    amr: "pwd",
    dpop_jkt: None,
};
const KEY: &str = "0123456789abcdef0123456789abcdef";

fn verify(tokens: &AccessTokens, token: &str) -> Result<AccessClaims, AccessError> {
    futures::executor::block_on(tokens.verify(token, now()))
}

fn now() -> Millis {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

#[test]
fn a_fresh_token_round_trips_with_all_claims() {
    let (token, expires_in) = tokens(KEY).issue(&SigningKey(None), SUBJECT, now()).unwrap();
    let claims = verify(&tokens(KEY), &token).unwrap();
    assert_eq!((claims.sub.as_str(), claims.sid.as_str(), claims.username.as_str()), ("u1", "s1", "ann"));
    assert_eq!(claims.role, "user");
    assert_eq!(claims.client_id, "spa", "the default client when the session named none");
    assert_eq!(expires_in, 60);
}

#[test]
fn an_expired_token_is_reported_as_expired() {
    let past = now() - 120_000;
    let (token, expires_in) = tokens(KEY).sign(&SigningKey(None), SUBJECT, now(), past..past + 1000).unwrap();
    assert_eq!(expires_in, 0, "no lifetime left");
    assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Expired));
}

#[test]
fn expiry_is_judged_by_the_given_now_with_the_leeway() {
    let secret: Secret = KEY.parse().unwrap();
    let tokens = AccessTokens::new(Signer::hs256(&secret), policy("aud", Duration::from_secs(5)));
    let issued = 1_000_000_000_000;
    let (token, _) = tokens.issue(&SigningKey(None), SUBJECT, issued).unwrap();
    let at = |offset_ms: i64| futures::executor::block_on(tokens.verify(&token, issued + offset_ms));
    assert!(at(65_999).is_ok(), "within lifetime plus leeway");
    assert_eq!(at(66_000), Err(AccessError::Expired));
    // Far in the wall clock's past, yet valid by the clock it is judged with.
    assert!(at(0).is_ok());
}

#[test]
fn a_token_signed_with_another_key_is_invalid() {
    let (token, _) = tokens("another-key-another-key-another-key").issue(&SigningKey(None), SUBJECT, now()).unwrap();
    assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Invalid));
}

#[test]
fn alg_none_is_invalid() {
    let (token, _) = tokens(KEY).issue(&SigningKey(None), SUBJECT, now()).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    assert_eq!(verify(&tokens(KEY), &format!("{header}.{payload}.")), Err(AccessError::Invalid));
}

#[test]
fn a_plain_jwt_without_the_access_typ_is_invalid() {
    let claims = verify(&tokens(KEY), &tokens(KEY).issue(&SigningKey(None), SUBJECT, now()).unwrap().0).unwrap();
    let plain =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(KEY.as_bytes()))
            .unwrap();
    assert_eq!(verify(&tokens(KEY), &plain), Err(AccessError::Invalid));
}

#[test]
fn a_token_with_a_crit_header_is_invalid_though_signed_by_us() {
    let claims = verify(&tokens(KEY), &tokens(KEY).issue(&SigningKey(None), SUBJECT, now()).unwrap().0).unwrap();
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
    let other = AccessTokens::new(Signer::hs256(&secret), policy("other", Duration::ZERO));
    let (token, _) = other.issue(&SigningKey(None), SUBJECT, now()).unwrap();
    assert_eq!(verify(&tokens(KEY), &token), Err(AccessError::Invalid));
}

/// What the cache of verified tokens (`verified.rs`) may skip, and what it must not.
#[test]
fn a_token_verified_before_still_expires_and_a_changed_byte_still_fails() {
    let tokens = tokens(KEY);
    let issued = now();
    let (token, _) = tokens.issue(&SigningKey(None), SUBJECT, issued).unwrap();
    let at = |token: &str, time: Millis| futures::executor::block_on(tokens.verify(token, time));
    assert!(at(&token, issued).is_ok());
    assert_eq!(tokens.verified.len(), 1, "remembered");
    assert!(at(&token, issued + 1).is_ok(), "from the cache");
    assert_eq!(at(&token, issued + 61_000), Err(AccessError::Expired), "exp is checked on every use");

    assert_eq!(at(&forged_signature(&token), issued), Err(AccessError::Invalid));
    let (head, signature) = token.rsplit_once('.').unwrap();
    let (_, payload) = head.split_once('.').unwrap();
    let claims_swapped = format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#));
    assert_eq!(at(&claims_swapped, issued), Err(AccessError::Invalid));
    assert_eq!(tokens.verified.len(), 1, "nothing that failed is remembered");
}

/// The token with the first character of its signature changed (all six of its bits count).
fn forged_signature(token: &str) -> String {
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{head}.{flipped}{}", &signature[1..])
}

#[test]
fn a_previous_issuers_token_verified_before_is_refused_from_the_issuers_end() {
    let secret: Secret = KEY.parse().unwrap();
    let old = AccessTokens::new(
        Signer::hs256(&secret),
        TokenPolicy { issuer: "old".into(), ..policy("aud", Duration::ZERO) },
    );
    let until = now() + 10_000;
    let previous = Some(PreviousIssuer { issuer: "old".into(), until });
    let current = AccessTokens::new(
        Signer::hs256(&secret),
        TokenPolicy { previous_issuer: previous, ..policy("aud", Duration::ZERO) },
    );
    let (token, _) = old.issue(&SigningKey(None), SUBJECT, now()).unwrap();
    let at = |time: Millis| futures::executor::block_on(current.verify(&token, time));
    assert!(at(until - 1).is_ok());
    assert_eq!(at(until), Err(AccessError::Invalid));
}

#[test]
fn the_verified_tokens_stay_bounded_and_expired_ones_go_first() {
    let claims = verify(&tokens(KEY), &tokens(KEY).issue(&SigningKey(None), SUBJECT, now()).unwrap().0).unwrap();
    let with_exp = |exp| Verified { claims: AccessClaims { exp, ..claims.clone() }, key: None };
    // Eight shards of two; the first byte picks the shard.
    let cache = VerifiedTokens::new(16);
    let in_shard_0 = |n: u8| {
        let mut digest = [0; 32];
        digest[1] = n;
        digest
    };
    cache.insert(in_shard_0(1), with_exp(100), 50, 0);
    cache.insert(in_shard_0(2), with_exp(10), 50, 0);
    cache.insert(in_shard_0(3), with_exp(100), 50, 0);
    assert!(cache.get(&in_shard_0(1), |_| true).is_some(), "a live token stays while an expired one can go");
    assert!(cache.get(&in_shard_0(2), |_| true).is_none());
    assert!(cache.get(&in_shard_0(3), |_| true).is_some());
    cache.insert(in_shard_0(4), with_exp(100), 50, 0);
    assert_eq!(cache.len(), 1, "a shard full of live tokens is emptied, not grown");

    for n in 0..=255u8 {
        for m in 0..8u8 {
            let mut digest = [n; 32];
            digest[1] = m;
            cache.insert(digest, with_exp(100), 50, 0);
        }
    }
    assert!(cache.len() <= 16, "{} held", cache.len());
}

#[test]
fn threads_verifying_at_once_through_a_small_cache_get_every_answer_right() {
    let tokens = AccessTokens { verified: Arc::new(VerifiedTokens::new(4)), ..tokens(KEY) };
    let issued = now();
    let good: Vec<String> = (0..32).map(|_| tokens.issue(&SigningKey(None), SUBJECT, issued).unwrap().0).collect();
    let forged: Vec<String> = good.iter().map(|t| forged_signature(t)).collect();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (tokens, good, forged) = (&tokens, &good, &forged);
            scope.spawn(move || {
                for round in 0..200 {
                    let i = (round * 7 + thread) % good.len();
                    let verify = |token: &str| futures::executor::block_on(tokens.verify(token, issued));
                    assert!(verify(&good[i]).is_ok());
                    assert_eq!(verify(&forged[i]), Err(AccessError::Invalid));
                }
            });
        }
    });
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
