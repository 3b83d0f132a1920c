//! Proofs made ahead of the measurement, by the key file the client's session is bound to.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use sha2::{Digest, Sha256};

pub(crate) struct Signer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Signer {
    /// The PKCS#8 key `FileDpopKey` wrote.
    pub(crate) fn load(path: &std::path::Path) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = std::fs::read(path).expect("the key file");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).expect("a P-256 key");
        Self { pair, rng }
    }
}

/// The server's current nonce: every answer to a request with a `DPoP` header carries it.
pub(crate) async fn nonce(http: &reqwest::Client, base: &str) -> String {
    let response = http
        .get(format!("{}/api/health", base.trim_end_matches('/')))
        .header("DPoP", "x")
        .send()
        .await
        .expect("/api/health");
    response.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()).expect("a DPoP-Nonce").to_owned()
}

/// `count` proofs for `GET url` with `token`, each with its own `jti`.
pub(crate) fn make(signer: &Signer, url: &str, token: &str, nonce: &str, count: usize) -> Vec<String> {
    let point = signer.pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let header = URL_SAFE_NO_PAD.encode(serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}).to_string());
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (0..count)
        .map(|i| {
            let claims = serde_json::json!({
                "jti": format!("bench-{iat}-{i}"), "htm": "GET", "htu": url, "iat": iat, "ath": ath, "nonce": nonce,
            });
            let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let signature = signer.pair.sign(&signer.rng, input.as_bytes()).expect("signed");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        })
        .collect()
}
