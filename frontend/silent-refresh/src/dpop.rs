//! Sender-constrained tokens (DPoP, RFC 9449), feature `dpop`: every request the client sends carries
//! a fresh proof signed by a key the client holds, so a copied access or refresh token is useless
//! without it. The proof is assembled here; the key and the signature are a [`DpopSigner`]'s (a
//! non-extractable WebCrypto key in the browser, a file-stored key natively).
#![allow(async_fn_in_trait)]

use std::cell::{Cell, RefCell};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use crate::http::{Request, Response};

/// A P-256 public key as a JWK (`kty: EC`, `crv: P-256`): the coordinates, base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// `x`, base64url without padding.
    pub x: String,
    /// `y`, base64url without padding.
    pub y: String,
}

impl PublicJwk {
    /// The key as the proof header's `jwk`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The RFC 7638 thumbprint, which a bound token names in `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, self.x, self.y);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// Why a proof could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopError(pub String);

impl std::fmt::Display for DpopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot make a DPoP proof: {}", self.0)
    }
}

impl std::error::Error for DpopError {}

/// The key that signs proofs: ES256 (ECDSA over P-256 with SHA-256).
pub trait DpopSigner {
    /// The public half.
    fn public_jwk(&self) -> PublicJwk;
    /// The signature of `input`: `r` and `s`, 32 bytes each (JWS's form, and WebCrypto's).
    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, DpopError>;
    /// A value never used before by this key, in any tab or process (the proof's `jti`).
    fn unique_id(&self) -> String;
}

/// [`DpopSigner`] as the client holds it.
pub(crate) trait DynSigner {
    fn public_jwk(&self) -> PublicJwk;
    fn sign_dyn<'a>(&'a self, input: &'a [u8]) -> LocalBoxFuture<'a, Result<Vec<u8>, DpopError>>;
    fn unique_id(&self) -> String;
}

impl<S: DpopSigner> DynSigner for S {
    fn public_jwk(&self) -> PublicJwk {
        DpopSigner::public_jwk(self)
    }
    fn sign_dyn<'a>(&'a self, input: &'a [u8]) -> LocalBoxFuture<'a, Result<Vec<u8>, DpopError>> {
        Box::pin(self.sign(input))
    }
    fn unique_id(&self) -> String {
        DpopSigner::unique_id(self)
    }
}

/// A client's DPoP state: the signer, where relative paths point, and the server's latest nonce.
pub(crate) struct Dpop {
    signer: Box<dyn DynSigner>,
    /// Joined to a request's path when it is not absolute, for `htu`.
    base_url: String,
    jwk: serde_json::Value,
    nonce: RefCell<Option<String>>,
    /// The server's clock minus this device's, learned from answers' `Date` (0 until it is off by more
    /// than [`SKEW_TOLERATED_MS`]): a proof's `iat` is on the server's clock, so a device whose clock is
    /// minutes off still makes proofs the server takes for fresh.
    offset_ms: Cell<i64>,
}

/// A `Date` has whole seconds, and servers accept a little skew: smaller differences are left alone.
const SKEW_TOLERATED_MS: i64 = 5_000;

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Dpop {
    pub(crate) fn new(signer: Box<dyn DynSigner>, base_url: &str) -> Self {
        let jwk = signer.public_jwk().to_json();
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self { signer, base_url, jwk, nonce: RefCell::new(None), offset_ms: Cell::new(0) }
    }

    /// The key's thumbprint.
    pub(crate) fn thumbprint(&self) -> String {
        self.signer.public_jwk().thumbprint()
    }

    /// A fresh proof for `request`, bound to `access_token` when one is sent (`ath`), with the latest
    /// nonce.
    pub(crate) async fn proof(
        &self,
        request: &Request,
        access_token: Option<&str>,
        now_ms: i64,
    ) -> Result<String, DpopError> {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = serde_json::json!({
            "jti": self.signer.unique_id(),
            "htm": request.method.as_str(),
            "htu": self.target_uri(&request.path),
            "iat": now_ms.saturating_add(self.offset_ms.get()).div_euclid(1000),
        });
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())).into();
        }
        if let Some(nonce) = self.nonce.borrow().clone() {
            claims["nonce"] = nonce.into();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        );
        let signature = self.signer.sign_dyn(input.as_bytes()).await?;
        if signature.len() != 64 {
            return Err(DpopError(format!("an ES256 signature is 64 bytes, not {}", signature.len())));
        }
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Keeps the answer's `DPoP-Nonce` and what its `Date` says of this device's clock (`now_ms`,
    /// when the answer arrived). True when one retry can succeed where this attempt failed: the answer
    /// asked for a nonce (`use_dpop_nonce`) and gave a new one (RFC 9449 §8: never retry with the same
    /// nonce), or refused the proof while the clock offset just learned says its `iat` was off.
    pub(crate) fn observe(&self, response: &Response, now_ms: i64) -> bool {
        let clock_corrected = self.learn_offset(response, now_ms) && refuses_proof(response);
        let Some(fresh) = response.header_value("dpop-nonce").map(str::trim).filter(|n| !n.is_empty()) else {
            return clock_corrected;
        };
        let changed = self.nonce.borrow().as_deref() != Some(fresh);
        *self.nonce.borrow_mut() = Some(fresh.to_owned());
        (changed && asks_for_nonce(response)) || clock_corrected
    }

    /// Updates the offset from the answer's `Date`; true when it moved by more than the tolerance.
    fn learn_offset(&self, response: &Response, now_ms: i64) -> bool {
        let Some(server_ms) = response.header_value("date").and_then(http_date_ms) else { return false };
        // The answer left the server up to a second before `Date` would say (whole seconds), so the
        // difference is only acted on beyond the tolerance.
        let offset = server_ms - now_ms;
        let offset = if offset.abs() > SKEW_TOLERATED_MS { offset } else { 0 };
        let moved = (offset - self.offset_ms.get()).abs() > SKEW_TOLERATED_MS;
        self.offset_ms.set(offset);
        moved
    }

    /// `htu`: the absolute URL without query or fragment.
    fn target_uri(&self, path: &str) -> String {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }
}

/// A refused proof: `invalid_dpop_proof` in the challenge or the body.
fn refuses_proof(response: &Response) -> bool {
    if !(400..500).contains(&response.status) {
        return false;
    }
    let challenged = response.header_value("www-authenticate").is_some_and(|v| v.contains("invalid_dpop_proof"));
    challenged || response.json::<serde_json::Value>().is_ok_and(|body| body["error"] == "invalid_dpop_proof")
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) in Unix milliseconds.
fn http_date_ms(value: &str) -> Option<i64> {
    let mut parts = value.split_whitespace().skip(1);
    let day: i64 = parts.next()?.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| Some(*m) == parts.clone().next())?;
    parts.next();
    let year: i64 = parts.next()?.parse().ok()?;
    let mut time = parts.next()?.split(':').map(|n| n.parse::<i64>().ok());
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    if parts.next() != Some("GMT") || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), month counted from March.
    let month = i64::try_from(month).ok()? + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// A nonce challenge: `WWW-Authenticate: DPoP error="use_dpop_nonce"` from a resource, or
/// `"error": "use_dpop_nonce"` in the body from a token endpoint (RFC 9449 §8, §9).
fn asks_for_nonce(response: &Response) -> bool {
    if !(400..500).contains(&response.status) {
        return false;
    }
    let challenged = response.header_value("www-authenticate").is_some_and(|value| value.contains("use_dpop_nonce"));
    challenged || response.json::<serde_json::Value>().is_ok_and(|body| body["error"] == "use_dpop_nonce")
}

#[cfg(test)]
mod tests;
