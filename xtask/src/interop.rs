//! Third-party software against the real server: `tests/interop/interop.mjs` runs widely installed
//! Node libraries (oauth4webapi, jose, jsonwebtoken with jwks-rsa; pinned in tests/interop/package.json
//! and installed into target/tools/interop) against a backend per signing algorithm, and
//! `tests/interop/dpop.mjs` and `dpop_client.py` check DPoP with panva's dpop, oauth4webapi,
//! express-oauth2-jwt-bearer and Python's requests-oauth2client.

use std::process::Command;

use crate::backend_process::BackendProcess;
use crate::http::{json_string, post_json};
use crate::{Result, fail, step, target_dir, tools, workspace_root};

const ALGORITHMS: [(&str, &str); 3] = [("eddsa", "EdDSA"), ("es256", "ES256"), ("rs256", "RS256")];
const CLIENT: (&str, &str) = ("interop-gateway", "interop-secret-0123456789");
const REQUESTS_OAUTH2CLIENT_VERSION: &str = "1.8.0";

/// Runs the interop checks for every algorithm; (passed, failed) counted from the script's summaries.
pub(crate) fn run() -> Result<(u64, u64)> {
    tools::ensure_debian("the interop checks", &[("curl", "curl")])?;
    let modules = install()?;
    tools::run("cargo", &["build", "--quiet", "--package", "backend"])?;
    step("checking our tokens and OAuth endpoints with third-party libraries (tests/interop)");
    let (mut passed, mut failed) = (0, 0);
    for (setting, alg) in ALGORITHMS {
        let (p, f) = one_algorithm(setting, alg, &modules)?;
        passed += p;
        failed += f;
    }
    let (p, f) = dpop(&modules)?;
    Ok((passed + p, failed + f))
}

/// `npm install` of the pinned libraries, once per version of package.json.
fn install() -> Result<std::path::PathBuf> {
    let source = workspace_root().join("tests/interop");
    let prefix = target_dir().join("tools/interop");
    std::fs::create_dir_all(&prefix).map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    let manifest = std::fs::read_to_string(source.join("package.json")).map_err(|e| e.to_string())?;
    let installed = std::fs::read_to_string(prefix.join("package.json")).unwrap_or_default();
    if manifest != installed || !prefix.join("node_modules/oauth4webapi").exists() {
        step("installing the interop libraries from npm into target/tools/interop (seconds, once)");
        std::fs::write(prefix.join("package.json"), &manifest).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&prefix)
            .status()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !status.success() {
            return fail("npm install of the interop libraries failed");
        }
    }
    for script in ["checks.mjs", "interop.mjs", "dpop.mjs"] {
        std::fs::copy(source.join(script), prefix.join(script)).map_err(|e| e.to_string())?;
    }
    Ok(prefix)
}

