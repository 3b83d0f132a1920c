//! Start-up: a bad setting or a missing secret stops the binary with one clear line; `--help` lists
//! every setting with its variable.

use std::process::Command;

/// Runs the binary with `args` and a scrubbed environment; returns (exit code, stderr).
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_backend")).args(args).env_clear().envs(env.iter().copied()).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn an_invalid_setting_stops_start_up_with_one_line_naming_the_variable() {
    for (variable, value) in
        [("ACCESS_TOKEN_TTL", "soon"), ("BIND", "nowhere"), ("REFRESH_EXPIRY", "weekly"), ("JWT_SECRET", "short")]
    {
        let (code, stderr) = run_binary(&[], &[(variable, value)]);
        assert_eq!(code, Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

#[test]
fn an_explicit_database_without_jwt_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let (code, stderr) = run_binary(&[], &[("DATABASE_URL", url.as_str())]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let (code, _) = run_binary(&["--help"], &[]);
    assert_eq!(code, Some(0));
    let output = Command::new(env!("CARGO_BIN_EXE_backend")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "BIND",
        "DATABASE_URL",
        "JWT_SECRET",
        "ACCESS_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "REFRESH_EXPIRY",
        "SESSION_MAX_LIFETIME",
        "REFRESH_REUSE_GRACE",
        "JWT_LEEWAY",
        "STATIC_DIR",
        "DEMO_USER",
    ] {
        assert!(help.contains(&format!("[env: {variable}")), "{variable} missing from --help");
    }
}
