//! Third-party software against the real server: `tests/interop/interop.mjs` runs widely installed
//! Node libraries (oauth4webapi, jose, jsonwebtoken with jwks-rsa; pinned in tests/interop/package.json
//! and installed into target/tools/interop) against a backend per signing algorithm.

use std::process::Command;

use crate::backend_process::BackendProcess;
use crate::http::{json_string, post_json};
use crate::{Result, fail, step, target_dir, tools, workspace_root};

const ALGORITHMS: [(&str, &str); 3] = [("eddsa", "EdDSA"), ("es256", "ES256"), ("rs256", "RS256")];
const CLIENT: (&str, &str) = ("interop-gateway", "interop-secret-0123456789");

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
    Ok((passed, failed))
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
    std::fs::copy(source.join("interop.mjs"), prefix.join("interop.mjs")).map_err(|e| e.to_string())?;
    Ok(prefix)
}

fn one_algorithm(setting: &str, alg: &str, modules: &std::path::Path) -> Result<(u64, u64)> {
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
    let login = r#"{"email":"demo@example.com","password":"demo-password","appId":"interop-spa"}"#;
    let answer = post_json(&backend.url("/api/auth/login"), login)?;
    let token = |key| json_string(&answer, key).ok_or_else(|| format!("the login gave no {key}: {answer}"));
    let output = Command::new("node")
        .arg(modules.join("interop.mjs"))
        .current_dir(modules)
        .env("ISSUER", &issuer)
        .env("AUDIENCE", "silent-refresh-api")
        .env("ALG", alg)
        .env("ACCESS", token("access_token")?)
        .env("REFRESH", token("refresh_token")?)
        .env("CLIENT_ID", CLIENT.0)
        .env("CLIENT_SECRET", CLIENT.1)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    drop(backend);
    let _ = std::fs::remove_dir_all(&data);
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout.lines().rev().find_map(|line| {
        let (passed, rest) = line.split_once(" passed, ")?;
        Some((passed.trim().parse().ok()?, rest.trim_end_matches(" failed").trim().parse().ok()?))
    });
    summary.ok_or_else(|| format!("the {alg} interop run printed no summary"))
}
