//! Runs every suite, counts what passed, failed and was skipped, and prints one summary.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

use crate::backend_process::BackendProcess;
use crate::{step, target_dir, tools};

/// What one suite came to.
#[derive(Debug, Default)]
struct Outcome {
    passed: u64,
    failed: u64,
    /// Tests cargo reported as ignored.
    ignored: u64,
    /// Why the whole suite did not run, if it did not.
    skipped: Option<String>,
    /// The suite could not even be built or started.
    broken: bool,
    /// Why it broke, when known.
    note: Option<String>,
}

pub(crate) fn run_all() -> ExitCode {
    let mut results: Vec<(&str, Outcome)> = Vec::new();

    let tools = tools::ensure_wasm_tools().and_then(|()| tools::ensure_chromium());
    if let Err(error) = &tools {
        eprintln!("error: {error}");
    }

    // The mail tests need a real SMTP server; without one they say they skipped.
    let smtp_python = match tools::ensure_aiosmtpd() {
        Ok(python) => python.display().to_string(),
        Err(error) => {
            eprintln!("warning: the SMTP tests will be skipped: {error}");
            String::new()
        }
    };
    let smtp: &[(&str, &str)] =
        if smtp_python.is_empty() { &[] } else { &[("SMTP_TEST_PYTHON", smtp_python.as_str())] };

    step("building the workspace and its tests");
    // The SQLite pass must not inherit a PostgreSQL URL meant for the next pass.
    results.push((
        "native unit and integration tests (SQLite)",
        cargo_test(
            &["test", "--workspace", "--exclude", "e2e", "--features", "silent-refresh/testing"],
            smtp,
            &["TEST_POSTGRES_URL"],
        ),
    ));

    results.push(match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            step("running the integration suite against PostgreSQL");
            (
                "integration and two-instance suites (PostgreSQL)",
                cargo_test(
                    &["test", "--package", "backend", "--test", "api"],
                    &[&[("TEST_POSTGRES_URL", url.as_str())], smtp].concat(),
                    &[],
                ),
            )
        }
        _ => (
            "integration and two-instance suites (PostgreSQL)",
            Outcome { skipped: Some("TEST_POSTGRES_URL is not set".into()), ..Outcome::default() },
        ),
    });

    results.push((
        "client crate: wasm32 build, docs, doctests, no Leptos in its core, package, outside user",
        crate_checks(),
    ));

    results.push((
        "browser tests (wasm-bindgen-test, headless Chromium)",
        match &tools {
            Ok(()) => browser_suite(),
            Err(error) => Outcome { broken: true, skipped: None, note: Some(error.clone()), ..Outcome::default() },
        },
    ));

    // After the browser suite, which builds the backend binary this starts.
    results.push(("API fuzzing from the OpenAPI document (schemathesis runs)", api_fuzz()));
    results.push(("third-party verifiers: oauth4webapi, jose, jsonwebtoken + jwks-rsa; DPoP: panva dpop, express-oauth2-jwt-bearer, requests-oauth2client", interop()));

    results.push((
        "end-to-end browser scenarios (release SPA, headless Chromium)",
        match &tools {
            Ok(()) => e2e_suite(smtp),
            Err(error) => Outcome { broken: true, note: Some(error.clone()), ..Outcome::default() },
        },
    ));

    print_summary(&results)
}

/// The release SPA, served by the real backend, driven through chromedriver. One scenario at a time:
/// each runs its own Chromium and backend, and two cores are not enough for several.
fn e2e_suite(smtp: &[(&str, &str)]) -> Outcome {
    if let Err(error) = crate::spa::build_release() {
        return Outcome { broken: true, note: Some(error), ..Outcome::default() };
    }
    step("running the end-to-end scenarios (screenshots go to target/e2e-artifacts)");
    if let Err(error) = crate::tools::run("cargo", &["build", "--quiet", "--package", "backend", "--features", "e2e"]) {
        return Outcome { broken: true, note: Some(error), ..Outcome::default() };
    }
    let ssr = match crate::ssr_site::build(false) {
        Ok(ssr) => ssr,
        Err(error) => return Outcome { broken: true, note: Some(error), ..Outcome::default() },
    };
    let dist = crate::workspace_root().join("dist");
    let backend = target_dir().join("debug/backend");
    cargo_test(
        &["test", "--package", "e2e", "--", "--test-threads=1"],
        &[
            &[
                ("E2E_DIST", dist.to_str().unwrap_or("dist")),
                ("E2E_BACKEND", backend.to_str().unwrap_or("target/debug/backend")),
                ("E2E_SSR_DEMO", ssr.binary.to_str().unwrap_or_default()),
                ("E2E_SSR_SITE", ssr.site.to_str().unwrap_or_default()),
                ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            ],
            smtp,
        ]
        .concat(),
        &["TEST_POSTGRES_URL"],
    )
}

