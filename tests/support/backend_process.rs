//! The real `backend` binary as a child process, shared by the API and end-to-end suites.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The signing key every test server uses.
pub(crate) const SECRET: &str = "integration-test-secret-0123456789abcdef";

/// Killed and reaped on drop, so a failing test never leaves a server behind.
#[derive(Debug)]
pub(crate) struct BackendProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Everything the process has logged so far.
    log: Arc<Mutex<String>>,
}

impl BackendProcess {
    /// Starts the binary with `args` (plus the test secret) and waits until it reports its address.
    pub(crate) fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
            .args(args)
            .env("JWT_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("backend binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
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
            Ok(Some(addr)) => Self { child, addr, log },
            _ => {
                let _ = child.kill();
                panic!("backend did not report its address");
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
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
