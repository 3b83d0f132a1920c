//! A paced latency probe: one keep-alive connection, one request every few milliseconds, each timed.
//! Unlike a closed-loop load generator it measures latency, not how fast it can saturate the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{Result, fail};

/// The 99th percentile in milliseconds of `count` GETs of `path`, one every `every`.
pub(super) fn p99_ms(base: &str, path: &str, bearer: &str, count: usize, every: Duration) -> Result<f64> {
    let address = base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {bearer}\r\n\r\n");
    let mut timings = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        writer.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let (status, length) = read_head(&mut reader)?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        if status != 200 {
            return fail(&format!("{path} answered {status}"));
        }
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
    timings.sort_by(f64::total_cmp);
    Ok(timings[(timings.len() * 99 / 100).min(timings.len() - 1)])
}

/// Status and `Content-Length` of the next response.
fn read_head(reader: &mut impl BufRead) -> Result<(u16, usize)> {
    let (mut status, mut length) = (0, 0);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return fail("the connection closed");
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Ok((status, length));
        }
        if let Some(rest) = trimmed.strip_prefix("HTTP/1.1 ") {
            status = rest.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
}
