//! Settings parse as documented, and refuse what they must.

use super::secret::GENERATED_SECRET_FILE;
use super::*;

fn parse(args: &[&str]) -> Result<Config, clap::Error> {
    Config::try_parse_from(std::iter::once("backend").chain(args.iter().copied()))
}

#[test]
fn human_durations_parse() {
    let config = parse(&["--access-token-ttl", "3s", "--refresh-token-ttl", "7d"]).unwrap();
    assert_eq!(config.access_token_ttl, Duration::from_secs(3));
    assert_eq!(config.refresh_token_ttl, Duration::from_secs(7 * 86_400));
}

#[test]
fn a_bad_value_names_its_variable_on_the_first_line() {
    let error = parse(&["--access-token-ttl", "soon"]).unwrap_err().to_string();
    assert!(error.lines().next().unwrap().contains("ACCESS_TOKEN_TTL"), "{error}");
}

#[test]
fn zero_lifetimes_are_rejected_but_zero_grace_disables() {
    assert!(parse(&["--access-token-ttl", "0"]).is_err());
    assert_eq!(parse(&["--refresh-reuse-grace", "0"]).unwrap().refresh_reuse_grace, Duration::ZERO);
}

#[test]
fn short_secrets_are_rejected() {
    assert!(parse(&["--jwt-secret", "too-short"]).is_err());
}

#[test]
fn secret_debug_is_redacted() {
    let secret: Secret = "0123456789abcdef0123456789abcdef".parse().unwrap();
    assert_eq!(format!("{secret:?}"), "Secret([redacted])");
}

#[test]
fn an_explicit_database_needs_an_explicit_secret() {
    let config = parse(&["--database-url", "sqlite://x.db"]).unwrap();
    let error = config.signing_secret().unwrap_err().to_string();
    assert!(error.starts_with("JWT_SECRET"), "{error}");
    assert!(!config.demo_user_enabled());
    assert!(!config.demo_routes_enabled(), "no demo routes in a real deployment by default");
}

#[test]
fn generated_secret_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(&["--data-dir", dir.path().to_str().unwrap()]).unwrap();
    let first = config.signing_secret().unwrap();
    let second = config.signing_secret().unwrap();
    assert_eq!(first.expose(), second.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(GENERATED_SECRET_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn database_urls_are_classified() {
    let config = parse(&["--database-url", "sqlite://tmp/a.db"]).unwrap();
    assert!(matches!(config.database().unwrap(), DatabaseTarget::Sqlite { .. }));
    let config = parse(&["--database-url", "postgres://localhost/x"]).unwrap();
    assert!(matches!(config.database().unwrap(), DatabaseTarget::Postgres { .. }));
    let config = parse(&["--database-url", "mysql://x"]).unwrap();
    assert!(config.database().is_err());
}

proptest::proptest! {
    /// No setting value can panic the parser; every accepted duration survives a round trip
    /// through its own human form.
    #[test]
    fn duration_settings_never_panic_and_round_trip(value in ".{0,24}|[0-9]{1,12}(ns|ms|s|m|h|d|w)") {
        if let Ok(duration) = parse_duration(&value) {
            let shown = humantime::format_duration(duration).to_string();
            let again = if duration.is_zero() { Duration::ZERO } else { parse_duration(&shown).unwrap() };
            proptest::prop_assert_eq!(again, duration);
        }
        if let Ok(lifetime) = parse_lifetime(&value) {
            proptest::prop_assert!(!lifetime.is_zero());
        }
    }
}

#[test]
fn a_kid_that_starts_with_a_hyphen_is_a_kid_not_a_flag() {
    let config = parse(&["keys", "revoke", "-Xb3_kid"]).unwrap();
    assert_eq!(config.command, Some(Command::Keys { action: KeysCommand::Revoke { kid: "-Xb3_kid".into() } }));
}
