//! `cargo xtask bench`: every performance figure the project tracks, measured side by side in one run
//! on this machine and printed with its target and the ratio. A benchmark, not a test: it never fails
//! on a number. SQLite always; PostgreSQL too when `BENCH_DATABASE_URL` names a server on which it may
//! create a database.

mod bare;
mod browser_burst;
mod crate_weight;
mod herd;
mod instructions;
mod probe;
mod server;
mod spa_wire;

use std::process::Command;
use std::time::{Duration, Instant};

use server::Server;

use crate::{Result, fail, step, target_dir, tools};

const ROTATE_SCRIPT: &str = include_str!("bench/wrk.lua");
const LOGIN_SCRIPT: &str = include_str!("bench/login.lua");
const CHAINS: usize = 16;
const SECONDS: &str = "5s";

/// One printed row.
struct Row {
    figure: String,
    measured: String,
    target: String,
    /// measured ÷ target, oriented so that ≥ 1 meets it.
    ratio: Option<f64>,
}

const LOAD_TOOLS: &[(&str, &str)] = &[("wrk", "wrk"), ("curl", "curl"), ("h2load", "nghttp2-client")];

fn build_servers() -> Result {
    step("building the backend, the minimal axum server and the DPoP load generator (release)");
    let args =
        ["build", "--release", "--quiet", "--package", "backend", "--bin", "backend", "--example", "bare_health"];
    tools::run("cargo", &args)?;
    tools::run("cargo", &["build", "--release", "--quiet", "--package", "herd", "--bin", "dpop-load"])
}

/// `cargo xtask bench limits`: only the price of the connection limits, on SQLite, in requests per
/// second and in instructions per request.
pub(crate) fn run_limits() -> Result {
    tools::ensure_debian("the benchmarks", LOAD_TOOLS)?;
    tools::ensure_debian("the instruction counts", &[("valgrind", "valgrind")])?;
    build_servers()?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = dir.join(format!("limits-{}.db", std::process::id()));
    let server = Server::start(&format!("sqlite://{}", db.display()), &[])?;
    step("/api/health beside a minimal axum server, HTTP/1.1 and HTTP/2");
    let mut rows = bare::measure(&server)?;
    let body = crate::http::get(&format!("{}/api/health", server.base))?;
    drop(server);
    let _ = std::fs::remove_file(&db);
    let counted = dir.join(format!("limits-counted-{}.db", std::process::id()));
    rows.extend(instructions::measure(&format!("sqlite://{}", counted.display()), &body)?);
    let _ = std::fs::remove_file(&counted);
    print_rows(&rows);
    Ok(())
}

/// `cargo xtask bench weight`: only the crate's weight, and the demo's bundle by part.
pub(crate) fn run_weight() -> Result {
    tools::ensure_wasm_tools()?;
    crate::spa::build_release()?;
    print_rows(&crate_weight::measure()?);
    Ok(())
}

pub(crate) fn run() -> Result {
    tools::ensure_debian("the benchmarks", LOAD_TOOLS)?;
    tools::ensure_wasm_tools()?;
    crate::spa::build_release()?;
    build_servers()?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("rotate.lua"), ROTATE_SCRIPT).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("login.lua"), LOGIN_SCRIPT).map_err(|e| e.to_string())?;

    step("measuring this machine's fsync rate");
    let fsyncs = fsync_rate(&dir)?;
    let mut rows = vec![Row {
        figure: "fsync rate (4 KiB write + fdatasync)".into(),
        measured: format!("{fsyncs:.0}/s"),
        target: "-".into(),
        ratio: None,
    }];

    let sqlite = format!("sqlite://{}", dir.join(format!("bench-{}.db", std::process::id())).display());
    rows.extend(engine("SQLite", &sqlite, fsyncs, &dir)?);
    let _ = std::fs::remove_file(dir.join(format!("bench-{}.db", std::process::id())));
    let postgres = match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => Some(PostgresDatabase::create(&admin)?),
        _ => {
            println!("(PostgreSQL skipped: set BENCH_DATABASE_URL=postgres://… to measure it too)");
            None
        }
    };
    if let Some(database) = &postgres {
        rows.extend(engine("PostgreSQL", &database.url, fsyncs, &dir)?);
    }
    step("measuring what the SPA puts on the wire");
    rows.extend(spa_wire::measure(&sqlite)?);
    rows.extend(crate_weight::measure()?);
    rows.extend(browser_burst::measure()?);
    let herd_db = format!("sqlite://{}", dir.join(format!("herd-{}.db", std::process::id())).display());
    let sizes: Vec<usize> = std::env::var("HERD_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2_000, 10_000]);
    rows.extend(herd::measure("SQLite", &herd_db, &sizes)?);
    if let (Some(database), Some(&largest)) = (&postgres, sizes.iter().max()) {
        rows.extend(herd::measure("PostgreSQL", &database.url, &[largest])?);
    }
    print_rows(&rows);
    Ok(())
}