/// A backend signing with `setting`, its issuer (where it listens) and its data folder (removed on drop).
struct Server {
    backend: BackendProcess,
    issuer: String,
    data: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start(setting: &str) -> Result<Server> {
    // The issuer must be where the server listens, so it needs a known port.
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let issuer = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let clients = format!("{}:{}", CLIENT.0, CLIENT.1);
    let data = target_dir().join(format!("test-data/interop-{setting}-{}", std::process::id()));
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let database = format!("sqlite://{}?mode=rwc", data.join("app.db").display());
    let args = [
        "--bind",
        &bind,
        "--jwt-issuer",
        &issuer,
        "--jwt-algorithm",
        setting,
        "--database-url",
        &database,
        "--introspection-clients",
        &clients,
        "--demo-user",
        "true",
    ];
    let backend = BackendProcess::spawn(&target_dir().join("debug/backend"), &args)?;
    Ok(Server { backend, issuer, data })
}

/// The demo account `--demo-user true` creates.
const DEMO: (&str, &str) = ("demo@example.com", "demo-password");

fn one_algorithm(setting: &str, alg: &str, modules: &std::path::Path) -> Result<(u64, u64)> {
    let server = start(setting)?;
    let (backend, issuer) = (&server.backend, &server.issuer);
    let login = r#"{"email":"demo@example.com","password":"demo-password","appId":"interop-spa"}"#;
    let answer = post_json(&backend.url("/api/auth/login"), login)?;
    let token = |key| json_string(&answer, key).ok_or_else(|| format!("the login gave no {key}: {answer}"));
    let output = Command::new("node")
        .arg(modules.join("interop.mjs"))
        .current_dir(modules)
        .env("ISSUER", issuer)
        .env("AUDIENCE", "silent-refresh-api")
        .env("ALG", alg)
        .env("ACCESS", token("access_token")?)
        .env("REFRESH", token("refresh_token")?)
        .env("CLIENT_ID", CLIENT.0)
        .env("CLIENT_SECRET", CLIENT.1)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    drop(server);
    summary(&output, alg)
}

/// DPoP: panva's dpop, oauth4webapi and express-oauth2-jwt-bearer (Node), then requests-oauth2client
/// (Python), each against a server of its own.
fn dpop(modules: &std::path::Path) -> Result<(u64, u64)> {
    let python = ensure_requests_oauth2client()?;
    let mut counts = (0, 0);
    for (program, script) in [(std::path::PathBuf::from("node"), modules.join("dpop.mjs")), (python, dpop_client())] {
        // ES256, which every library here verifies (express-oauth2-jwt-bearer has no EdDSA).
        let server = start("es256")?;
        let output = Command::new(&program)
            .arg(&script)
            .current_dir(modules)
            .env("ISSUER", &server.issuer)
            .env("AUDIENCE", "silent-refresh-api")
            .env("EMAIL", DEMO.0)
            .env("PASSWORD", DEMO.1)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        drop(server);
        let (p, f) = summary(&output, "DPoP")?;
        counts = (counts.0 + p, counts.1 + f);
    }
    Ok(counts)
}

fn dpop_client() -> std::path::PathBuf {
    workspace_root().join("tests/interop/dpop_client.py")
}

/// The DPoP proofs a test build of the backend at `backend` captured (the browser client's), checked
/// with requests-oauth2client's `validate_dpop_proof` (tests/interop/validate_proofs.py).
pub(crate) fn validate_captured_proofs(backend: &str, scratch: &std::path::Path) -> Result {
    let python = ensure_requests_oauth2client()?;
    let captured = crate::http::get(&format!("{backend}/api/test/dpop-proofs"))?;
    let file = scratch.join("dpop-proofs.json");
    std::fs::write(&file, &captured).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let output = Command::new(&python)
        .arg(workspace_root().join("tests/interop/validate_proofs.py"))
        .env("PROOFS", &file)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    match summary(&output, "validate_dpop_proof")? {
        (passed, 0) if passed > 0 => Ok(()),
        (passed, failed) => fail(&format!("validate_dpop_proof: {passed} proofs passed, {failed} failed")),
    }
}

/// requests-oauth2client in a virtual environment under target/tools; returns its Python.
fn ensure_requests_oauth2client() -> Result<std::path::PathBuf> {
    let venv = target_dir().join("tools/requests-oauth2client");
    let python = venv.join("bin/python");
    let probe = Command::new(&python)
        .args(["-c", "import importlib.metadata as m; print(m.version('requests-oauth2client'))"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if probe == REQUESTS_OAUTH2CLIENT_VERSION {
        return Ok(python);
    }
    step(&format!(
        "installing requests-oauth2client {REQUESTS_OAUTH2CLIENT_VERSION} from PyPI into target/tools (for the DPoP \
         interop check, once)"
    ));
    tools::run("python3", &["-m", "venv", venv.to_str().ok_or("target path is not UTF-8")?])?;
    let pip = venv.join("bin/pip");
    let package = format!("requests-oauth2client=={REQUESTS_OAUTH2CLIENT_VERSION}");
    tools::run(pip.to_str().unwrap_or("pip"), &["install", "--quiet", "--disable-pip-version-check", &package])?;
    Ok(python)
}

/// The script's output, shown, and its closing "N passed, M failed".
fn summary(output: &std::process::Output, what: &str) -> Result<(u64, u64)> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout.lines().rev().find_map(|line| {
        let (passed, rest) = line.split_once(" passed, ")?;
        Some((passed.trim().parse().ok()?, rest.trim_end_matches(" failed").trim().parse().ok()?))
    });
    summary.ok_or_else(|| format!("the {what} interop run printed no summary"))
}
