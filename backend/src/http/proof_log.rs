//! Test builds only (the `e2e` feature): the DPoP proofs the server was sent, with what each was sent
//! for, so the browser suite can hand the browser client's real proofs to a third-party validator
//! (`tests/interop/validate_proofs.py`, requests-oauth2client's `validate_dpop_proof`).

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Json;
use axum::http::request::Parts;
use serde::Serialize;

/// How many proofs are kept, the latest last.
const KEPT: usize = 500;

static PROOFS: Mutex<VecDeque<Captured>> = Mutex::new(VecDeque::new());

/// One proof, and the request it came with.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Captured {
    proof: String,
    htm: String,
    htu: String,
    /// The access token sent with the `DPoP` scheme beside it, if any (its hash is the proof's `ath`).
    access_token: Option<String>,
}

/// Keeps `proof` as sent with the request `parts` describe.
pub(crate) fn record(parts: &Parts, proof: &str, host: Option<&str>) {
    let access_token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DPoP "))
        .map(|token| token.trim().to_owned());
    let captured = Captured {
        proof: proof.to_owned(),
        htm: parts.method.as_str().to_owned(),
        htu: format!("http://{}{}", host.unwrap_or_default(), parts.uri.path()),
        access_token,
    };
    let mut proofs = PROOFS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if proofs.len() == KEPT {
        proofs.pop_front();
    }
    proofs.push_back(captured);
}

/// `GET /api/test/dpop-proofs`: every proof kept.
pub(crate) async fn list() -> Json<Vec<Captured>> {
    Json(PROOFS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect())
}
