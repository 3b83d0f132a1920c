//! Schemathesis against the backend's own OpenAPI document: for every operation it generates valid
//! and invalid requests and checks that each answer is documented (status, content type, headers,
//! schema), that invalid input is refused and valid input accepted, and that nothing is a 5xx.

use std::path::PathBuf;
use std::process::Command;

use crate::backend_process::BackendProcess;
use crate::http::{json_string, post_json};
use crate::{Result, step, target_dir, tools};

const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test builds only; turning it on makes refresh answer 503 on purpose.
const TEST_SWITCH: &str = "/api/test/refresh-outage";

/// One schemathesis run: what it covers, and its filter and check flags.
struct Run {
    name: &'static str,
    flags: &'static [&'static str],
}

/// Four runs, because one access token authenticates them all: logout and logout-all would end its
/// session mid-run, so they go last and alone. Refresh rejects a body token in cookie mode on purpose
/// (the cookie is the only source then), a rule between a header and the body that OpenAPI cannot
/// state; and login and refresh take a `DPoP` header whose validity is a signature, which no schema
/// states either: schemathesis's "valid input is accepted" check is off for those two operations.
const RUNS: [Run; 4] = [
    Run {
        name: "every operation but login, refresh and logout",
        flags: &[
            "--exclude-path",
            "/api/auth/login",
            "--exclude-path",
            "/api/auth/refresh-token",
            "--exclude-path",
            "/api/auth/logout",
            "--exclude-path",
            "/api/auth/logout-all",
            "--exclude-path",
            TEST_SWITCH,
        ],
    },
    Run {
        name: "refresh",
        flags: &["--include-path", "/api/auth/refresh-token", "--exclude-checks", "positive_data_acceptance"],
    },
    Run {
        name: "login",
        flags: &["--include-path", "/api/auth/login", "--exclude-checks", "positive_data_acceptance"],
    },
    Run {
        name: "logout and logout-all",
        flags: &["--include-path", "/api/auth/logout", "--include-path", "/api/auth/logout-all"],
    },
];

/// Runs every [`RUNS`] entry against a fresh backend; returns (passed, failed, failed runs' names).
pub(crate) fn api_fuzz() -> Result<(u64, u64, Vec<&'static str>)> {
    let st = ensure_schemathesis()?;
    tools::ensure_debian("the API fuzzer", &[("curl", "curl")])?;
    step("fuzzing the API from its own OpenAPI document (schemathesis)");
    tools::run("cargo", &["build", "--quiet", "--package", "backend", "--features", "e2e"])?;
    let data = target_dir().join(format!("test-data/fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let database = format!("sqlite://{}?mode=rwc", data.join("app.db").display());
    let args = [
        "--database-url",
        database.as_str(),
        "--demo-user",
        "true",
        // The demo's echo sleeps for up to 10 s on request, which only slows generated requests down.
        "--demo-routes",
        "false",
        // Generated sign-ups and wrong passwords all come from this one address.
        "--register-max-per-ip",
        "1000000",
        "--login-max-failures",
        "1000000",
    ];
    let backend = BackendProcess::spawn(&target_dir().join("debug/backend"), &args)?;
    let token = demo_access_token(&backend)?;
    let document = backend.url("/api/openapi.json");
    let authorization = format!("Authorization: Bearer {token}");
    let (mut passed, mut failed, mut failures) = (0, 0, Vec::new());
    for run in &RUNS {
        println!("--- schemathesis: {}", run.name);
        let common = ["--no-color", "run", &document, "--checks", "all", "--generation-deterministic"];
        let status = Command::new(&st)
            .args(common)
            .args(["--max-examples", "50", "--header", &authorization])
            .args(run.flags)
            .current_dir(&data)
            .status();
        if status.is_ok_and(|s| s.success()) {
            passed += 1;
        } else {
            failed += 1;
            failures.push(run.name);
        }
    }
    drop(backend);
    let _ = std::fs::remove_dir_all(&data);
    Ok((passed, failed, failures))
}

/// schemathesis at [`SCHEMATHESIS_VERSION`], in a virtual environment under target/tools.
fn ensure_schemathesis() -> Result<PathBuf> {
    let venv = target_dir().join("tools/schemathesis");
    let st = venv.join("bin/st");
    let installed = Command::new(&st).arg("--version").output();
    if installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION)) {
        return Ok(st);
    }
    step(&format!("installing schemathesis {SCHEMATHESIS_VERSION} from PyPI into target/tools (about a minute, once)"));
    let venv_path = venv.to_str().ok_or("target path is not UTF-8")?;
    tools::run("python3", &["-m", "venv", venv_path])?;
    let pip = venv.join("bin/pip");
    let package = format!("schemathesis=={SCHEMATHESIS_VERSION}");
    tools::run(pip.to_str().unwrap_or("pip"), &["install", "--quiet", "--disable-pip-version-check", &package])?;
    Ok(st)
}

/// Logs the demo user in and returns the access token.
fn demo_access_token(backend: &BackendProcess) -> Result<String> {
    let login = r#"{"email":"demo@example.com","password":"demo-password"}"#;
    let answer = post_json(&backend.url("/api/auth/login"), login)?;
    json_string(&answer, "access_token").ok_or_else(|| format!("the demo login did not return a token: {answer}"))
}
