//! A real backend process for the browser suites: its own SQLite file, a short access lifetime, and
//! CORS for exactly the test page's origin.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, fail, target_dir, workspace_root};

/// Stopped (killed and reaped) on drop.
#[derive(Debug)]
pub(crate) struct BackendProcess {
    child: Child,
    pub(crate) url: String,
    _data: TempDir,
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder under target/ removed on drop.
#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts `target/debug/backend` with `env` on a free port and waits until `/api/health` answers.
pub(crate) fn start(env: &[(&str, &str)]) -> Result<BackendProcess> {
    let port = free_port()?;
    let data = TempDir(target_dir().join(format!("test-data/backend-{port}")));
    std::fs::create_dir_all(&data.0).map_err(|e| format!("cannot create {}: {e}", data.0.display()))?;
    let database = format!("sqlite://{}", data.0.join("app.db").display());
    let log = std::fs::File::create(data.0.join("backend.log")).map_err(|e| e.to_string())?;
    let child = Command::new(target_dir().join("debug/backend"))
        .current_dir(workspace_root())
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &database)
        .env("JWT_SECRET", "browser-suite-secret-0123456789abcdef-0123")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start the backend: {e}"))?;
    let backend = BackendProcess { child, url: format!("http://127.0.0.1:{port}"), _data: data };
    wait_healthy(port)?;
    Ok(backend)
}

fn wait_healthy(port: u16) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request = format!("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    fail("the backend did not become healthy within 30 s")
}
