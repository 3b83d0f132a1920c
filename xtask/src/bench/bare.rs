//! The price of the limits: `/api/health` on the real server ÷ the same JSON from a minimal axum server
//! (`backend/examples/bare_health.rs`), over HTTP/1.1 (wrk) and cleartext HTTP/2 (h2load), alternating
//! the two servers for three rounds in one run so the machine's noise falls on both alike.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::server::Server;
use super::{Row, row, wrk};
use crate::{Result, fail, target_dir, workspace_root};

const ROUNDS: usize = 3;

/// A running server process and its base URL, stopped on drop.
pub(super) struct Bare {
    pub(super) child: Child,
    pub(super) base: String,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_bare(body: &str) -> Result<Bare> {
    let mut child = Command::new(target_dir().join("release/examples/bare_health"))
        .current_dir(workspace_root())
        .args(["127.0.0.1:0", body])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start bare_health: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).map_err(|e| e.to_string())?;
    match line.split("listening on ").nth(1) {
        Some(base) => Ok(Bare { child, base: base.trim().to_owned() }),
        None => fail("bare_health did not start"),
    }
}

/// Requests per second h2load reached on `url` with 64 connections, 10 streams each, for 5 s.
fn h2load(url: &str) -> Result<f64> {
    let output = Command::new("h2load")
        .args(["-c", "64", "-m", "10", "-t", "2", "-D", "5", url])
        .output()
        .map_err(|e| format!("cannot run h2load: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let failed = text.lines().find(|l| l.starts_with("requests:")).is_some_and(|l| !l.contains(" 0 failed"));
    if failed {
        return fail(&format!("h2load saw failures on {url}:\n{text}"));
    }
    // "finished in 5.00s, 41234.40 req/s, 6.12MB/s"
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|v| v.trim_end_matches(" req/s").parse().ok());
    rps.ok_or_else(|| format!("cannot read h2load's output:\n{text}"))
}

/// Both ratios, each the median of three alternating rounds.
pub(super) fn measure(server: &Server) -> Result<Vec<Row>> {
    let body = crate::http::get(&format!("{}/api/health", server.base))?;
    let bare = start_bare(&body)?;
    std::thread::sleep(Duration::from_millis(200));
    let (mut h1, mut h2) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let ours = wrk(&server.base, "/api/health", 2, 64, &[], None)?.rps;
        let floor = wrk(&bare.base, "/api/health", 2, 64, &[], None)?.rps;
        h1.push((ours, floor));
        let ours = h2load(&format!("{}/api/health", server.base))?;
        let floor = h2load(&format!("{}/api/health", bare.base))?;
        h2.push((ours, floor));
    }
    Ok(vec![ratio_row("HTTP/1.1, wrk c=64", &h1), ratio_row("HTTP/2, h2load c=64 × 10 streams", &h2)])
}

fn ratio_row(how: &str, rounds: &[(f64, f64)]) -> Row {
    let mut ratios: Vec<f64> = rounds.iter().map(|(ours, floor)| ours / floor).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let each: Vec<String> = rounds.iter().map(|(ours, floor)| format!("{ours:.0}/{floor:.0}")).collect();
    row(
        format!("/api/health ÷ a minimal axum server, {how}"),
        format!("{median:.2} (median of {}: {})", rounds.len(), each.join(", ")),
        "≥ 0.90".into(),
        median / 0.9,
    )
}
