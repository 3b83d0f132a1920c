//! `herd [--storm-only] <base-url> <clients> <lifetime-s> <email> <password>`: N real `RefreshClient`s
//! (the crate's native transport, one process, one shared connection pool) on sessions the server opened
//! at one moment.
//! Prints, as `key=value` lines that `cargo xtask bench` reads:
//! - refresh requests per second over three token lifetimes, peak ÷ mean, with the refresh point's
//!   spreading (a new schedule's spread, then jitter) off and at its defaults;
//! - a wake-up storm: every token expired at once, every client sends one request: the time until the
//!   last succeeds, the refresh p99 on the wire (the server's time) and as clients saw it (with the wait
//!   for a slot in the pool), failures (5xx or transport), logouts;
//! - this process's CPU time as a share of the wall time of both cores.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;
use silent_refresh::native::{ReqwestTransport, SystemClock};
use silent_refresh::{
    ClientError, ClientEvent, Clock as _, Config, EnvelopeProtocol, Protocol as _, RefreshClient, RefreshMargin,
    Request, Response, Session, TokenGrant, Transport, TransportError,
};

type Client = RefreshClient<EnvelopeProtocol<Value>>;

/// The shared pool, with a bound on requests in flight (as one host's pool of connections would).
#[derive(Clone)]
struct Pooled {
    inner: ReqwestTransport,
    slots: Rc<tokio::sync::Semaphore>,
    /// How long each refresh call spent on the wire (from leaving this pool to its answer): the
    /// server's time, without the wait for a slot here.
    refresh_wire_ms: Rc<RefCell<Vec<u64>>>,
    /// The protocol's refresh path, whose calls are timed.
    refresh_path: String,
}

