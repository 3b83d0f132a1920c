use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use serde_json::{Value, json};

use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn es256_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn es256_jwk(key: &p256::ecdsa::SigningKey) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
}

fn es256_proof(key: &p256::ecdsa::SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn claims() -> Value {
    json!({"jti": "j1", "htm": "POST", "htu": "https://api.example/api/auth/refresh-token", "iat": 1_700_000_000})
}

#[test]
fn an_es256_proof_verifies_and_its_thumbprint_is_rfc_7638s() {
    let key = es256_key(7);
    let jwk = es256_jwk(&key);
    let proof = es256_proof(&key, &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}), &claims());
    let signed = verify_signature(&proof).unwrap();
    assert_eq!(signed.claims.htm, "POST");
    // The thumbprint over the required members in order, computed here independently.
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    assert_eq!(signed.jkt, b64(&Sha256::digest(canonical.as_bytes())));
    // Another key, another thumbprint.
    let other = es256_key(8);
    let proof = es256_proof(&other, &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es256_jwk(&other)}), &claims());
    assert_ne!(verify_signature(&proof).unwrap().jkt, signed.jkt);
}

#[test]
fn the_rfc_7638_example_key_has_the_rfc_7638_thumbprint() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    let key = PublicKey::from_jwk("RS256", &jwk).map_err(|e| e.to_string()).unwrap();
    assert_eq!(key.thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn an_eddsa_proof_verifies() {
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())});
    let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims().to_string().as_bytes()));
    let proof = format!("{input}.{}", b64(&key.sign(input.as_bytes()).to_bytes()));
    assert!(verify_signature(&proof).is_ok());
}

#[test]
fn hostile_proofs_are_refused_for_the_right_reason() {
    let key = es256_key(7);
    let jwk = es256_jwk(&key);
    let good = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let with = |change: &dyn Fn(&mut Value)| {
        let mut header = good.clone();
        change(&mut header);
        verify_signature(&es256_proof(&key, &header, &claims())).map(|_| ()).unwrap_err()
    };
    assert_eq!(with(&|h| h["typ"] = json!("JWT")), ProofError::Type);
    assert_eq!(with(&|h| h["typ"] = json!("dpop+jwt; x")), ProofError::Type);
    for same in ["DPoP+JWT", "application/dpop+jwt"] {
        let mut header = good.clone();
        header["typ"] = json!(same);
        assert!(verify_signature(&es256_proof(&key, &header, &claims())).is_ok(), "{same}");
    }
    assert_eq!(with(&|h| h.as_object_mut().unwrap().remove("typ").map_or((), |_| ())), ProofError::Type);
    assert_eq!(with(&|h| h["alg"] = json!("none")), ProofError::Algorithm);
    assert_eq!(with(&|h| h["alg"] = json!("HS256")), ProofError::Algorithm);
    assert_eq!(with(&|h| h["alg"] = json!("EdDSA")), ProofError::Key, "an EC key claimed as EdDSA");
    assert_eq!(with(&|h| h["jwk"]["d"] = json!(b64(&[7; 32]))), ProofError::PrivateKey);
    assert_eq!(with(&|h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})), ProofError::Key, "a symmetric key");
    assert_eq!(with(&|h| h["jwk"]["x"] = json!("AAAA")), ProofError::Key);
    assert_eq!(with(&|h| h["crit"] = json!(["exp"])), ProofError::Critical);
    assert!(matches!(with(&|h| h.as_object_mut().unwrap().remove("jwk").map_or((), |_| ())), ProofError::Malformed));

    // Signed by another key than the one in the header.
    let other = es256_key(9);
    assert_eq!(verify_signature(&es256_proof(&other, &good, &claims())).unwrap_err(), ProofError::Signature);
    // A claims part changed after signing.
    let proof = es256_proof(&key, &good, &claims());
    let mut parts: Vec<&str> = proof.split('.').collect();
    let tampered = b64(json!({"jti": "j2", "htm": "POST", "htu": "https://x/", "iat": 1}).to_string().as_bytes());
    parts[1] = &tampered;
    assert_eq!(verify_signature(&parts.join(".")).unwrap_err(), ProofError::Signature);
    // Claims missing.
    let no_jti = es256_proof(&key, &good, &json!({"htm": "POST", "htu": "https://x/", "iat": 1}));
    assert_eq!(verify_signature(&no_jti).unwrap_err(), ProofError::Claims);
    for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(MAX_PROOF_BYTES + 1)] {
        assert_eq!(verify_signature(garbage).unwrap_err(), ProofError::Malformed, "{garbage:.20}");
    }
}

#[test]
fn ath_is_the_base64url_sha_256_of_the_token() {
    // RFC 9449 §7.1's example token and its ath.
    assert_eq!(
        token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

proptest::proptest! {
    /// Any string: no panic, and nothing unsigned is ever accepted.
    #[test]
    fn any_proof_text_is_handled(text in ".{0,300}") {
        proptest::prop_assert!(verify_signature(&text).is_err());
    }
}
