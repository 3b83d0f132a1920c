//! `dpop-load <base-url> <email> <password> <seconds> <concurrency>`: what DPoP costs the server.
//! - `/api/me` requests per second with a Bearer session and with a DPoP-bound one (the server verifies
//!   a fresh ES256 proof per request), alternated over two rounds each, sent by one plain HTTP client
//!   for both. Each of the DPoP tasks has a session bound to a key of its own, as separate clients
//!   would (one key sending every request would meet the server's per-key share of its replay memory).
//!   The proofs are signed before the clock starts: the clients of a real server sign on their own
//!   machines, not on the server's cores.
//! - Refreshes per second with and without a proof, by the crate's native client (proof signing
//!   included; a refresh costs a database commit, beside which the signature is small).
//!
//! Prints `key=value` lines that `cargo xtask bench` reads.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silent_refresh::native::{FileDpopKey, ReqwestTransport, SystemClock};
use silent_refresh::{Clock as _, EnvelopeProtocol, RefreshClient, Request};

mod proofs;

type Client = RefreshClient<EnvelopeProtocol<Value>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, email, password, seconds, concurrency] = args.as_slice() else {
        eprintln!("usage: dpop-load <base-url> <email> <password> <seconds> <concurrency>");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().unwrap_or(3);
    let concurrency: usize = concurrency.parse().unwrap_or(32);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let key_dir = std::env::temp_dir().join(format!("dpop-load-{}", std::process::id()));
        std::fs::create_dir_all(&key_dir).expect("key folder");
        let transport = ReqwestTransport::new(base);
        let bearer =
            Rc::new(RefreshClient::builder(EnvelopeProtocol::default(), transport.clone(), SystemClock).build());
        let credentials = json!({"email": email, "password": password});
        let login = Request::post("/api/auth/login").json(&credentials).expect("body");
        bearer.login(&login).await.expect("login");
        // One bound session, with a key of its own, per task: as many clients would, and each key stays
        // well inside the server's per-key share of its replay memory.
        let mut dpop = Vec::new();
        for task in 0..concurrency {
            let key_file = key_dir.join(format!("key-{task}"));
            let key = FileDpopKey::load_or_create(&key_file).expect("key");
            let client = Rc::new(
                RefreshClient::builder(EnvelopeProtocol::default(), transport.clone(), SystemClock)
                    .dpop(key, base.as_str())
                    .build(),
            );
            client.login(&login).await.expect("login");
            assert!(client.session().is_some_and(|s| s.dpop), "the server did not bind the DPoP session");
            dpop.push((client, proofs::Signer::load(&key_file)));
        }
        let window = Duration::from_secs(seconds);
        let http = reqwest::Client::new();
        let url = format!("{}/api/me", base.trim_end_matches('/'));
        let bearer_token = bearer.session().expect("session").access_token;
        // Enough proofs for two rounds at well past the Bearer rate.
        let nonce = proofs::nonce(&http, base).await;
        let per_task = 25_000 * seconds as usize * 2 / concurrency + 1_000;
        let bound: Vec<(String, std::cell::RefCell<std::vec::IntoIter<String>>)> = dpop
            .iter()
            .map(|(client, signer)| {
                let token = client.session().expect("session").access_token;
                let made = proofs::make(signer, &url, &token, &nonce, per_task);
                (token, std::cell::RefCell::new(made.into_iter()))
            })
            .collect();
        let (mut me_bearer, mut me_dpop) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let bearer_header = |_| Some(("Authorization".to_owned(), format!("Bearer {bearer_token}"), None));
            me_bearer.push(requests_per_second(&http, &url, window, concurrency, &bearer_header).await);
            let dpop_header = |task: usize| {
                let (token, proofs) = &bound[task];
                let proof = proofs.borrow_mut().next()?;
                Some(("Authorization".to_owned(), format!("DPoP {token}"), Some(proof)))
            };
            me_dpop.push(requests_per_second(&http, &url, window, concurrency, &dpop_header).await);
        }
        let dpop = &dpop[0].0;
        let refresh_bearer = refreshes_per_second(&bearer, window).await;
        let refresh_dpop = refreshes_per_second(dpop, window).await;
        println!("me_bearer={:.1}", mean(&me_bearer));
        println!("me_dpop={:.1}", mean(&me_dpop));
        println!("refresh_bearer={refresh_bearer:.1}");
        println!("refresh_dpop={refresh_dpop:.1}");
        let _ = std::fs::remove_dir_all(&key_dir);
    });
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// A header to send (name, value) and the DPoP proof beside it, if any; `None` when the proofs ran out.
type Header = Option<(String, String, Option<String>)>;

/// `GET url` from `concurrency` tasks for `window` with what `header` gives each request of a task
/// (by its number); every answer must be a success.
async fn requests_per_second(
    http: &reqwest::Client,
    url: &str,
    window: Duration,
    concurrency: usize,
    header: &dyn Fn(usize) -> Header,
) -> f64 {
    let started = Instant::now();
    let tasks = (0..concurrency).map(|task| async move {
        let mut done = 0u64;
        while started.elapsed() < window {
            let (name, value, proof) = header(task).expect("enough proofs were made");
            let mut request = http.get(url).header(name, value);
            if let Some(proof) = proof {
                request = request.header("DPoP", proof);
            }
            let response = request.send().await.expect("/api/me");
            assert!(response.status().is_success(), "/api/me answered {}", response.status());
            let _ = response.bytes().await;
            done += 1;
        }
        done
    });
    let total: u64 = futures::future::join_all(tasks).await.into_iter().sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// Refreshes one after another for `window`: the session is marked due each time, and the client
/// asked for a token.
async fn refreshes_per_second(client: &Rc<Client>, window: Duration) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < window {
        let mut session = client.session().expect("a session");
        session.access_expires_at = SystemClock.now_ms() - 1;
        client.store().save(&session).expect("saved");
        client.access_token(Duration::from_secs(1)).await.expect("refresh");
        done += 1;
    }
    done as f64 / started.elapsed().as_secs_f64()
}
