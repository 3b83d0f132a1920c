//! Signing keys of each algorithm the ring can hold: generating one, reading one back from its row, and
//! publishing its public half as a JWK.
//!
//! Every private-key operation (signing) is done by `ring`, through jsonwebtoken. RSA keys are
//! *generated* with the pure-Rust `rsa` crate, because ring cannot generate them; that crate's open
//! timing advisory (RUSTSEC-2023-0071, the Marvin attack) concerns decryption and signing with a key
//! an attacker can query, which it never does here. See ARCHITECTURE.md.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use sha2::{Digest, Sha256};

use crate::clock::Millis;
use crate::store::KeyRow;

/// Bits of a generated RSA key.
const RSA_BITS: usize = 2048;

/// The asymmetric algorithms a key ring holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyAlgorithm {
    EdDsa,
    Es256,
    Rs256,
}

impl KeyAlgorithm {
    pub(crate) const ALL: [Self; 3] = [Self::EdDsa, Self::Es256, Self::Rs256];

    /// The JOSE name (`alg`), which is also what the `algorithm` column holds.
    pub(crate) fn jose(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub(crate) fn from_jose(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.jose() == name)
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    #[error("cannot generate a signing key")]
    Generate,
    #[error("signing key {kid} is unreadable")]
    Unreadable { kid: String },
}

/// One key, ready to sign and verify.
pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    /// The public parameters as stored: `x` (EdDSA), `x.y` (ES256) or `n.e` (RS256), base64url.
    public: String,
    pub(crate) activates_at: Millis,
    pub(crate) retires_at: Option<Millis>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub(crate) fn from_row(row: &KeyRow) -> Result<Self, MaterialError> {
        let unreadable = || MaterialError::Unreadable { kid: row.kid.clone() };
        let algorithm = KeyAlgorithm::from_jose(&row.algorithm).ok_or_else(unreadable)?;
        let der = STANDARD.decode(&row.private_key).map_err(|_| unreadable())?;
        let (first, second) = row.public_key.split_once('.').unwrap_or((&row.public_key, ""));
        let (encoding, decoding) = match algorithm {
            KeyAlgorithm::EdDsa => (EncodingKey::from_ed_der(&der), DecodingKey::from_ed_components(first)),
            KeyAlgorithm::Es256 => (EncodingKey::from_ec_der(&der), DecodingKey::from_ec_components(first, second)),
            KeyAlgorithm::Rs256 => (EncodingKey::from_rsa_der(&der), DecodingKey::from_rsa_components(first, second)),
        };
        Ok(Self {
            kid: row.kid.clone(),
            algorithm,
            encoding,
            decoding: decoding.map_err(|_| unreadable())?,
            public: row.public_key.clone(),
            activates_at: row.activates_at,
            retires_at: row.retires_at,
        })
    }

    /// Whether `row` is this key as it was read: same key pair and same times. A reload keeps such a key
    /// as it is (the same `Arc`), so what was verified with it stays verified (`access/verified.rs`);
    /// any change (a revocation sets `retires_at`) makes a new one.
    pub(crate) fn is_row(&self, row: &KeyRow) -> bool {
        self.kid == row.kid
            && self.algorithm.jose() == row.algorithm
            && self.public == row.public_key
            && self.activates_at == row.activates_at
            && self.retires_at == row.retires_at
    }

    pub(crate) fn valid_at(&self, now: Millis) -> bool {
        self.retires_at.is_none_or(|end| end > now)
    }

    /// The public half as a JWK (RFC 7517), with its `kid`, `alg` and `use`.
    pub(crate) fn jwk(&self) -> serde_json::Value {
        let mut jwk = public_members(self.algorithm, &self.public);
        jwk["kid"] = self.kid.clone().into();
        jwk["alg"] = self.algorithm.jose().into();
        jwk["use"] = "sig".into();
        jwk
    }
}

/// The members RFC 7638 hashes for a thumbprint, which are also the key's public JWK members.
fn public_members(algorithm: KeyAlgorithm, public: &str) -> serde_json::Value {
    let (first, second) = public.split_once('.').unwrap_or((public, ""));
    match algorithm {
        KeyAlgorithm::EdDsa => serde_json::json!({"crv": "Ed25519", "kty": "OKP", "x": first}),
        KeyAlgorithm::Es256 => serde_json::json!({"crv": "P-256", "kty": "EC", "x": first, "y": second}),
        KeyAlgorithm::Rs256 => serde_json::json!({"e": second, "kty": "RSA", "n": first}),
    }
}

/// A new key of `algorithm` that starts signing at `activates_at`. Its `kid` is its RFC 7638
/// thumbprint.
pub(crate) fn generate(algorithm: KeyAlgorithm, now: Millis, activates_at: Millis) -> Result<KeyRow, MaterialError> {
    let (private_der, public) = match algorithm {
        KeyAlgorithm::EdDsa => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| MaterialError::Generate)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| MaterialError::Generate)?;
            (pkcs8.as_ref().to_vec(), URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
        }
        KeyAlgorithm::Es256 => {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| MaterialError::Generate)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|_| MaterialError::Generate)?;
            // The uncompressed point: 0x04, then x and y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let (x, y) = point.get(1..).filter(|xy| xy.len() == 64).ok_or(MaterialError::Generate)?.split_at(32);
            (pkcs8.as_ref().to_vec(), format!("{}.{}", URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)))
        }
        KeyAlgorithm::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::traits::PublicKeyParts as _;
            let key =
                rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).map_err(|_| MaterialError::Generate)?;
            let der = key.to_pkcs1_der().map_err(|_| MaterialError::Generate)?;
            let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
            (der.as_bytes().to_vec(), format!("{}.{}", URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e)))
        }
    };
    let thumbprint = Sha256::digest(public_members(algorithm, &public).to_string().as_bytes());
    Ok(KeyRow {
        kid: URL_SAFE_NO_PAD.encode(thumbprint),
        algorithm: algorithm.jose().into(),
        private_key: STANDARD.encode(private_der),
        public_key: public,
        created_at: now,
        activates_at,
        retires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_key_that_signs_and_verifies_and_publishes_its_jwk() {
        for algorithm in KeyAlgorithm::ALL {
            let row = generate(algorithm, 0, 0).unwrap();
            let key = Key::from_row(&row).unwrap();
            let header = jsonwebtoken::Header::new(algorithm.jwt());
            let token = jsonwebtoken::encode(&header, &serde_json::json!({"sub": "a"}), &key.encoding).unwrap();
            let mut validation = jsonwebtoken::Validation::new(algorithm.jwt());
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation).unwrap();
            let jwk = key.jwk();
            assert_eq!(jwk["alg"], algorithm.jose());
            assert_eq!(jwk["kid"], row.kid);
            let expected_kty = match algorithm {
                KeyAlgorithm::EdDsa => "OKP",
                KeyAlgorithm::Es256 => "EC",
                KeyAlgorithm::Rs256 => "RSA",
            };
            assert_eq!(jwk["kty"], expected_kty);
        }
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint_of_the_published_members() {
        // RFC 8037 appendix A.3: the Ed25519 example key's thumbprint.
        let members = public_members(KeyAlgorithm::EdDsa, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string().as_bytes()));
        assert_eq!(thumbprint, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_row_of_an_unknown_algorithm_is_unreadable() {
        let mut row = generate(KeyAlgorithm::EdDsa, 0, 0).unwrap();
        row.algorithm = "HS256".into();
        assert!(matches!(Key::from_row(&row), Err(MaterialError::Unreadable { .. })));
    }
}
