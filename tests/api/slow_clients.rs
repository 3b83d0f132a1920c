//! Slow and silent clients are cut off by the settings' deadlines, while everyone else is served
//! meanwhile. Deadlines are shortened by settings so the tests stay fast; every wait is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use shared::paths;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, expect_status, spawn_app_with};

const SHORT: &[&str] = &["--header-read-timeout", "1s", "--idle-timeout", "2s", "--body-read-timeout", "1s"];

/// Reads until the server closes the connection (or `within` passes); what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&received).into_owned(), Some(started.elapsed()));
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), None),
        }
    }
}

/// Sends `bytes` one at a time, `pause` apart, stopping quietly when the server has closed.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], pause: Duration) {
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

async fn health_is_served(app: &TestApp) {
    expect_status(app.client.get(app.url(paths::HEALTH)).send().await.unwrap(), StatusCode::OK).await;
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(SHORT).await;
    let mut silent = connect(app.addr).await;
    health_is_served(&app).await;
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(10)).await;
    let closed = closed.expect("a silent connection stays open");
    assert!(closed >= Duration::from_millis(900), "closed before its deadline: {closed:?}");
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_off() {
    let app = spawn_app_with(SHORT).await;
    let mut slow = connect(app.addr).await;
    let head = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\n\r\n", paths::HEALTH, "a".repeat(40));
    let started = Instant::now();
    // 100 bytes at 5 a second would take 20 s; the head timeout is 1 s.
    let sending = trickle(&mut slow, head.as_bytes(), Duration::from_millis(200));
    tokio::time::timeout(Duration::from_secs(30), sending).await.unwrap();
    health_is_served(&app).await;
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the trickled connection is still open");
    assert!(!answer.contains("200 OK"), "a trickled head was answered: {answer}");
    assert!(started.elapsed() < Duration::from_secs(15), "cut off late: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_body_trickled_past_the_body_timeout_gets_408_in_the_envelope() {
    let app = spawn_app_with(SHORT).await;
    let mut slow = connect(app.addr).await;
    let body = r#"{"email":"a@example.com","password":"x"}"#;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        paths::LOGIN,
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let sending = trickle(&mut slow, body.as_bytes(), Duration::from_millis(200));
    tokio::time::timeout(Duration::from_secs(30), sending).await.unwrap();
    health_is_served(&app).await;
    let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_but_a_long_request_is_not() {
    let app = spawn_app_with(&["--idle-timeout", "1s", "--header-read-timeout", "5s"]).await;
    let mut idle = connect(app.addr).await;
    let request = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", paths::HEALTH);
    idle.write_all(request.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed.is_some(), "an idle keep-alive connection stays open");

    // A request that takes longer than the idle timeout is work in progress, not idleness.
    let (_, login) = app.new_session().await;
    let echo = format!("{}?delay_ms=2500", paths::DEMO_ECHO);
    let response = app.client.get(app.url(&echo)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    expect_status(response, StatusCode::OK).await;
}

#[tokio::test]
async fn a_request_over_its_deadline_gets_408() {
    let app = spawn_app_with(&["--request-timeout", "1s"]).await;
    let (_, login) = app.new_session().await;
    let echo = format!("{}?delay_ms=3000", paths::DEMO_ECHO);
    let response = app.client.get(app.url(&echo)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    crate::helpers::expect_error(response, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_and_are_served_when_one_closes() {
    let app = spawn_app_with(&[
        "--max-connections",
        "2",
        "--max-connections-per-address",
        "2",
        "--header-read-timeout",
        "2s",
    ])
    .await;
    let held = [connect(app.addr).await, connect(app.addr).await];
    let started = Instant::now();
    // Served once a held connection's head deadline closes it.
    health_is_served(&app).await;
    assert!(started.elapsed() >= Duration::from_millis(1500), "served past the cap at once");
    drop(held);
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame: 9-byte header (length, type, flags, stream) and the payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A cleartext HTTP/2 connection (prior knowledge) that has sent its preface and empty SETTINGS.
async fn h2_connect(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(H2_PREFACE).await.unwrap();
    stream.write_all(&h2_frame(0x4, 0, 0, &[])).await.unwrap();
    stream
}

/// Sends a PING every `every` until the server closes the connection or `within` passes; how long
/// the connection lasted, if it was closed.
async fn ping_until_closed(mut stream: TcpStream, every: Duration, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < within {
        if stream.write_all(&h2_frame(0x6, 0, 0, &[7; 8])).await.is_err() {
            return Some(started.elapsed());
        }
        // Closed (or failed) is the answer; a timeout or bytes mean the connection is still open.
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(every, stream.read(&mut buffer)).await {
            return Some(started.elapsed());
        }
    }
    None
}

fn h2_client() -> reqwest::Client {
    reqwest::Client::builder().http2_prior_knowledge().build().unwrap()
}

#[tokio::test]
async fn an_http2_connection_that_only_pings_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(SHORT).await;
    let pinging = h2_connect(app.addr).await;
    let lasted = ping_until_closed(pinging, Duration::from_millis(200), Duration::from_secs(10)).await;
    let lasted = lasted.expect("PINGs held the connection open");
    assert!(lasted < Duration::from_secs(5), "closed late: {lasted:?}");
    // A real HTTP/2 client is served meanwhile, and a request longer than the idle deadline is work.
    let response = h2_client().get(app.url(paths::HEALTH)).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    expect_status(response, StatusCode::OK).await;
}

#[tokio::test]
async fn an_http2_request_longer_than_the_idle_deadline_is_served() {
    let app = spawn_app_with(&["--idle-timeout", "1s", "--header-read-timeout", "1s"]).await;
    let (_, login) = app.new_session().await;
    let echo = format!("{}?delay_ms=2500", paths::DEMO_ECHO);
    let response = h2_client().get(app.url(&echo)).bearer_auth(&login.tokens.access_token).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    expect_status(response, StatusCode::OK).await;
}

#[tokio::test]
async fn http2_headers_trickled_byte_by_byte_are_cut_off() {
    let app = spawn_app_with(SHORT).await;
    let mut slow = h2_connect(app.addr).await;
    // A HEADERS frame for stream 1 whose 120-byte block would take 26 s at 5 bytes a second.
    let headers = h2_frame(0x1, 0x4 | 0x1, 1, &[0x82; 120]);
    let started = Instant::now();
    let sending = trickle(&mut slow, &headers, Duration::from_millis(200));
    tokio::time::timeout(Duration::from_secs(40), sending).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the trickle went on for {:?}", started.elapsed());
    health_is_served(&app).await;
}

/// Two connections that only PING hold both places; an HTTP/1.1 client waits for the head deadline
/// to free one, not forever.
#[tokio::test]
async fn http2_pings_cannot_hold_the_connection_cap_against_http1_clients() {
    let app = spawn_app_with(&[
        "--max-connections",
        "2",
        "--max-connections-per-address",
        "2",
        "--header-read-timeout",
        "1s",
        "--idle-timeout",
        "60s",
    ])
    .await;
    let pingers: Vec<_> = [h2_connect(app.addr).await, h2_connect(app.addr).await]
        .into_iter()
        .map(|stream| tokio::spawn(ping_until_closed(stream, Duration::from_millis(100), Duration::from_secs(20))))
        .collect();
    let served = tokio::time::timeout(Duration::from_secs(10), app.client.get(app.url(paths::HEALTH)).send()).await;
    let served = served.expect("an HTTP/1.1 client waited behind PINGs").unwrap();
    expect_status(served, StatusCode::OK).await;
    for pinger in pingers {
        assert!(pinger.await.unwrap().is_some(), "a PING-only connection stayed open");
    }
}

/// One address may hold its share of the connections, not all of them: past it its new connections
/// are closed at once, while another address is served.
#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(&[
        "--max-connections",
        "4",
        "--max-connections-per-address",
        "2",
        "--header-read-timeout",
        "5s",
    ])
    .await;
    let from = |address: &str| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(address.parse().unwrap(), 0)).unwrap();
        socket.connect(app.addr)
    };
    let _held = [from("127.0.0.2").await.unwrap(), from("127.0.0.2").await.unwrap()];
    let mut third = from("127.0.0.2").await.unwrap();
    let (_, closed) = read_until_closed(&mut third, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "a third connection from one address was kept");
    let started = Instant::now();
    health_is_served(&app).await;
    assert!(started.elapsed() < Duration::from_secs(2), "another address waited {:?}", started.elapsed());
}