/// What `silent-refresh` promises its users beyond its tests: it builds for wasm32 with every feature
/// (examples included), its docs have no warnings and every doc and README example compiles, its core
/// pulls in no Leptos, it packages, the packaged crate's tests pass, a crate outside the workspace
/// builds the README's quick starts from the package, and its public API breaks nothing the version
/// does not announce.
fn crate_checks() -> Outcome {
    step("checking the silent-refresh crate (wasm32 build, docs, doctests, dependency tree, package, semver)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let check = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(&cargo).args(args).envs(env.iter().copied()).status().is_ok_and(|s| s.success())
    };
    let wasm = [
        "check",
        "--quiet",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "silent-refresh",
        "--features",
        "browser,leptos,testing",
    ];
    let builds = check(&[&wasm[..], &["--examples"]].concat(), &[]);
    let docs = check(&["doc", "--quiet", "--no-deps", "-p", "silent-refresh"], &[("RUSTDOCFLAGS", "-D warnings")]);
    let doctests = check(&["test", "--quiet", "-p", "silent-refresh", "--all-features", "--doc"], &[]);
    let tree = |args: &[&str], absent: &str| {
        Command::new(&cargo)
            .args(["tree", "-p", "silent-refresh", "-e", "normal"])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).contains(absent))
    };
    // The core has no Leptos, and a browser build no reqwest or tokio.
    let tree = tree(&["--no-default-features"], "leptos")
        && tree(&["--features", "browser,leptos", "--target", "wasm32-unknown-unknown"], "reqwest");
    let packaged = crate::packaging::packaged_tests();
    let outside = packaged.as_ref().map_err(Clone::clone).and_then(|dir| crate::packaging::outside_quick_starts(dir));
    let example = crate::packaging::native_example();
    let semver = crate::packaging::semver_check();
    for error in [&example, &semver].into_iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("{error}");
    }
    let results = [
        ("wasm32 build", builds),
        ("docs", docs),
        ("doctests", doctests),
        ("core without leptos, browser without reqwest", tree),
        ("packaged tests", packaged.is_ok()),
        ("outside quick starts", outside.is_ok()),
        ("native example against the backend", example.is_ok()),
        ("public API against the last release (cargo-semver-checks)", semver.is_ok()),
    ];
    let passed = results.iter().filter(|(_, ok)| *ok).count() as u64;
    let failed = results.len() as u64 - passed;
    let failures: Vec<&str> = results.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
    let note = (failed > 0).then(|| format!("failed: {}", failures.join(", ")));
    Outcome { passed, failed, note, ..Outcome::default() }
}

fn interop() -> Outcome {
    match crate::interop::run() {
        Ok((passed, failed)) => Outcome { passed, failed, ..Outcome::default() },
        Err(error) => Outcome { broken: true, note: Some(error), ..Outcome::default() },
    }
}

fn api_fuzz() -> Outcome {
    match crate::fuzz::api_fuzz() {
        Ok((passed, failed, failures)) => {
            let note = (!failures.is_empty()).then(|| format!("failed: {}", failures.join(", ")));
            Outcome { passed, failed, note, ..Outcome::default() }
        }
        Err(error) => Outcome { broken: true, note: Some(error), ..Outcome::default() },
    }
}

