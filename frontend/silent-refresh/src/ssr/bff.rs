//! The backend-for-frontend's two duties beyond refreshing: a cookie that holds the refresh token
//! sealed, so the browser never holds a token in any form, and the allowlist of upstream calls.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::config::{BffConfig, Upstream};

/// The key that seals the BFF cookie (ChaCha20-Poly1305; the cookie's name is the associated data,
/// so a sealed value cannot be replayed under another name).
#[derive(Clone)]
pub(crate) struct SealingKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    pub(crate) fn new(secret: &[u8]) -> Self {
        assert!(secret.len() >= 32, "the BFF cookie key must have at least 32 bytes");
        // Any length of secret becomes one 256-bit key.
        let digest = ring::digest::digest(&ring::digest::SHA256, secret);
        let key = UnboundKey::new(&CHACHA20_POLY1305, digest.as_ref()).expect("a 32-byte key");
        Self(std::sync::Arc::new(LessSafeKey::new(key)))
    }

    pub(crate) fn seal(&self, name: &str, token: &str) -> Option<String> {
        let mut nonce = [0; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut sealed = token.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(name.as_bytes()), &mut sealed)
            .ok()?;
        let mut value = nonce.to_vec();
        value.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(value))
    }

    /// The token in a sealed value; `None` for anything this key did not seal under `name`.
    pub(crate) fn open(&self, name: &str, value: &str) -> Option<String> {
        let mut bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let opened = self.0.open_in_place(nonce, Aad::from(name.as_bytes()), &mut sealed).ok()?;
        String::from_utf8(opened.to_vec()).ok()
    }
}

/// Why an upstream call was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownUpstream,
    MethodNotAllowed,
    BadPath,
}

/// The upstream URL for `rest` (`{name}/{path}?{query}` after `{mount}/upstream/`), if the allowlist
/// has the name and the method. A path that could climb out of the base (`..`, `.` or an encoded `/`
/// or `.`) is refused before anything is sent.
pub(crate) fn upstream_url(bff: &BffConfig, method: &axum::http::Method, rest: &str) -> Result<String, Refusal> {
    let (path, query) = rest.split_once('?').map_or((rest, None), |(path, query)| (path, Some(query)));
    let (name, path) = path.split_once('/').unwrap_or((path, ""));
    let upstream: &Upstream = bff.upstreams.iter().find(|u| u.name == name).ok_or(Refusal::UnknownUpstream)?;
    if !upstream.methods.contains(method) {
        return Err(Refusal::MethodNotAllowed);
    }
    let lowered = path.to_ascii_lowercase();
    let climbs = path.split('/').any(|segment| segment == "." || segment == "..");
    if climbs || lowered.contains("%2e") || lowered.contains("%2f") || lowered.contains('\\') {
        return Err(Refusal::BadPath);
    }
    let mut url = upstream.base_url.clone();
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_name() {
        let key = SealingKey::new(&[7; 32]);
        let sealed = key.seal("__Host-session", "refresh-token").unwrap();
        assert!(!sealed.contains("refresh-token"));
        assert_eq!(key.open("__Host-session", &sealed).as_deref(), Some("refresh-token"));
        assert_eq!(key.open("other", &sealed), None);
        assert_eq!(SealingKey::new(&[8; 32]).open("__Host-session", &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open("__Host-session", std::str::from_utf8(&tampered).unwrap()), None);
        for junk in ["", "a", "!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(key.open("__Host-session", junk), None, "{junk:?}");
        }
        assert_ne!(key.seal("__Host-session", "refresh-token").unwrap(), sealed, "a fresh nonce every time");
    }

    #[test]
    fn the_allowlist_decides_names_methods_and_paths() {
        let bff = BffConfig::new(&[1; 32])
            .upstream(Upstream::new("me", "http://api.internal/api/me/", &[Method::GET]))
            .upstream(Upstream::new("echo", "http://api.internal/api/demo/echo", &[Method::GET, Method::POST]));
        assert_eq!(upstream_url(&bff, &Method::GET, "me"), Ok("http://api.internal/api/me".to_owned()));
        assert_eq!(
            upstream_url(&bff, &Method::POST, "echo/x?y=1"),
            Ok("http://api.internal/api/demo/echo/x?y=1".to_owned())
        );
        assert_eq!(upstream_url(&bff, &Method::DELETE, "me"), Err(Refusal::MethodNotAllowed));
        assert_eq!(upstream_url(&bff, &Method::GET, "auth/login"), Err(Refusal::UnknownUpstream));
        assert_eq!(upstream_url(&bff, &Method::GET, ""), Err(Refusal::UnknownUpstream));
        for climb in ["me/../auth/login", "me/./x", "me/%2e%2e/auth", "me/a%2Fb", "me/..\\auth"] {
            assert_eq!(upstream_url(&bff, &Method::GET, climb), Err(Refusal::BadPath), "{climb}");
        }
    }
}
