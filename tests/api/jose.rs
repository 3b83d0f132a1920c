//! Reading and verifying our tokens the way another service would: from the JWKS alone, with
//! implementations that share no code with the server's signer (ed25519-dalek, p256, rsa; the server
//! signs with ring).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use shared::paths;

use crate::helpers::eventually;

/// A token's decoded header.
pub(crate) fn header(token: &str) -> Value {
    part(token, 0)
}

/// A token's decoded claims.
pub(crate) fn claims(token: &str) -> Value {
    part(token, 1)
}

fn part(token: &str, index: usize) -> Value {
    let encoded = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

fn b64(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap()
}

/// Checks `token` with nothing but the JWKS document: the key named by `kid`, of the type its `alg`
/// says, and a signature check by an independent implementation of that algorithm.
pub(crate) fn verified_by_jwks(token: &str, jwks: &Value) -> bool {
    let head = header(token);
    let kid = head["kid"].as_str().unwrap_or_default();
    let Some(key) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid) else { return false };
    assert_eq!(key["alg"], head["alg"], "the key's alg is the token's");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else { return false };
    match head["alg"].as_str().unwrap() {
        "EdDSA" => {
            use ed25519_dalek::Verifier as _;
            assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
            let x: [u8; 32] = b64(&key["x"]).try_into().unwrap();
            let Ok(signature) = ed25519_dalek::Signature::from_slice(&signature) else { return false };
            ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap().verify(signed.as_bytes(), &signature).is_ok()
        }
        "ES256" => {
            use p256::ecdsa::signature::Verifier as _;
            assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("EC"), Some("P-256")));
            let (x, y) = (b64(&key["x"]), b64(&key["y"]));
            let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
            let verifying = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
            let Ok(signature) = p256::ecdsa::Signature::from_slice(&signature) else { return false };
            verifying.verify(signed.as_bytes(), &signature).is_ok()
        }
        "RS256" => {
            use rsa::signature::Verifier as _;
            assert_eq!(key["kty"].as_str(), Some("RSA"));
            let n = rsa::BigUint::from_bytes_be(&b64(&key["n"]));
            let e = rsa::BigUint::from_bytes_be(&b64(&key["e"]));
            let public = rsa::RsaPublicKey::new(n, e).unwrap();
            assert!(rsa::traits::PublicKeyParts::size(&public) >= 256, "RSA keys are 2048 bits or more");
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature.as_slice()) else { return false };
            verifier.verify(signed.as_bytes(), &signature).is_ok()
        }
        other => panic!("unexpected alg {other}"),
    }
}

/// The JWKS at `base`, with its `Cache-Control`.
pub(crate) async fn jwks(client: &reqwest::Client, base: &str) -> (Value, String) {
    let response = client.get(format!("{base}{}", paths::JWKS)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"].to_str().unwrap().to_owned();
    (response.json().await.unwrap(), cache)
}

/// Polls the JWKS at `base` until it lists `count` keys, for at most 15 s: another process's key
/// reaches a server on its next reload.
pub(crate) async fn jwks_with_keys(client: &reqwest::Client, base: &str, count: usize) -> Value {
    eventually(Duration::from_secs(15), &format!("a JWKS of {count} keys"), || async {
        let (document, _) = jwks(client, base).await;
        if document["keys"].as_array().unwrap().len() == count { Ok(document) } else { Err(document.to_string()) }
    })
    .await
}