/// Every server-side figure on one engine.
fn engine(name: &str, url: &str, fsyncs: f64, dir: &std::path::Path) -> Result<Vec<Row>> {
    step(&format!("{name}: refresh, auth cost and login storm"));
    let server = Server::start(url, &[])?;
    let mut rows = Vec::new();
    let script = dir.join("rotate.lua");

    let (_, token) = server.session("one@example.com", "d0")?;
    let one = wrk(&server.base, "/", 1, 1, &[], Some((&script, &token)))?;
    let tokens: Vec<String> = (0..CHAINS)
        .map(|i| server.session("many@example.com", &format!("d{i}")).map(|s| s.1))
        .collect::<Result<_>>()?;
    let many = wrk(&server.base, "/", CHAINS, CHAINS, &[], Some((&script, &tokens.join(","))))?;
    rows.push(row(
        format!("{name}: refresh, one chain"),
        format!("{:.0}/s, p99 {:.1} ms", one.rps, one.p99_ms),
        format!("≥ 0.5 × fsync = {:.0}/s", fsyncs / 2.0),
        one.rps / (fsyncs / 2.0),
    ));
    rows.push(row(
        format!("{name}: refresh, {CHAINS} chains, p99"),
        format!("{:.1} ms", many.p99_ms),
        "≤ 20 ms".into(),
        20.0 / many.p99_ms.max(0.001),
    ));
    rows.push(row(
        format!("{name}: refresh, {CHAINS} chains, throughput"),
        format!("{:.0}/s = {:.2} × one chain", many.rps, many.rps / one.rps),
        "≥ 3 × one chain".into(),
        many.rps / one.rps / 3.0,
    ));

    let (access, _) = server.session("me@example.com", "me")?;
    let bearer = format!("Authorization: Bearer {access}");
    step(&format!("{name}: /api/health beside a minimal axum server, HTTP/1.1 and HTTP/2"));
    rows.extend(bare::measure(&server)?);
    let health = wrk(&server.base, "/api/health", 2, 64, &[], None)?;
    let me = wrk(&server.base, "/api/me", 2, 64, &[&bearer], None)?;
    rows.push(row(
        format!("{name}: /api/me ÷ /api/health, c=64"),
        format!("{:.0}/s ÷ {:.0}/s = {:.2}", me.rps, health.rps, me.rps / health.rps),
        "≥ 0.90".into(),
        me.rps / health.rps / 0.9,
    ));

    rows.extend(dpop_cost(&server, name)?);

    // Slow clients: 500 connections that sent half a request head and then nothing, held open (within
    // the head timeout) while the same load runs again.
    let slow = hold_slow_connections(&server.base, 500)?;
    let me_beside_slow = wrk(&server.base, "/api/me", 2, 64, &[&bearer], None)?;
    drop(slow);
    rows.push(row(
        format!("{name}: /api/me beside 500 slow connections ÷ without, c=64"),
        format!("{:.0}/s ÷ {:.0}/s = {:.2}", me_beside_slow.rps, me.rps, me_beside_slow.rps / me.rps),
        "≥ 0.90".into(),
        me_beside_slow.rps / me.rps / 0.9,
    ));

    // Paced (200 requests/s on one connection), so it measures latency, not saturation.
    let probe = || probe::p99_ms(&server.base, "/api/me", &access, 600, Duration::from_millis(5));
    let idle = probe()?;
    let storm = LoginStorm::start(&server.base)?;
    std::thread::sleep(Duration::from_millis(500));
    let busy = probe()?;
    drop(storm);
    rows.push(row(
        format!("{name}: /api/me p99 in a login storm ÷ idle"),
        format!("{busy:.2} ms ÷ {idle:.2} ms = {:.1}×", busy / idle),
        "≤ 2×".into(),
        2.0 / (busy / idle),
    ));
    drop(server);

    let fresh = Server::start(url, &[])?;
    fresh.session("storm@example.com", "d")?;
    let idle_kb = fresh.memory_kb("VmRSS");
    let mut after = Vec::new();
    for _ in 0..3 {
        login_burst(&fresh, 40, 8)?;
        after.push(fresh.memory_kb("VmRSS") / 1024);
    }
    let peak = fresh.memory_kb("VmHWM") / 1024;
    rows.push(row(
        format!("{name}: peak RSS, 3 × (40 logins, 8 at a time)"),
        format!("{peak} MB (idle {} MB; after each storm {after:?} MB)", idle_kb / 1024),
        "≤ 128 MB, flat".into(),
        128.0 / peak.max(1) as f64,
    ));
    Ok(rows)
}

