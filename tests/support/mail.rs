//! Reading mail as a mail reader would, for the tests that receive it.

/// A quoted-printable body decoded (RFC 2045 §6.7: `=` at a line's end joins it to the next, `=XX` is a
/// byte), as a mail reader shows it; other text passes through.
pub(crate) fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// aiosmtpd (PyPI), a real SMTP server writing what it receives to a maildir, stopped on drop.
pub(crate) struct SmtpServer {
    child: std::process::Child,
    pub(crate) port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Starts aiosmtpd with the Python `cargo xtask test` installed it for (`SMTP_TEST_PYTHON`) and waits
    /// until it listens. `Ok(None)`, after saying so, when that variable is not set.
    pub(crate) fn start() -> Result<Option<Self>, String> {
        let Ok(python) = std::env::var("SMTP_TEST_PYTHON") else {
            println!("skipped: SMTP_TEST_PYTHON is not set (cargo xtask test installs aiosmtpd and sets it)");
            return Ok(None);
        };
        let maildir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
        let port = port.port();
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("aiosmtpd does not start: {e}"))?;
        let server = Self { child, port, maildir };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Some(server));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!("aiosmtpd did not listen on {port}"))
    }

    /// Where the received mail lands, one file each.
    pub(crate) fn inbox(&self) -> std::path::PathBuf {
        self.maildir.path().join("mail/new")
    }
}
