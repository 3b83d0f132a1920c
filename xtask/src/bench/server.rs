//! The release backend for the benchmark, started by the suites' one launcher, and the few HTTP calls
//! it needs (through curl).

use crate::backend_process::BackendProcess;
use crate::http::{json_string, post_json};
use crate::{Result, fail, target_dir};

/// The release build, started the way every suite starts a backend; killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct Server {
    process: BackendProcess,
    pub(crate) base: String,
}

/// The benchmark's flags for the server (after the launcher's defaults): generous throttles and caps,
/// since every benchmark client is one user on 127.0.0.1, and `settings` by their environment names.
pub(crate) fn flags(database_url: &str, settings: &[(&str, &str)]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--database-url",
        database_url,
        "--login-max-failures",
        "1000000",
        "--register-max-per-ip",
        "1000000",
        // The login storm opens thousands of sessions for one user; the cap would end the probe's.
        "--max-sessions-per-user",
        "0",
        // Every benchmark client connects from 127.0.0.1.
        "--max-connections-per-address",
        "4096",
    ]
    .map(str::to_owned)
    .to_vec();
    for (name, value) in settings {
        args.push(format!("--{}", name.to_ascii_lowercase().replace('_', "-")));
        args.push((*value).to_owned());
    }
    args
}

impl Server {
    /// Starts the server with `settings` (by their environment names), given as command-line flags
    /// after the launcher's defaults so that they override them (a flag beats the environment, and the
    /// defaults include `--static-dir` and `--demo-user`).
    pub(crate) fn start(database_url: &str, settings: &[(&str, &str)]) -> Result<Self> {
        let args = flags(database_url, settings);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [("RUST_LOG", "warn,backend=info")];
        let process = BackendProcess::spawn_with_env(&target_dir().join("release/backend"), &args, &env)?;
        let base = format!("http://{}", process.addr);
        Ok(Self { process, base })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.child.id()
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