/// What DPoP costs, measured with the crate's native client on both sides (`xtask/herd`'s `dpop-load`):
/// `/api/me` with a bound session (a proof signed and verified per request) ÷ with a Bearer one, and a
/// refresh with a proof ÷ without.
fn dpop_cost(server: &Server, name: &str) -> Result<Vec<Row>> {
    step(&format!("{name}: DPoP beside Bearer (the native client, both alternated)"));
    server.session("dpop@example.com", "d")?;
    let output = Command::new(target_dir().join("release/dpop-load"))
        .args([server.base.as_str(), "dpop@example.com", "benchmark-password", "3", "32"])
        .output()
        .map_err(|e| format!("cannot run dpop-load: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return fail(&format!("dpop-load failed: {}{text}", String::from_utf8_lossy(&output.stderr)));
    }
    let value = |key| printed(&text, key).ok_or_else(|| format!("dpop-load printed no {key}: {text}"));
    let (me_bearer, me_dpop) = (value("me_bearer")?, value("me_dpop")?);
    let (refresh_bearer, refresh_dpop) = (value("refresh_bearer")?, value("refresh_dpop")?);
    Ok(vec![
        row(
            format!("{name}: /api/me with DPoP ÷ with Bearer (client included)"),
            format!("{me_dpop:.0}/s ÷ {me_bearer:.0}/s = {:.2}", me_dpop / me_bearer),
            "≥ 0.70".into(),
            me_dpop / me_bearer / 0.7,
        ),
        row(
            format!("{name}: refresh with DPoP ÷ without (client included)"),
            format!("{refresh_dpop:.0}/s ÷ {refresh_bearer:.0}/s = {:.2}", refresh_dpop / refresh_bearer),
            "≥ 0.70".into(),
            refresh_dpop / refresh_bearer / 0.7,
        ),
    ])
}

/// The number a measuring program printed as a `key=value` line, if it did.
fn printed(text: &str, key: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).and_then(|v| v.parse().ok())
}

fn row(figure: String, measured: String, target: String, ratio: f64) -> Row {
    Row { figure, measured, target, ratio: Some(ratio) }
}

/// What wrk reported.
struct Load {
    rps: f64,
    p99_ms: f64,
}

