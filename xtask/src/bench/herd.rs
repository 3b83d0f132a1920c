//! The herd: N real `RefreshClient`s (`xtask/herd`, the crate's native transport, one process, one
//! pool) against the release backend built with test routes (the `e2e` feature opens the herd's
//! sessions at once, without N password hashes).

use std::process::Command;

use super::{Row, printed, row};
use crate::bench::server::Server;
use crate::{Result, fail, step, target_dir, tools};

/// Access-token lifetime: long enough that the 5 s minimum margin leaves room for the spread (60%) and
/// the jitter (10%).
const LIFETIME_S: u64 = 20;

pub(super) fn measure(engine: &str, database_url: &str, sizes: &[usize]) -> Result<Vec<Row>> {
    tools::run("cargo", &["build", "--release", "--quiet", "--package", "herd"])?;
    tools::run("cargo", &["build", "--release", "--quiet", "--package", "backend", "--features", "e2e"])?;
    let mut rows = Vec::new();
    for &clients in sizes {
        step(&format!(
            "the herd on {engine}: {clients} clients, {LIFETIME_S} s tokens, three lifetimes with spreading off and on, then a wake-up storm"
        ));
        let lifetime = format!("{LIFETIME_S}s");
        let server = Server::start(database_url, &[("ACCESS_TOKEN_TTL", &lifetime), ("MAX_SESSIONS_PER_USER", "0")])?;
        // The herd's own account (the launcher starts every server without the demo user).
        server.session("herd@example.com", "herd")?;
        let output = Command::new(target_dir().join("release/herd"))
            .args([
                &server.base,
                &clients.to_string(),
                &LIFETIME_S.to_string(),
                "herd@example.com",
                "benchmark-password",
            ])
            .output()
            .map_err(|e| format!("cannot run the herd: {e}"))?;
        drop(server);
        if !output.status.success() {
            return fail(&format!("the herd failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let value = |key: &str| printed(&text, key).unwrap_or(f64::NAN);
        let (off, on) = (value("spreading_off_ratio"), value("spreading_on_ratio"));
        rows.push(row(
            format!("{engine} herd N={clients}: refreshes/s peak ÷ mean, spreading off / on"),
            format!("{off:.2} / {on:.2}"),
            "≤ 2.0 with spreading".into(),
            2.0 / on,
        ));
        let last_ms = value("storm_last_ms");
        rows.push(row(
            format!("{engine} herd N={clients}: wake-up storm, last client served"),
            format!(
                "{last_ms:.0} ms; refresh p99 {:.0} ms at the server ({:.0} ms as clients saw it); {} failed, {} 5xx, {} logouts",
                value("storm_refresh_p99_ms"),
                value("storm_client_refresh_p99_ms"),
                value("storm_failures"),
                value("storm_5xx"),
                value("storm_logouts")
            ),
            "≤ 10 000 ms, 0 5xx, 0 logouts".into(),
            10_000.0 / last_ms.max(1.0),
        ));
        rows.push(Row {
            figure: format!("{engine} herd N={clients}: the simulator's CPU share of both cores"),
            measured: format!("{:.0}%", value("cpu_share") * 100.0),
            target: "-".into(),
            ratio: None,
        });
    }
    Ok(rows)
}
