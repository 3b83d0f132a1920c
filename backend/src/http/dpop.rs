//! DPoP on the wire (RFC 9449): the `DPoP` request header, the `Authorization: DPoP` scheme, and the
//! rule that a bound token travels only with a proof made by its key.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;

use crate::auth::dpop::{Endpoint, ProofError, RequestTarget};
use crate::auth::error::{AuthError, DpopAt};
use crate::auth::tokens::access::AccessClaims;
use crate::http::error::{ApiError, DPOP};
use crate::http::state::AppState;

/// The request's DPoP proof, if it sent one, and what a proof must name of the request.
#[derive(Debug)]
pub(crate) struct DpopProof {
    proof: Option<String>,
    method: String,
    host: Option<String>,
    path: String,
}

impl DpopProof {
    pub(crate) fn proof(&self) -> Option<&str> {
        self.proof.as_deref()
    }

    pub(crate) fn target(&self) -> RequestTarget<'_> {
        RequestTarget { method: &self.method, host: self.host.as_deref(), path: &self.path }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DpopProof {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::read(parts, DpopAt::Token)
    }
}

impl DpopProof {
    fn read(parts: &Parts, at: DpopAt) -> Result<Self, ApiError> {
        let mut headers = parts.headers.get_all(DPOP).iter();
        let proof = match (headers.next(), headers.next()) {
            (None, _) => None,
            (Some(value), None) => {
                let value = value.to_str().map_err(|_| AuthError::DpopProof { error: ProofError::Malformed, at })?;
                Some(value.trim().to_owned())
            }
            (Some(_), Some(_)) => return Err(AuthError::DpopProof { error: ProofError::Several, at }.into()),
        };
        // HTTP/2 sends the authority as `:authority`, which hyper keeps in the URI rather than `Host`.
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()));
        #[cfg(feature = "e2e")]
        if let Some(proof) = &proof {
            crate::http::proof_log::record(parts, proof, host.as_deref());
        }
        Ok(Self { proof, method: parts.method.as_str().to_owned(), host, path: parts.uri.path().to_owned() })
    }
}

/// How the access token was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// The access token of the `Authorization` header and its scheme (`Bearer` or `DPoP`, either
/// case-insensitive, RFC 7235).
pub(crate) fn access_token(parts: &Parts) -> Result<(Scheme, &str), ApiError> {
    let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
    let header = headers.next().ok_or(ApiError::MissingToken)?;
    if headers.next().is_some() {
        return Err(ApiError::Validation("the request has more than one Authorization header".into()));
    }
    let value = header.to_str().map_err(|_| ApiError::invalid_token())?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(ApiError::MissingToken);
    };
    match token.trim() {
        "" => Err(ApiError::invalid_token()),
        token => Ok((scheme, token)),
    }
}

/// A verified token sent the way its binding asks: a bound one with the DPoP scheme and a fresh proof
/// by its key (checked for this request, with `ath` of this token), an unbound one as a Bearer token.
pub(crate) fn check_binding(
    parts: &Parts,
    state: &AppState,
    scheme: Scheme,
    token: &str,
    claims: &AccessClaims,
) -> Result<(), ApiError> {
    let Some(cnf) = &claims.cnf else {
        return if scheme == Scheme::Dpop { Err(AuthError::NotDpopBound.into()) } else { Ok(()) };
    };
    if scheme != Scheme::Dpop {
        return Err(AuthError::DpopBoundToken.into());
    }
    let request = DpopProof::read(parts, DpopAt::Resource)?;
    let at = DpopAt::Resource;
    let proof = request.proof().ok_or(AuthError::DpopProof { error: ProofError::Missing, at })?;
    let auth = &state.auth;
    let endpoint = Endpoint::Resource { access_token: token, jkt: &cnf.jkt };
    auth.dpop.check(auth.now(), proof, &request.target(), endpoint)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(header: &[u8]) -> Option<Parts> {
        let value = axum::http::HeaderValue::from_bytes(header).ok()?;
        Some(Request::builder().header(AUTHORIZATION, value).body(()).ok()?.into_parts().0)
    }

    #[test]
    fn tokens_are_read_with_their_scheme_and_malformed_headers_refused() {
        assert_eq!(access_token(&parts(b"Bearer abc").unwrap()).unwrap(), (Scheme::Bearer, "abc"));
        assert_eq!(access_token(&parts(b"bEaReR   abc  ").unwrap()).unwrap(), (Scheme::Bearer, "abc"));
        assert_eq!(access_token(&parts(b"DPoP abc").unwrap()).unwrap(), (Scheme::Dpop, "abc"));
        assert_eq!(access_token(&parts(b"dpop abc").unwrap()).unwrap(), (Scheme::Dpop, "abc"));
        for bad in [&b"Bearer"[..], b"Bearer ", b"DPoP", b"Basic abc", b"abc", b"", b"Bearer \xff"] {
            assert!(access_token(&parts(bad).unwrap()).is_err(), "{bad:?}");
        }
        let mut twice = parts(b"Bearer abc").unwrap();
        twice.headers.append(AUTHORIZATION, axum::http::HeaderValue::from_static("DPoP def"));
        assert!(matches!(access_token(&twice), Err(ApiError::Validation(_))), "both schemes at once");
    }

    #[test]
    fn two_proofs_are_refused_and_the_target_is_read() {
        let request = Request::builder()
            .method("POST")
            .uri("/api/me?x=1")
            .header(HOST, "api.example")
            .header("dpop", "a.b.c")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        let read = DpopProof::read(&parts, DpopAt::Token).unwrap();
        assert_eq!(read.proof(), Some("a.b.c"));
        let target = read.target();
        assert_eq!((target.method, target.host, target.path), ("POST", Some("api.example"), "/api/me"));
        parts.headers.append("dpop", axum::http::HeaderValue::from_static("d.e.f"));
        assert!(DpopProof::read(&parts, DpopAt::Token).is_err());
    }

    proptest::proptest! {
        /// Any header bytes: no panic; a token comes back only from a Bearer or DPoP header, never
        /// empty and never with surrounding white space.
        #[test]
        fn any_authorization_header_is_handled(header in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let Some(parts) = parts(&header) else { return Ok(()) };
            if let Ok((_, token)) = access_token(&parts) {
                let text = String::from_utf8_lossy(&header).trim().to_ascii_lowercase();
                proptest::prop_assert!(text.starts_with("bearer ") || text.starts_with("dpop "));
                proptest::prop_assert!(!token.is_empty());
                proptest::prop_assert_eq!(token, token.trim());
            }
        }
    }
}
