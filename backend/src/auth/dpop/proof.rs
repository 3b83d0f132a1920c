//! One DPoP proof (RFC 9449 §4): a JWS whose header carries the client's public key, checked the
//! way §4.3 lists. Everything here is stateless; the `jti` and the nonce are the caller's to judge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub(crate) use crate::auth::error::ProofError;

/// The proof algorithms accepted, as `dpop_signing_alg_values_supported` lists them: asymmetric only.
pub(crate) const ALGORITHMS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];

/// The longest proof read: a 4096-bit RSA key and the claims fit in a quarter of it.
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The public key of a proof, as sent (`jwk`).
#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    /// Any private member (`d`, or RSA's `p`, `q`, `dp`, `dq`, `qi`, `oth`) refuses the proof.
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Header {
    typ: Option<String>,
    alg: String,
    jwk: Jwk,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// The claims of a proof this server reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProofClaims {
    pub(crate) jti: String,
    pub(crate) htm: String,
    pub(crate) htu: String,
    pub(crate) iat: i64,
    #[serde(default)]
    pub(crate) ath: Option<String>,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
}

/// A proof whose signature verified with its own key: the claims, and the key's RFC 7638 thumbprint.
#[derive(Debug, Clone)]
pub(crate) struct SignedProof {
    pub(crate) claims: ProofClaims,
    pub(crate) jkt: String,
}

/// Checks the shape, `typ`, `alg`, key and signature of `proof` (§4.3 steps 2 to 7). The claims'
/// meaning (method, URL, time, nonce, token hash, replay) is the caller's.
pub(crate) fn verify_signature(proof: &str) -> Result<SignedProof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header: Header = decode_json(header_b64)?;
    // A media type: compared without case, and `application/` may be left out (RFC 7515 §4.1.9).
    let typ = header.typ.as_deref().map(|typ| typ.to_ascii_lowercase());
    if !matches!(typ.as_deref(), Some("dpop+jwt" | "application/dpop+jwt")) {
        return Err(ProofError::Type);
    }
    if header.crit.is_some() {
        return Err(ProofError::Critical);
    }
    let key = PublicKey::from_jwk(&header.alg, &header.jwk)?;
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| ProofError::Malformed)?;
    let signed = &proof.as_bytes()[..header_b64.len() + 1 + claims_b64.len()];
    UnparsedPublicKey::new(key.algorithm, &key.bytes).verify(signed, &signature).map_err(|_| ProofError::Signature)?;
    let claims: ProofClaims = decode_json(claims_b64).map_err(|_| ProofError::Claims)?;
    if claims.jti.is_empty() || claims.jti.len() > 256 || claims.htm.is_empty() || claims.htu.is_empty() {
        return Err(ProofError::Claims);
    }
    Ok(SignedProof { claims, jkt: key.thumbprint })
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (§4.2).
pub(crate) fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, ProofError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ProofError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)
}

/// A proof's key in the form ring verifies with, and its thumbprint.
struct PublicKey {
    algorithm: &'static dyn VerificationAlgorithm,
    bytes: Vec<u8>,
    thumbprint: String,
}

impl PublicKey {
    fn from_jwk(alg: &str, jwk: &Jwk) -> Result<Self, ProofError> {
        const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];
        if jwk.rest.keys().any(|member| PRIVATE.contains(&member.as_str()) || member == "oth") {
            return Err(ProofError::PrivateKey);
        }
        let member = |value: &Option<String>| -> Result<Vec<u8>, ProofError> {
            URL_SAFE_NO_PAD.decode(value.as_deref().ok_or(ProofError::Key)?).map_err(|_| ProofError::Key)
        };
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        match (alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("ES256", "EC", Some("P-256")) => {
                let (x, y) = (member(&jwk.x)?, member(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(ProofError::Key);
                }
                let bytes = [&[4u8][..], &x, &y].concat();
                let thumbprint =
                    thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &text(&jwk.x)), ("y", &text(&jwk.y))]);
                Ok(Self { algorithm: &signature::ECDSA_P256_SHA256_FIXED, bytes, thumbprint })
            }
            ("EdDSA", "OKP", Some("Ed25519")) => {
                let x = member(&jwk.x)?;
                if x.len() != 32 {
                    return Err(ProofError::Key);
                }
                let thumbprint = thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &text(&jwk.x))]);
                Ok(Self { algorithm: &signature::ED25519, bytes: x, thumbprint })
            }
            ("RS256" | "PS256", "RSA", _) => {
                let (n, e) = (member(&jwk.n)?, member(&jwk.e)?);
                let bytes = rsa_public_key_der(&n, &e).ok_or(ProofError::Key)?;
                let algorithm: &'static dyn VerificationAlgorithm = if alg == "RS256" {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                let thumbprint = thumbprint(&[("e", &text(&jwk.e)), ("kty", "RSA"), ("n", &text(&jwk.n))]);
                Ok(Self { algorithm, bytes, thumbprint })
            }
            (alg, _, _) if ALGORITHMS.contains(&alg) => Err(ProofError::Key),
            _ => Err(ProofError::Algorithm),
        }
    }
}

/// RFC 7638: SHA-256 of the required members, in lexicographic order, with no white space.
fn thumbprint(members: &[(&str, &str)]) -> String {
    let body: Vec<String> =
        members.iter().map(|(name, value)| format!("\"{name}\":{}", serde_json::Value::from(*value))).collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{{{}}}", body.join(",")).as_bytes()))
}

/// The DER `RSAPublicKey` (PKCS#1) ring verifies with, from the modulus and exponent.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let integer = |bytes: &[u8]| -> Option<Vec<u8>> {
        let bytes = match bytes.iter().position(|&b| b != 0) {
            Some(start) => &bytes[start..],
            None => return None,
        };
        let mut content = Vec::with_capacity(bytes.len() + 1);
        if bytes[0] & 0x80 != 0 {
            content.push(0);
        }
        content.extend_from_slice(bytes);
        Some(der(0x02, &content))
    };
    let sequence = [integer(n)?, integer(e)?].concat();
    Some(der(0x30, &sequence))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | u8::try_from(bytes.len() - start).unwrap_or(0));
        out.extend_from_slice(&bytes[start..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests;
