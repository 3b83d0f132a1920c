//! The identity rule and the input types, with hostile input.

use super::*;

#[test]
fn emails_are_normalised_and_checked() {
    assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().identity().stored, "ann@example.com");
    for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com", "ann@.com"] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(lookup(" ODD ").unwrap().key, "odd", "a login only normalises");
    assert!(lookup("odd\u{0}").is_err(), "but refuses what no address can hold");
}

/// Every invisible, format or control character, and every look-alike spelling of an address.
#[test]
fn look_alike_addresses_are_one_address_or_refused() {
    let plain = Email::parse("victim@example.com").unwrap();
    for hidden in [
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}', '\u{202D}', '\u{2066}',
        '\u{061C}', '\u{FE0F}', '\u{180E}', '\u{0000}', '\u{001B}', '\n', '\u{007F}', '\u{0085}',
    ] {
        let spoof = format!("vic{hidden}tim@example.com");
        match Email::parse(&spoof) {
            Ok(parsed) => assert_eq!(parsed.identity().key, plain.identity().key, "{spoof:?} became another address"),
            Err(AuthError::Invalid(_)) => {}
            Err(other) => panic!("{spoof:?}: {other}"),
        }
        assert!(lookup(&spoof).map_or(true, |l| l.key == plain.identity().key), "{spoof:?} at login");
    }
    let key = |raw: &str| Email::parse(raw).unwrap().identity().key.clone();
    assert_eq!(key("jose\u{301}@example.com"), key("jos\u{e9}@example.com"), "NFD is NFC");
    assert_eq!(key("\u{FF56}ictim@example.com"), plain.identity().key, "full-width is ordinary");
    assert_eq!(key("VICTIM@EXAMPLE.COM"), plain.identity().key);
}

#[test]
fn usernames_refuse_control_and_invisible_characters_and_fold_look_alikes() {
    let name = |username: &str| {
        NewAccount::parse(RegisterRequest {
            username: username.into(),
            email: "a@example.com".into(),
            password: "long-enough".into(),
        })
        .map(|account| account.username)
    };
    for bad in ["ann\u{1B}[31m", "ann\nadmin", "ann\u{0}", "an\u{200B}n", "ann\u{202E}", "\u{FEFF}"] {
        assert!(name(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(name("Jos\u{0065}\u{0301}").unwrap(), "Jos\u{e9}");
    assert_eq!(name("\u{FF21}nn").unwrap(), "Ann", "full-width folds");
    assert_eq!(name("Ann  Lee").unwrap(), "Ann Lee");
}

#[test]
fn device_fields_refuse_control_characters() {
    for field in ["a\u{0}b", "a\nb", "\u{7F}"] {
        assert!(optional_field("deviceName", Some(field)).is_err(), "{field:?}");
    }
    assert_eq!(optional_field("deviceName", Some(" Firefox on Linux ")).unwrap().as_deref(), Some("Firefox on Linux"));
}

#[test]
fn passwords_have_length_rules_and_hide_themselves() {
    assert!(Password::new_password("short".into()).is_err());
    assert!(Password::new_password("x".repeat(129)).is_err());
    assert!(Password::given("x".into()).is_ok());
    assert_eq!(format!("{:?}", Password::given("secret".into()).unwrap()), "Password([redacted])");
}

/// The email `pattern` the OpenAPI document publishes for sign-up, as generated from the schema.
fn published_email_pattern() -> regex::Regex {
    let schema = serde_json::to_value(<RegisterRequest as utoipa::PartialSchema>::schema()).unwrap();
    regex::Regex::new(schema["properties"]["email"]["pattern"].as_str().unwrap()).unwrap()
}

#[test]
fn the_published_email_pattern_takes_and_refuses_what_the_parser_does() {
    let pattern = published_email_pattern();
    for good in ["ann@example.com", " Ann@Example.COM\t", "a.b+c@x-y.example", "o'neil@x.example"] {
        assert!(pattern.is_match(good) && Email::parse(good).is_ok(), "{good:?}");
    }
    // Beyond ASCII the parser decides alone; the pattern promises only what it surely takes.
    assert!(!pattern.is_match("é@ü.de") && Email::parse("é@ü.de").is_ok());
    for good in ["a@b--c.example", "a@a-b.example", "a@1.2.example", "o'neil+tag@x.example"] {
        assert!(pattern.is_match(good) && Email::parse(good).is_ok(), "{good:?}");
    }
    for bad in [
        "ann",
        "@example.com",
        "a@example",
        "a@-x.com",
        "a@x-.com",
        "a@x..com",
        "a b@x.com",
        "a@x.com\u{1}",
        "a@x_y.com",
        "a@ab--cd.com",
        "a@D.$.Bd.u.]",
        "a@x.com.",
    ] {
        assert!(!pattern.is_match(bad) && Email::parse(bad).is_err(), "{bad:?}");
    }
}

proptest::proptest! {
    /// Whatever the published pattern takes, sign-up takes; on ASCII the two agree exactly.
    #[test]
    fn the_published_email_pattern_is_the_sign_up_rule(
        email in "[ \t\u{1}\u{85}\u{a0}@.a-cA-Z0-9_+é'\u{200B}-]{0,24}",
    ) {
        let pattern = published_email_pattern();
        let parsed = Email::parse(&email).is_ok();
        if pattern.is_match(&email) {
            proptest::prop_assert!(parsed, "{:?} matches the pattern but is refused", email);
        }
        if email.is_ascii() {
            proptest::prop_assert_eq!(pattern.is_match(&email), parsed, "{:?}", email);
        }
    }

    /// Whatever arrives, parsing never panics, and what parses keeps its promises.
    #[test]
    fn parsed_input_keeps_its_promises(email in "\\PC{0,300}", password in "\\PC{0,200}") {
        if let Ok(parsed) = Email::parse(&email) {
            let stored = &parsed.identity().stored;
            proptest::prop_assert!(stored.contains('@') && parsed.identity().key.contains('@'));
            proptest::prop_assert_eq!(stored, &stored.trim().to_lowercase());
        }
        if let Ok(parsed) = Password::new_password(password.clone()) {
            proptest::prop_assert!((8..=128).contains(&parsed.expose().chars().count()));
        }
    }
}