/// `wrk` against `base` + `path` with `threads` and `connections` for a few seconds, optionally with
/// the chain-rotating script and its tokens.
fn wrk(
    base: &str,
    path: &str,
    threads: usize,
    connections: usize,
    headers: &[&str],
    script: Option<(&std::path::Path, &str)>,
) -> Result<Load> {
    let mut command = Command::new("wrk");
    command.args(["--latency", "-d", SECONDS, "-t", &threads.to_string(), "-c", &connections.to_string()]);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some((script, tokens)) = script {
        command.arg("-s").arg(script).env("TOKENS", tokens);
    }
    let output = command.arg(format!("{base}{path}")).output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return fail(&format!("wrk saw failures on {path}:\n{text}"));
    }
    let rps = text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok());
    let p99 = text.lines().find_map(|l| l.trim().strip_prefix("99%")).and_then(|v| milliseconds(v.trim()));
    match (rps, p99) {
        (Some(rps), Some(p99_ms)) => Ok(Load { rps, p99_ms }),
        _ => fail(&format!("cannot read wrk's output:\n{text}")),
    }
}

/// `850.00us`, `12.34ms`, `1.02s` in milliseconds.
fn milliseconds(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let number: f64 = value[..split].parse().ok()?;
    match &value[split..] {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}

/// Eight clients logging in back to back until dropped.
struct LoginStorm(Vec<std::process::Child>);

impl LoginStorm {
    fn start(base: &str) -> Result<Self> {
        let login = r#"{"email":"me@example.com","password":"benchmark-password"}"#;
        let children = (0..2)
            .map(|_| {
                Command::new("wrk")
                    .args(["-d", "30s", "-t", "1", "-c", "4", "-s"])
                    .arg(target_dir().join("bench/login.lua"))
                    .env("LOGIN_BODY", login)
                    .arg(format!("{base}/api/auth/login"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot run wrk: {e}"))
            })
            .collect::<Result<_>>()?;
        Ok(Self(children))
    }
}

impl Drop for LoginStorm {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `total` logins, `parallel` at a time, each its own session.
fn login_burst(server: &Server, total: usize, parallel: usize) -> Result {
    let body = r#"{"email":"storm@example.com","password":"benchmark-password"}"#;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                scope.spawn(|| (0..total / parallel).try_for_each(|_| server.post("/api/auth/login", body).map(|_| ())))
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().unwrap_or_else(|_| fail("a login worker panicked")))
    })
}

/// Writes and `fdatasync`s 4 KiB over and over for a second: the floor under a durable commit.
fn fsync_rate(dir: &std::path::Path) -> Result<f64> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let block = [7u8; 4096];
    let started = Instant::now();
    let mut count = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        file.write_all(&block).map_err(|e| e.to_string())?;
        file.sync_data().map_err(|e| e.to_string())?;
        count += 1;
    }
    let _ = std::fs::remove_file(path);
    Ok(f64::from(count) / started.elapsed().as_secs_f64())
}

/// A database of its own on the PostgreSQL server at `admin`, dropped when the bench ends (or fails).
struct PostgresDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create(admin: &str) -> Result<Self> {
        let name = format!("bench_{}", std::process::id());
        tools::run("psql", &[admin, "-qc", &format!("CREATE DATABASE {name}")])?;
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        Ok(Self { admin: admin.to_owned(), url: format!("{base}/{name}"), name })
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = Command::new("psql").args([&self.admin, "-qc", &drop]).status();
    }
}

fn print_rows(rows: &[Row]) {
    println!();
    println!("{:<52} {:<58} {:<24} ratio (≥ 1 meets it)", "figure", "measured", "target");
    for row in rows {
        let ratio = row.ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
        println!("{:<52} {:<58} {:<24} {ratio}", row.figure, row.measured, row.target);
    }
}

/// `count` connections to `base` that have sent the start of a request head and nothing more.
fn hold_slow_connections(base: &str, count: usize) -> Result<Vec<std::net::TcpStream>> {
    use std::io::Write as _;
    let address = base.trim_start_matches("http://").trim_end_matches('/');
    (0..count)
        .map(|_| {
            let mut stream =
                std::net::TcpStream::connect(address).map_err(|e| format!("cannot open a slow connection: {e}"))?;
            stream.write_all(b"GET /api/me HTTP/1.1\r\nHost: ").map_err(|e| e.to_string())?;
            Ok(stream)
        })
        .collect()
}
