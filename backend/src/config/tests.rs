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

/// The README's configuration table, as (variables of the row, its default cell).
fn readme_settings() -> Vec<(Vec<String>, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("\n## Configuration").nth(1).expect("README has a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let names = cells[0].split('`').skip(1).step_by(2).map(str::to_owned).collect();
            (names, cells.get(1).copied().unwrap_or_default().trim().to_owned())
        })
        .collect()
}

#[test]
fn the_readme_lists_every_setting_the_server_reads_and_no_other() {
    use clap::CommandFactory;
    let command = Config::command();
    let read: std::collections::BTreeSet<String> =
        command.get_arguments().filter_map(|arg| arg.get_env()).map(|env| env.to_string_lossy().into_owned()).collect();
    // Read by the log subscriber, not by `Config`.
    let outside = ["RUST_LOG"];
    let listed: std::collections::BTreeSet<String> = readme_settings()
        .into_iter()
        .flat_map(|(names, _)| names)
        .filter(|name| !outside.contains(&name.as_str()))
        .collect();
    assert_eq!(listed, read, "README's configuration table and the settings differ");
}

#[test]
fn the_readme_states_each_plain_default_the_server_uses() {
    use clap::CommandFactory;
    let command = Config::command();
    let mut checked = 0;
    for (names, default) in readme_settings() {
        // Only rows of one setting whose default is one literal, such as `15m`.
        let [name] = names.as_slice() else { continue };
        let Some(literal) = default.strip_prefix('`').and_then(|d| d.strip_suffix('`')).filter(|d| !d.contains('`'))
        else {
            continue;
        };
        let arg = command.get_arguments().find(|arg| arg.get_env().is_some_and(|env| env == name.as_str()));
        let Some(arg) = arg else { continue };
        let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        assert_eq!(defaults, [literal.to_owned()], "README's default for {name}");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} defaults were compared");
}

#[test]
fn mail_goes_to_smtp_or_an_outbox_and_a_server_on_its_own_database_must_say_which() {
    let embedded = parse(&["--data-dir", "/srv/auth"]).unwrap();
    assert_eq!(embedded.mail_target().unwrap(), MailTarget::Outbox { folder: PathBuf::from("/srv/auth/outbox") });
    let own = parse(&["--database-url", "postgres://db/auth"]).unwrap();
    let refused = own.mail_target().unwrap_err().to_string();
    assert!(refused.starts_with("SMTP_URL is required when DATABASE_URL is set"), "{refused}");
    let smtp = parse(&["--database-url", "postgres://db/auth", "--smtp-url", "smtps://mail.example.com"]).unwrap();
    assert_eq!(smtp.mail_target().unwrap(), MailTarget::Smtp { url: "smtps://mail.example.com".into() });
    let outbox = parse(&["--database-url", "postgres://db/auth", "--mail-outbox", "/var/mail/out"]).unwrap();
    assert_eq!(outbox.mail_target().unwrap(), MailTarget::Outbox { folder: PathBuf::from("/var/mail/out") });
}
