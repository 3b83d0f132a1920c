//! Where a login page may send the user back to. The cheap half of the rule is here, in plain Rust so
//! it is property-tested natively; the browser feature's `same_origin_target` adds the decisive half:
//! the browser's own URL parser must resolve the value to the page's origin.

/// True for a rooted path that no URL parser can read as another host: it starts with one `/` not
/// followed by `/` or `\`, and holds no control character (the parser strips tab and newline, which is
/// how `/\t/evil.example` turns into `//evil.example`) and no backslash (which it reads as `/`).
pub fn looks_like_local_path(next: &str) -> bool {
    let mut chars = next.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::looks_like_local_path;

    #[test]
    fn hostile_spellings_are_refused() {
        for hostile in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/%09/ok-but-\u{0}",
        ] {
            assert!(!looks_like_local_path(hostile), "{hostile:?}");
        }
        for fine in ["/", "/sessions?tab=2#x", "/%2F%2Fevil.example", "/a//b"] {
            assert!(looks_like_local_path(fine), "{fine:?}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Whatever passes resolves, under an independent implementation of the WHATWG URL standard
        /// (the one browsers follow), to the page's own origin.
        #[test]
        fn whatever_passes_stays_on_this_origin(next in "\\PC{0,40}|[/\\\\\t\n:%a-z.]{0,12}") {
            let base = url::Url::parse("https://app.example/login?next=x").unwrap();
            if looks_like_local_path(&next) {
                let resolved = base.join(&next).unwrap();
                proptest::prop_assert_eq!(resolved.origin(), base.origin());
            }
        }
    }
}
