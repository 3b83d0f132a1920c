//! Refresh-path benchmark: latency of one chain rotated back to back, and throughput of many chains
//! rotating at once, over real HTTP on loopback. Prints numbers; asserts nothing.
//!
//! `cargo bench -p backend --bench refresh` (SQLite in a temporary folder), or with
//! `BENCH_DATABASE_URL=postgres://…` against an empty PostgreSQL database.

use std::time::{Duration, Instant};

use backend::{App, Config};
use clap::Parser;
use serde_json::{Value, json};
use shared::paths;

const SEQUENTIAL: usize = 400;
const CHAINS: usize = 32;
const ROTATIONS_PER_CHAIN: usize = 25;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let engine = url.split(':').next().unwrap_or("?").to_owned();
    let config = Config::try_parse_from([
        "backend",
        "--database-url",
        &url,
        "--jwt-secret",
        "benchmark-secret-0123456789abcdef-0123",
        "--static-dir",
        "/nonexistent",
        "--demo-user",
        "false",
    ])
    .expect("configuration");
    let app = App::build(&config).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(app.serve(listener, std::future::pending()));
    let http = reqwest::Client::new();

    let email = "bench@example.com";
    let body = json!({"username": "bench", "email": email, "password": "benchmark-password"});
    http.post(format!("{base}{}", paths::REGISTER)).json(&body).send().await.expect("register");
    let mut chains = Vec::new();
    for device in 0..CHAINS {
        let body = json!({"email": email, "password": "benchmark-password", "deviceId": format!("d{device}")});
        let login: Value =
            http.post(format!("{base}{}", paths::LOGIN)).json(&body).send().await.unwrap().json().await.unwrap();
        chains.push(login["data"]["refresh_token"].as_str().expect("refresh token").to_owned());
    }

    let mut token = chains.pop().expect("a chain");
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let started = Instant::now();
        token = rotate(&http, &base, &token).await;
        latencies.push(started.elapsed());
    }
    latencies.sort_unstable();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "refresh latency, one chain ({engine}, {SEQUENTIAL} in a row): p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(50)),
        ms(percentile(99))
    );

    let started = Instant::now();
    let workers: Vec<_> = chains
        .into_iter()
        .map(|mut token| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                for _ in 0..ROTATIONS_PER_CHAIN {
                    token = rotate(&http, &base, &token).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let rotations = (CHAINS - 1) * ROTATIONS_PER_CHAIN;
    let elapsed = started.elapsed();
    println!(
        "refresh throughput ({engine}, {} chains at once): {rotations} rotations in {:.2} s = {:.0}/s",
        CHAINS - 1,
        elapsed.as_secs_f64(),
        rotations as f64 / elapsed.as_secs_f64()
    );
}

async fn rotate(http: &reqwest::Client, base: &str, token: &str) -> String {
    let response = http.post(format!("{base}{}", paths::REFRESH)).json(&json!({"refreshToken": token})).send().await;
    let body: Value = response.expect("refresh").json().await.expect("body");
    body["data"]["refresh_token"].as_str().unwrap_or_else(|| panic!("refresh failed: {body}")).to_owned()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
