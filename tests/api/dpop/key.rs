//! A DPoP client's key and proofs, made with p256 (the server verifies with ring), so a test can
//! send honest proofs and every kind of dishonest one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A P-256 key pair and the nonce the server last gave it.
pub(crate) struct DpopKey {
    key: p256::ecdsa::SigningKey,
    pub(crate) nonce: std::sync::Mutex<Option<String>>,
}

/// What a proof says, all of it changeable.
#[derive(Clone)]
pub(crate) struct Claims {
    pub(crate) htm: String,
    pub(crate) htu: String,
    pub(crate) iat: i64,
    pub(crate) jti: String,
    pub(crate) ath: Option<String>,
    pub(crate) nonce: Option<String>,
}

impl DpopKey {
    pub(crate) fn new() -> Self {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).unwrap();
        Self { key: p256::ecdsa::SigningKey::from_slice(&seed).unwrap(), nonce: std::sync::Mutex::new(None) }
    }

    pub(crate) fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
    }

    /// RFC 7638, computed here on its own.
    pub(crate) fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        b64(&Sha256::digest(canonical.as_bytes()))
    }

    /// Honest claims for `method` at `url`, bound to `access_token` when there is one.
    pub(crate) fn claims(&self, method: &str, url: &str, access_token: Option<&str>) -> Claims {
        Claims {
            htm: method.to_owned(),
            htu: url.to_owned(),
            iat: now_seconds(),
            jti: uuid::Uuid::new_v4().to_string(),
            ath: access_token.map(|token| b64(&Sha256::digest(token.as_bytes()))),
            nonce: self.nonce.lock().unwrap().clone(),
        }
    }

    /// A proof with `claims` under `header` (whose `jwk` defaults to this key's public half).
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &Claims) -> String {
        let mut body = json!({"htm": claims.htm, "htu": claims.htu, "iat": claims.iat, "jti": claims.jti});
        if let Some(ath) = &claims.ath {
            body["ath"] = json!(ath);
        }
        if let Some(nonce) = &claims.nonce {
            body["nonce"] = json!(nonce);
        }
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(body.to_string().as_bytes()));
        let signature: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }

    pub(crate) fn sign(&self, claims: &Claims) -> String {
        self.sign_with_header(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()}), claims)
    }

    pub(crate) fn proof(&self, method: &str, url: &str, access_token: Option<&str>) -> String {
        self.sign(&self.claims(method, url, access_token))
    }

    /// Sends what `build` makes with a fresh proof; on `use_dpop_nonce`, keeps the nonce and sends
    /// once more with a new proof, as RFC 9449 §8 asks of a client. Also returns how many requests
    /// that took.
    pub(crate) async fn send(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        build: impl Fn() -> RequestBuilder,
    ) -> Answer {
        let mut sent = 0;
        loop {
            let response = build().header("DPoP", self.proof(method, url, access_token)).send().await.expect("request");
            sent += 1;
            let answer = Answer::read(response, sent).await;
            if let Some(nonce) = answer.header("dpop-nonce") {
                *self.nonce.lock().unwrap() = Some(nonce);
            }
            if answer.body["error"] != "use_dpop_nonce" || sent == 2 {
                return answer;
            }
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
    /// Requests it took (2 after a nonce challenge).
    pub(crate) sent: u32,
}

impl Answer {
    pub(crate) async fn read(response: Response, sent: u32) -> Self {
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.json().await.unwrap_or(Value::Null);
        Self { status, headers, body, sent }
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    /// `data`, after checking the status.
    pub(crate) fn ok(&self) -> &Value {
        assert_eq!(self.status, reqwest::StatusCode::OK, "{}", self.body);
        &self.body["data"]
    }

    /// Checks status and error code.
    pub(crate) fn refused(&self, status: u16, code: &str) {
        assert_eq!((self.status.as_u16(), self.body["error"].as_str()), (status, Some(code)), "{}", self.body);
    }
}

pub(crate) fn now_seconds() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}