/// A port for the test page, which the backend must name in `CORS_ORIGINS` before the page exists.
fn page_port() -> crate::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The client's wasm tests in headless Chromium, against a backend with 2-second access tokens.
fn browser_suite() -> Outcome {
    step("running the browser tests in headless Chromium");
    // `e2e` adds the switch that fails the refresh endpoint (backend/src/fault.rs).
    let data = target_dir().join(format!("test-data/browser-{}", std::process::id()));
    let database = format!("sqlite://{}?mode=rwc", data.join("app.db").display());
    let prepared = crate::tools::run("cargo", &["build", "--quiet", "--package", "backend", "--features", "e2e"])
        .and_then(|()| std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display())))
        .and_then(|()| page_port())
        .and_then(|page_port| {
            let origin = format!("http://127.0.0.1:{page_port}");
            let args = [
                "--database-url",
                database.as_str(),
                "--access-token-ttl",
                "2s",
                // So a test can outwait it (tests/browser: the step-up challenge).
                "--reauth-max-age",
                "3s",
                // Every test signs up a fresh account from this one address.
                "--register-max-per-ip",
                "1000",
                "--cors-origins",
                origin.as_str(),
            ];
            BackendProcess::spawn(&target_dir().join("debug/backend"), &args).map(|backend| (backend, page_port))
        });
    let (backend, page_port) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return Outcome { broken: true, note: Some(error), ..Outcome::default() },
    };
    let backend_url = backend.url("");
    let page_address = format!("127.0.0.1:{page_port}");
    let path = tools::path_with_tools();
    let mut outcome = cargo_test(
        &["test", "--target", "wasm32-unknown-unknown", "--package", "frontend", "--test", "browser"],
        &[
            ("BROWSER_TEST_BACKEND", backend_url.as_str()),
            ("WASM_BINDGEN_TEST_ADDRESS", page_address.as_str()),
            ("WASM_BINDGEN_TEST_TIMEOUT", "60"),
            ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner"),
            ("PATH", path.to_str().unwrap_or_default()),
        ],
        &[],
    );
    // The proofs the browser client sent during the suite, checked by a validator that shares no code
    // with it.
    match crate::interop::validate_captured_proofs(&backend_url, &data) {
        Ok(()) => outcome.passed += 1,
        Err(error) => {
            eprintln!("{error}");
            outcome.failed += 1;
            outcome.note = Some(format!(
                "{}the browser's DPoP proofs: {error}",
                outcome.note.map(|n| n + "; ").unwrap_or_default()
            ));
        }
    }
    drop(backend);
    let _ = std::fs::remove_dir_all(&data);
    outcome
}

/// Runs `cargo <args>` with `env` set and `unset` removed, echoing its output and adding up its
/// `test result:` lines.
fn cargo_test(args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Outcome {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).envs(env.iter().copied()).stdout(Stdio::piped());
    for name in unset {
        command.env_remove(name);
    }
    let child = command.spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            eprintln!("error: cannot run cargo: {error}");
            return Outcome { broken: true, ..Outcome::default() };
        }
    };
    let mut outcome = Outcome::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(counts) = line.trim().strip_prefix("test result: ") {
                outcome.passed += count(counts, "passed");
                outcome.failed += count(counts, "failed");
                outcome.ignored += count(counts, "ignored");
            }
        }
    }
    let succeeded = child.wait().is_ok_and(|s| s.success());
    if !succeeded && outcome.failed == 0 {
        outcome.broken = true;
    }
    outcome
}

/// The number before `label` in "ok. 12 passed; 0 failed; 1 ignored; …".
fn count(counts: &str, label: &str) -> u64 {
    counts
        .split(['.', ';'])
        .filter_map(|part| part.trim().strip_suffix(label))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn print_summary(results: &[(&str, Outcome)]) -> ExitCode {
    println!();
    println!("==================== summary ====================");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, outcome) in results {
        passed += outcome.passed;
        failed += outcome.failed;
        skipped += outcome.ignored;
        match (&outcome.skipped, outcome.broken) {
            (Some(reason), _) => {
                skipped += 1;
                println!("SKIP  {name}: {reason}");
            }
            (None, true) => {
                failed += 1;
                let why = outcome.note.as_deref().unwrap_or("did not build or run to completion");
                println!("FAIL  {name}: {why} ({} passed, {} failed)", outcome.passed, outcome.failed);
            }
            (None, false) if outcome.failed > 0 => {
                let note = outcome.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
                println!("FAIL  {name}: {} passed, {} failed{note}", outcome.passed, outcome.failed)
            }
            (None, false) => println!("ok    {name}: {} passed, {} ignored", outcome.passed, outcome.ignored),
        }
    }
    println!("summary: {passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_are_read_from_cargos_result_line() {
        let line = "ok. 53 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 13.00s";
        assert_eq!((count(line, "passed"), count(line, "failed"), count(line, "ignored")), (53, 2, 1));
    }
}
