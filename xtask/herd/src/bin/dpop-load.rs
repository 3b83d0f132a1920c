//! `dpop-load <base-url> <email> <password> <seconds> <concurrency>`: what DPoP costs, end to end, with
//! the crate's native client on both sides of the comparison: `/api/me` requests per second with a
//! Bearer session and with a DPoP-bound one (a fresh ES256 proof signed and verified per request),
//! alternated over two rounds each, and refreshes per second with and without a proof.
//! Prints `key=value` lines that `cargo xtask bench` reads.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silent_refresh::native::{FileDpopKey, ReqwestTransport, SystemClock};
use silent_refresh::{Clock as _, EnvelopeProtocol, RefreshClient, Request};

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
        let key = FileDpopKey::load_or_create(key_dir.join("key")).expect("key");
        let transport = ReqwestTransport::new(base);
        let bearer =
            Rc::new(RefreshClient::builder(EnvelopeProtocol::default(), transport.clone(), SystemClock).build());
        let dpop = Rc::new(
            RefreshClient::builder(EnvelopeProtocol::default(), transport, SystemClock)
                .dpop(key, base.as_str())
                .build(),
        );
        let credentials = json!({"email": email, "password": password});
        for client in [&bearer, &dpop] {
            client.login(&Request::post("/api/auth/login").json(&credentials).expect("body")).await.expect("login");
        }
        assert!(dpop.session().is_some_and(|s| s.dpop), "the server did not bind the DPoP session");
        let window = Duration::from_secs(seconds);
        let (mut me_bearer, mut me_dpop) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            me_bearer.push(requests_per_second(&bearer, window, concurrency).await);
            me_dpop.push(requests_per_second(&dpop, window, concurrency).await);
        }
        let refresh_bearer = refreshes_per_second(&bearer, window).await;
        let refresh_dpop = refreshes_per_second(&dpop, window).await;
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

/// `/api/me` from `concurrency` tasks for `window`; every answer must be a success.
async fn requests_per_second(client: &Rc<Client>, window: Duration, concurrency: usize) -> f64 {
    let started = Instant::now();
    let tasks = (0..concurrency).map(|_| {
        let client = Rc::clone(client);
        async move {
            let mut done = 0u64;
            let request = Request::get("/api/me");
            while started.elapsed() < window {
                client.fetch::<Value>(&request).await.expect("/api/me");
                done += 1;
            }
            done
        }
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
