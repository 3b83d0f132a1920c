//! What `/api/health` costs in instructions, counted by callgrind: our server and the minimal axum
//! server each answer the same number of requests under `valgrind --tool=callgrind`, with the counters
//! zeroed before and dumped after, over HTTP/1.1 and HTTP/2. Unlike requests per second, the count is
//! the same from run to run whatever else the machine is doing, so it shows what a change to the
//! request path costs; it counts this process's own instructions only (not the kernel's).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::bare::Bare;
use super::{Row, server};
use crate::backend_process::{DEFAULT_FLAGS, SECRET, test_outbox};
use crate::{Result, fail, step, target_dir};

const REQUESTS: u64 = 20_000;

/// A server under callgrind, killed on drop, and where callgrind writes its counts.
struct Counted {
    process: Bare,
    out: PathBuf,
}

fn start(binary: &Path, args: &[&str], out: PathBuf) -> Result<Counted> {
    let mut child = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary)
        .args(args)
        .env("JWT_SECRET", SECRET)
        .env("MAIL_OUTBOX", test_outbox())
        .env("RUST_LOG", "warn,backend=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (found, address) = std::sync::mpsc::channel();
    // Keeps reading, so valgrind never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
            if let Some(base) = line.split("listening on ").nth(1) {
                let _ = found.send(base.trim().to_owned());
            }
        }
    });
    // Start-up (migrations included) is some fifty times slower under valgrind.
    match address.recv_timeout(Duration::from_secs(180)) {
        Ok(base) => Ok(Counted { process: Bare { child, base }, out }),
        Err(_) => fail(&format!("{} did not start under callgrind", binary.display())),
    }
}

impl Counted {
    /// Instructions per request for `REQUESTS` requests sent by h2load with `protocol`: `--h1` with one
    /// request at a time per connection (no pipelining, as browsers and wrk send them), or HTTP/2 with
    /// ten streams per connection.
    fn per_request(&self, protocol: &[&str]) -> Result<f64> {
        let pid = self.process.child.id().to_string();
        crate::tools::run("callgrind_control", &["--zero", &pid])?;
        let url = format!("{}/api/health", self.process.base);
        let requests = REQUESTS.to_string();
        let streams = if protocol.contains(&"--h1") { "1" } else { "10" };
        let mut args = vec!["-n", requests.as_str(), "-c", "8", "-m", streams, "-t", "1"];
        args.extend(protocol);
        args.push(&url);
        let output = Command::new("h2load").args(&args).output().map_err(|e| format!("cannot run h2load: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !text.contains(&format!("{REQUESTS} succeeded")) {
            return fail(&format!("h2load did not get every answer from {url}:\n{text}"));
        }
        let before = dumps(&self.out);
        crate::tools::run("callgrind_control", &["--dump", &pid])?;
        let dump = newest_dump(&self.out, &before)?;
        let text = std::fs::read_to_string(&dump).map_err(|e| format!("{}: {e}", dump.display()))?;
        let total: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("summary: ").or_else(|| l.strip_prefix("totals: ")))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("no total in {}", dump.display()))?;
        let _ = std::fs::remove_file(&dump);
        Ok(total / REQUESTS as f64)
    }
}

/// The dump files callgrind has written for `out` (`out.1`, `out.2`, …).
fn dumps(out: &Path) -> Vec<PathBuf> {
    let Some(dir) = out.parent() else { return Vec::new() };
    let prefix = out.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
                .collect()
        })
        .unwrap_or_default()
}

/// The dump that appeared after `before`, once callgrind has finished writing it.
fn newest_dump(out: &Path, before: &[PathBuf]) -> Result<PathBuf> {
    for _ in 0..100 {
        if let Some(new) = dumps(out).into_iter().find(|p| !before.contains(p)) {
            let complete =
                std::fs::read_to_string(&new).is_ok_and(|t| t.contains("\ntotals: ") || t.contains("\nsummary: "));
            if complete {
                return Ok(new);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    fail("callgrind wrote no dump")
}

/// Both protocols, ours and the floor's.
pub(super) fn measure(database_url: &str, floor_body: &str) -> Result<Vec<Row>> {
    step("instructions per /api/health request under callgrind (our server and the minimal axum server)");
    let dir = target_dir().join("bench");
    let flags = server::flags(database_url, &[]);
    let ours_args: Vec<&str> = DEFAULT_FLAGS.iter().copied().chain(flags.iter().map(String::as_str)).collect();
    let ours =
        start(&target_dir().join("release/backend"), &ours_args, dir.join(format!("ours-{}.cg", std::process::id())))?;
    let (ours_h1, ours_h2) = (ours.per_request(&["--h1"])?, ours.per_request(&[])?);
    drop(ours);
    let floor_args = ["127.0.0.1:0", floor_body];
    let floor = start(
        &target_dir().join("release/examples/bare_health"),
        &floor_args,
        dir.join(format!("floor-{}.cg", std::process::id())),
    )?;
    let (floor_h1, floor_h2) = (floor.per_request(&["--h1"])?, floor.per_request(&[])?);
    Ok(vec![instruction_row("HTTP/1.1", floor_h1, ours_h1), instruction_row("HTTP/2", floor_h2, ours_h2)])
}

fn instruction_row(protocol: &str, floor: f64, ours: f64) -> Row {
    Row {
        figure: format!("/api/health instructions per request (callgrind), the minimal axum server ÷ ours, {protocol}"),
        measured: format!("{:.1}k ÷ {:.1}k = {:.2}", floor / 1000.0, ours / 1000.0, floor / ours),
        target: "-".into(),
        ratio: None,
    }
}
