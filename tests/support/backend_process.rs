//! The one way every suite starts a real `backend` process: on a port the OS picks (read back from its
//! "listening on" line, so no port is ever guessed), with the test defaults below, killed and reaped on
//! drop. Shared by the API and end-to-end suites and by `cargo xtask test`'s browser suite.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The signing key every test server uses.
pub(crate) const SECRET: &str = "integration-test-secret-0123456789abcdef";

/// Flags every test server starts with; flags given later on the command line win.
pub(crate) const DEFAULT_FLAGS: &[&str] = &[
    "--bind",
    "127.0.0.1:0",
    "--jwt-leeway",
    "0",
    "--static-dir",
    "/nonexistent",
    "--demo-user",
    "false",
    "--demo-routes",
    "true",
];

/// Where test servers write reset mail unless a test gives a folder of its own (a server on a database
/// of its own must be told; tests that read mail pass `--mail-outbox` or `--smtp-url`).
pub(crate) fn test_outbox() -> String {
    std::env::temp_dir().join("silent-refresh-test-outbox").display().to_string()
}

#[derive(Debug)]
pub(crate) struct BackendProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Everything the process has logged so far.
    log: Arc<Mutex<String>>,
}

impl BackendProcess {
    /// Starts `binary` with the defaults plus `args`, and waits until it reports its address.
    pub(crate) fn spawn(binary: &Path, args: &[&str]) -> Result<Self, String> {
        Self::spawn_with_env(binary, args, &[])
    }

    /// [`spawn`](Self::spawn) with environment variables besides the defaults (`RUST_LOG=info` and the
    /// test secret), which `env` overrides.
    pub(crate) fn spawn_with_env(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .args(DEFAULT_FLAGS)
            .args(args)
            .env("JWT_SECRET", SECRET)
            .env("MAIL_OUTBOX", test_outbox())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (found, addr) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&log);
        // Keep draining stderr after the address is found, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = found.send(rest.trim().parse::<SocketAddr>().ok());
                }
                if let Ok(mut log) = collected.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        match addr.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(addr)) => Ok(Self { child, addr, log }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "backend did not report its address; it logged:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                ))
            }
        }
    }

    /// The process's log so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
