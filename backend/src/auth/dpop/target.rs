//! The request a proof must name: its method, and its URL as the client saw it (`htu`), compared
//! after RFC 3986 §6.2.2 normalisation (case of scheme and host, default port, dot segments, and
//! percent-encoding of unreserved characters) with the query and fragment not allowed at all.

use url::Url;

/// What the server knows of the request a proof came with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTarget<'a> {
    pub(crate) method: &'a str,
    /// The `Host` header, used when no public URL is configured.
    pub(crate) host: Option<&'a str>,
    /// The request's path, without the query.
    pub(crate) path: &'a str,
}

impl RequestTarget<'_> {
    /// Whether `htu` names this request: under `public` (scheme, host, port and path prefix) when the
    /// server is reached through a proxy, else at the request's own `Host` over HTTP or HTTPS.
    pub(crate) fn matches(&self, htu: &str, public: Option<&Url>) -> bool {
        let Ok(htu) = Url::parse(htu) else { return false };
        let plain = htu.query().is_none()
            && htu.fragment().is_none()
            && htu.username().is_empty()
            && htu.password().is_none()
            && matches!(htu.scheme(), "http" | "https");
        if !plain {
            return false;
        }
        let expected = match public {
            Some(base) => format!("{}{}", base.as_str().trim_end_matches('/'), self.path),
            None => match self.host {
                Some(host) if !host.contains(['/', '?', '#', '@', '\\']) => {
                    format!("{}://{host}{}", htu.scheme(), self.path)
                }
                _ => return false,
            },
        };
        let Ok(expected) = Url::parse(&expected) else { return false };
        htu.scheme() == expected.scheme()
            && htu.host_str() == expected.host_str()
            && htu.port_or_known_default() == expected.port_or_known_default()
            && normalised_path(htu.path()) == normalised_path(expected.path())
    }
}

/// Percent-encodings in upper case, and unreserved characters decoded (RFC 3986 §6.2.2.1, §6.2.2.2).
fn normalised_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len() && path.is_char_boundary(i + 3))
            .then(|| u8::from_str_radix(&path[i + 1..i + 3], 16).ok())
            .flatten();
        match escaped {
            Some(byte) if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) => {
                out.push(char::from(byte));
                i += 3;
            }
            Some(_) => {
                out.push('%');
                out.push_str(&path[i + 1..i + 3].to_ascii_uppercase());
                i += 3;
            }
            None => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, path: &'static str) -> RequestTarget<'static> {
        RequestTarget { method: "GET", host: Some(Box::leak(host.to_owned().into_boxed_str())), path }
    }

    #[test]
    fn the_url_is_compared_after_normalisation() {
        let me = target("api.example:8443", "/api/me");
        for same in [
            "https://api.example:8443/api/me",
            "HTTPS://API.EXAMPLE:8443/api/me",
            "https://api.example:8443/api/./x/../me",
            "https://api.example:8443/%61pi/me",
            "http://api.example:8443/api/me",
        ] {
            assert!(me.matches(same, None), "{same}");
        }
        for other in [
            "https://api.example:8443/api/me?x=1",
            "https://api.example:8443/api/me?",
            "https://api.example:8443/api/me#frag",
            "https://api.example/api/me",
            "https://other.example:8443/api/me",
            "https://api.example:8443/api/ME",
            "https://user@api.example:8443/api/me",
            "ftp://api.example:8443/api/me",
            "/api/me",
            "not a url",
        ] {
            assert!(!me.matches(other, None), "{other}");
        }
        assert!(target("api.example", "/api/me").matches("https://api.example:443/api/me", None));
    }

    #[test]
    fn behind_a_proxy_the_public_url_decides() {
        let public = Url::parse("https://auth.example/base/").unwrap();
        let me = target("10.0.0.7:3000", "/api/me");
        assert!(me.matches("https://auth.example/base/api/me", Some(&public)));
        assert!(!me.matches("http://auth.example/base/api/me", Some(&public)), "the scheme is the public one");
        assert!(!me.matches("https://10.0.0.7:3000/api/me", Some(&public)));
        assert!(!me.matches("https://auth.example/api/me", Some(&public)));
    }

    #[test]
    fn a_host_header_that_is_no_authority_matches_nothing() {
        for host in ["evil.example/api", "a@b", "x?y"] {
            assert!(!target(host, "/api/me").matches("https://evil.example/api/api/me", None), "{host}");
        }
        let none = RequestTarget { method: "GET", host: None, path: "/api/me" };
        assert!(!none.matches("https://api.example/api/me", None));
    }

    #[test]
    fn percent_encodings_are_normalised() {
        assert_eq!(normalised_path("/a%7eb%2fc%"), "/a~b%2Fc%");
        assert_eq!(normalised_path("/%zz"), "/%zz");
    }
}
