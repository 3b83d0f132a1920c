use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};

use super::*;

/// A signer on p256, which the native and browser signers do not use.
struct P256Signer(p256::ecdsa::SigningKey, std::cell::Cell<u32>);

impl P256Signer {
    fn new() -> Self {
        Self(p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap(), std::cell::Cell::new(0))
    }
}

impl DpopSigner for P256Signer {
    fn public_jwk(&self) -> PublicJwk {
        let point = self.0.verifying_key().to_encoded_point(false);
        PublicJwk { x: URL_SAFE_NO_PAD.encode(point.x().unwrap()), y: URL_SAFE_NO_PAD.encode(point.y().unwrap()) }
    }
    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, DpopError> {
        let signature: p256::ecdsa::Signature = self.0.sign(input);
        Ok(signature.to_bytes().to_vec())
    }
    fn unique_id(&self) -> String {
        self.1.set(self.1.get() + 1);
        format!("id-{}", self.1.get())
    }
}

fn decode(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
    let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    Response { status, headers, body: body.as_bytes().to_vec() }
}

fn dpop() -> Dpop {
    Dpop::new(Box::new(P256Signer::new()), "https://api.example/")
}

#[test]
fn a_proof_is_signed_by_the_key_in_its_header_and_names_the_request() {
    let dpop = dpop();
    let request = Request::get("/api/me?page=2");
    let proof = futures::executor::block_on(dpop.proof(&request, Some("the-token"), 1_700_000_000_999)).unwrap();
    let parts: Vec<&str> = proof.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["jwk"].get("d").is_none(), "only the public key");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://api.example/api/me", "absolute, without the query");
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(claims["ath"], URL_SAFE_NO_PAD.encode(Sha256::digest(b"the-token")));
    assert!(claims.get("nonce").is_none());
    // Verified with the key from the header alone.
    let x = URL_SAFE_NO_PAD.decode(header["jwk"]["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(header["jwk"]["y"].as_str().unwrap()).unwrap();
    let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
    let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).unwrap();
    // Every proof is new.
    let again = futures::executor::block_on(dpop.proof(&request, Some("the-token"), 1_700_000_000_999)).unwrap();
    assert_ne!(decode(again.split('.').nth(1).unwrap())["jti"], claims["jti"]);
}

#[test]
fn a_nonce_challenge_is_retried_only_with_a_new_nonce_and_every_nonce_is_kept() {
    let dpop = dpop();
    let challenge = |nonce: &str| {
        answer(401, "", &[("WWW-Authenticate", r#"DPoP error="use_dpop_nonce", algs="ES256""#), ("DPoP-Nonce", nonce)])
    };
    assert!(dpop.observe(&challenge("n1"), 0), "a new nonce: retry");
    assert!(!dpop.observe(&challenge("n1"), 0), "the same nonce again: no retry");
    let token_endpoint = answer(400, r#"{"error":"use_dpop_nonce"}"#, &[("DPoP-Nonce", "n2")]);
    assert!(dpop.observe(&token_endpoint, 0));
    // An ordinary answer's nonce is kept for the next proof, and asks for no retry.
    assert!(!dpop.observe(&answer(200, "{}", &[("DPoP-Nonce", "n3")]), 0));
    let proof = futures::executor::block_on(dpop.proof(&Request::post("/api/auth/refresh-token"), None, 0)).unwrap();
    let claims = decode(proof.split('.').nth(1).unwrap());
    assert_eq!(claims["nonce"], "n3");
    assert!(claims.get("ath").is_none(), "no token, no ath");
    // Another refusal is no nonce challenge, whatever header comes with it.
    let refused = answer(401, "", &[("WWW-Authenticate", r#"DPoP error="invalid_dpop_proof""#), ("DPoP-Nonce", "n4")]);
    assert!(!dpop.observe(&refused, 0));
}

#[test]
fn the_thumbprint_is_rfc_7638s() {
    let jwk = DpopSigner::public_jwk(&P256Signer::new());
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, jwk.x, jwk.y);
    assert_eq!(jwk.thumbprint(), URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())));
}

#[test]
fn dates_are_read_as_rfc_9110_writes_them() {
    assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(http_date_ms("Tue, 29 Feb 2028 23:59:59 GMT"), Some(1_835_481_599_000));
    for bad in [
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
    ] {
        assert_eq!(http_date_ms(bad), None, "{bad}");
    }
}

#[test]
fn a_device_clock_minutes_off_is_corrected_from_the_servers_date_and_the_refused_proof_retried() {
    let skewed = dpop();
    let device_now = 784_111_777_000 - 300_000; // five minutes behind the server
    let refused = answer(
        400,
        r#"{"error":"invalid_dpop_proof"}"#,
        &[("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("DPoP-Nonce", "n1")],
    );
    assert!(skewed.observe(&refused, device_now), "a stale proof, and now the offset is known: retry");
    let proof = futures::executor::block_on(skewed.proof(&Request::post("/api/auth/login"), None, device_now)).unwrap();
    assert_eq!(decode(proof.split('.').nth(1).unwrap())["iat"], 784_111_777, "iat on the server's clock");
    // The same refusal again learns nothing new: no second retry.
    assert!(!skewed.observe(&refused, device_now));
    // A clock within the tolerance is left alone.
    let close = dpop();
    let ok = answer(200, "{}", &[("Date", "Sun, 06 Nov 1994 08:49:37 GMT")]);
    assert!(!close.observe(&ok, 784_111_777_000 - 3_000));
    let proof = futures::executor::block_on(close.proof(&Request::get("/x"), None, 784_111_774_000)).unwrap();
    assert_eq!(decode(proof.split('.').nth(1).unwrap())["iat"], 784_111_774);
}
