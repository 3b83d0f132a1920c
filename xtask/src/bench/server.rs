//! A release backend process for the benchmark, and the few HTTP calls it needs (through curl).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::http::{json_string, post_json};
use crate::{Result, fail, target_dir, workspace_root};

/// Killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(database_url: &str, extra: &[(&str, &str)]) -> Result<Self> {
        let mut child = Command::new(target_dir().join("release/backend"))
            .current_dir(workspace_root())
            .env("BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", "benchmark-secret-0123456789abcdef-0123")
            .env("DEMO_USER", "false")
            .env("STATIC_DIR", "/nonexistent")
            .env("LOGIN_MAX_FAILURES", "1000000")
            .env("REGISTER_MAX_PER_IP", "1000000")
            // The login storm opens thousands of sessions for one user; the cap would end the probe's.
            .env("MAX_SESSIONS_PER_USER", "0")
            // Every benchmark client connects from 127.0.0.1.
            .env("MAX_CONNECTIONS_PER_ADDRESS", "4096")
            .env("RUST_LOG", "warn,backend=info")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the backend: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = found.send(rest.trim().to_owned());
                }
            }
        });
        match address.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Ok(Self { child, base }),
            Err(_) => {
                let _ = child.kill();
                fail("the backend did not start")
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `/proc` status fields in kB (`VmRSS`, `VmHWM`).
    pub(crate) fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// POSTs JSON and returns the body.
    pub(crate) fn post(&self, path: &str, body: &str) -> Result<String> {
        post_json(&format!("{}{path}", self.base), body)
    }

    /// Registers `email` and logs it in as `device`; returns (access token, refresh token).
    pub(crate) fn session(&self, email: &str, device: &str) -> Result<(String, String)> {
        let password = "benchmark-password";
        self.post("/api/auth/register", &format!(r#"{{"username":"b","email":"{email}","password":"{password}"}}"#))?;
        let login = format!(r#"{{"email":"{email}","password":"{password}","deviceId":"{device}"}}"#);
        let body = self.post("/api/auth/login", &login)?;
        match (json_string(&body, "access_token"), json_string(&body, "refresh_token")) {
            (Some(access), Some(refresh)) => Ok((access, refresh)),
            _ => fail(&format!("login failed: {body}")),
        }
    }
}