impl Transport for Pooled {
    async fn send(&self, request: &Request, bearer: Option<&str>) -> Result<Response, TransportError> {
        let _slot = self.slots.acquire().await.map_err(|_| TransportError::new("pool closed"))?;
        let sent = Instant::now();
        let answer = self.inner.send(request, bearer).await;
        if request.path == self.refresh_path {
            let elapsed = u64::try_from(sent.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.refresh_wire_ms.borrow_mut().push(elapsed);
        }
        answer
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let storm_only = args.first().is_some_and(|a| a == "--storm-only");
    if storm_only {
        args.remove(0);
    }
    let [base, clients, lifetime, email, password] = args.as_slice() else {
        eprintln!("usage: herd [--storm-only] <base-url> <clients> <lifetime-s> <email> <password>");
        std::process::exit(2);
    };
    let clients: usize = clients.parse().expect("clients");
    let lifetime: u64 = lifetime.parse().expect("lifetime");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let rounds = !storm_only;
    local.block_on(&runtime, run(base.clone(), clients, lifetime, email.clone(), password.clone(), rounds));
}

async fn run(base: String, clients: usize, lifetime: u64, email: String, password: String, rounds: bool) {
    let transport = Pooled {
        inner: ReqwestTransport::new(&base),
        slots: Rc::new(tokio::sync::Semaphore::new(256)),
        refresh_wire_ms: Rc::default(),
        refresh_path: EnvelopeProtocol::<Value>::default().refresh_request(None).path,
    };
    // The account the herd's sessions belong to, kept logged in by a client of its own.
    let owner: Client = RefreshClient::builder(EnvelopeProtocol::default(), transport.clone(), SystemClock).build();
    let credentials = serde_json::json!({"email": email, "password": password});
    owner.login(&Request::post("/api/auth/login").json(&credentials).expect("JSON")).await.expect("login");
    let cpu_start = cpu_seconds();
    let wall = Instant::now();
    let spreading = RefreshMargin::default();
    let margins = [("off", spreading.without_spreading()), ("on", spreading)];
    for (name, margin) in margins.into_iter().filter(|_| rounds) {
        let herd = open_herd(&transport, &owner, clients, margin).await;
        let (peak, mean) = refresh_rate(&herd, Duration::from_secs(lifetime * 3)).await;
        println!("spreading_{name}_peak={peak:.1}");
        println!("spreading_{name}_mean={mean:.1}");
        println!("spreading_{name}_ratio={:.2}", peak / mean.max(f64::MIN_POSITIVE));
    }
    let herd = open_herd(&transport, &owner, clients, spreading).await;
    storm(&herd, &transport).await;
    let cpu = cpu_seconds() - cpu_start;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
    println!("cpu_share={:.2}", cpu / (wall.elapsed().as_secs_f64() * cores));
}

/// A client and what it saw.
struct Member {
    client: Client,
    refresh_starts: Rc<RefCell<Vec<i64>>>,
    refresh_ms: Rc<RefCell<Vec<u64>>>,
    logouts: Rc<RefCell<u32>>,
}

/// N clients on sessions the server opened together.
async fn open_herd(transport: &Pooled, owner: &Client, clients: usize, margin: RefreshMargin) -> Vec<Member> {
    let request =
        Request::post("/api/test/sessions").query("count", clients.to_string()).timeout(Duration::from_secs(300));
    let pairs: Vec<Value> =
        owner.fetch(&request).await.expect("sessions opened (a backend built with the e2e feature)");
    let config = Config::builder().refresh_margin(margin).build();
    let now = SystemClock.now_ms();
    pairs
        .into_iter()
        .map(|pair| {
            let client = RefreshClient::builder(EnvelopeProtocol::<Value>::default(), transport.clone(), SystemClock)
                .config(config.clone())
                .build();
            let grant = TokenGrant::new(
                pair["access_token"].as_str().unwrap_or_default(),
                pair["refresh_token"].as_str().map(str::to_owned),
                pair["expires_in"].as_u64(),
                pair["refresh_expires_in"].as_u64(),
            );
            client.store().save(&Session::new(&grant, Value::Null, now)).expect("memory store");
            let member =
                Member { client, refresh_starts: Rc::default(), refresh_ms: Rc::default(), logouts: Rc::default() };
            let (starts, durations, logouts) =
                (Rc::clone(&member.refresh_starts), Rc::clone(&member.refresh_ms), Rc::clone(&member.logouts));
            member.client.subscribe(move |event| match event {
                ClientEvent::RefreshStarted { .. } => starts.borrow_mut().push(SystemClock.now_ms()),
                ClientEvent::RefreshSucceeded { duration_ms } => durations.borrow_mut().push(*duration_ms),
                ClientEvent::LoggedOut { .. } => *logouts.borrow_mut() += 1,
                _ => {}
            });
            member
        })
        .collect()
}

/// Drives every client's proactive refresh (as each one's driver would) for `span`; the busiest
/// second's refresh count and the mean per second.
async fn refresh_rate(herd: &[Member], span: Duration) -> (f64, f64) {
    let started = SystemClock.now_ms();
    let until = Instant::now() + span;
    while Instant::now() < until {
        for member in herd {
            let client = member.client.clone();
            if client.next_refresh_at().is_some_and(|due| due <= SystemClock.now_ms()) {
                tokio::task::spawn_local(async move {
                    let _ = client.refresh_if_due().await;
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = span.as_secs().max(1) as usize;
    let mut buckets = vec![0u32; seconds + 1];
    for member in herd {
        for at in member.refresh_starts.borrow().iter() {
            let second = usize::try_from((at - started) / 1000).unwrap_or(0).min(seconds);
            buckets[second] += 1;
        }
    }
    let total: u32 = buckets.iter().sum();
    let peak = buckets.iter().copied().max().unwrap_or(0);
    (f64::from(peak), f64::from(total) / seconds as f64)
}

/// Every token expired at once; every client sends one request.
async fn storm(herd: &[Member], transport: &Pooled) {
    let now = SystemClock.now_ms();
    for member in herd {
        let mut session = member.client.session().expect("a session");
        session.access_expires_at = now - 1;
        member.client.store().save(&session).expect("memory store");
        member.refresh_ms.borrow_mut().clear();
    }
    transport.refresh_wire_ms.borrow_mut().clear();
    let started = Instant::now();
    let request = Request::get("/api/me");
    let sends = herd.iter().map(|member| {
        let (client, request) = (member.client.clone(), request.clone());
        async move {
            let answer = client.send(&request).await;
            (answer, started.elapsed())
        }
    });
    let answers = futures::future::join_all(sends).await;
    let last = answers.iter().map(|(_, at)| *at).max().unwrap_or_default();
    let failures = answers.iter().filter(|(a, _)| !matches!(a, Ok(r) if r.is_success())).count();
    let server_errors =
        answers.iter().filter(|(a, _)| matches!(a, Err(ClientError::Api { status, .. }) if *status >= 500)).count();
    let logouts: u32 = herd.iter().map(|m| *m.logouts.borrow()).sum();
    println!("storm_last_ms={}", last.as_millis());
    println!("storm_refresh_p99_ms={}", p99(&transport.refresh_wire_ms.borrow()));
    let seen: Vec<u64> = herd.iter().flat_map(|m| m.refresh_ms.borrow().clone()).collect();
    println!("storm_client_refresh_p99_ms={}", p99(&seen));
    println!("storm_failures={failures}");
    println!("storm_5xx={server_errors}");
    println!("storm_logouts={logouts}");
}

fn p99(durations: &[u64]) -> u64 {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0)
}

/// This process's user and system CPU time, in seconds (Linux `/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: utime and stime are fields 12 and 13, in clock ticks (100 a second here).
    (ticks(11) + ticks(12)) / 100.0
}
