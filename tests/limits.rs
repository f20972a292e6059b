//! Request limits (issue 11 part 5, `[limits]`, `atauth_server::limits`):
//! body and head size caps, the per-IP rate of the OAuth endpoints, slow
//! clients and the connection cap, each against the real binary. Raw TCP
//! where the test must control the bytes on the wire.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::client::{read, TestClient};
use crate::support::flow::free_port;
use crate::support::{http, Server, TestEnv};

const SCOPE: &str = "atproto transition:generic";
const FORM: &str = "application/x-www-form-urlencoded";

/// `host:port` of a server.
fn host(s: &Server) -> String {
    s.addr.trim_start_matches("http://").to_string()
}

/// Everything the server sends until it closes the connection (or `wait`
/// passes): the raw response text.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> String {
    let mut buf = Vec::new();
    let _ = timeout(wait, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status code of a raw response ("HTTP/1.1 413 Payload Too Large").
fn status_of(raw: &str) -> Option<u16> {
    raw.split_whitespace().nth(1)?.parse().ok()
}

/// The JSON body of a raw response.
fn json_of(raw: &str) -> serde_json::Value {
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Send one request whose `Content-Length` promises more than the cap,
/// without its body, and read the answer: the cap is applied before
/// anything is read.
async fn declared_too_large(s: &Server, path: &str) -> String {
    let mut c = TcpStream::connect(host(s)).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
        host(s)
    );
    c.write_all(head.as_bytes()).await.expect("write head");
    read_until_closed(&mut c, Duration::from_secs(20)).await
}

async fn metrics_line(metrics_addr: &str, limit: &str) -> String {
    let text = http()
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let prefix = format!("atauth_limit_hits_total{{limit=\"{limit}\"}} ");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in\n{text}"))
        .to_string()
}

#[tokio::test]
async fn declared_oversized_body_is_refused_413_before_it_is_read_on_every_oauth_endpoint() {
    let env = TestEnv::new();
    let port = free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let s = env.serve(&[("ATAUTH_METRICS__LISTEN", &metrics_addr)]);
    for path in ["/oauth/par", "/oauth/token", "/oauth/revoke"] {
        let raw = declared_too_large(&s, path).await;
        assert_eq!(status_of(&raw), Some(413), "{path}: {raw}");
        let body = json_of(&raw);
        assert_eq!(body["error"], "invalid_request", "{path}: {raw}");
        assert!(
            raw.to_ascii_lowercase()
                .contains("access-control-allow-origin: *"),
            "{path}: CORS on the refusal: {raw}"
        );
    }
    // Also a route that takes no body at all.
    let raw = declared_too_large(&s, "/xrpc/com.atproto.server.getSession").await;
    assert_eq!(status_of(&raw), Some(413), "{raw}");
    assert_eq!(env.count_rows("authorization_requests"), 0);
    assert_eq!(
        metrics_line(&metrics_addr, "body").await,
        "atauth_limit_hits_total{limit=\"body\"} 4"
    );
}

#[tokio::test]
async fn streamed_body_without_length_is_cut_off_at_the_configured_cap() {
    let env = TestEnv::new();
    let s = env.serve(&[("ATAUTH_LIMITS__MAX_BODY_BYTES", "2048")]);
    let c = TestClient::loopback(&s, SCOPE);
    // Chunked, so no Content-Length: the stream cap refuses it, and the
    // PAR stores nothing.
    let body = format!(
        "client_id={}&state={}",
        crate::support::client::urlencode(&c.client_id),
        "a".repeat(4096)
    );
    let mut conn = TcpStream::connect(host(&s)).await.expect("connect");
    let head = format!(
        "POST /oauth/par HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        host(&s)
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    for chunk in body.as_bytes().chunks(512) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if conn.write_all(&framed).await.is_err() {
            break; // answered and closed already
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let raw = read_until_closed(&mut conn, Duration::from_secs(20)).await;
    assert_eq!(status_of(&raw), Some(413), "{raw}");
    let r = json_of(&raw);
    assert_eq!(r["error"], "invalid_request", "{raw}");
    assert!(
        r["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("2048")),
        "{raw}"
    );
    assert_eq!(env.count_rows("authorization_requests"), 0);

    // Under the cap, the same endpoint reads the body as usual.
    let (r, _) = c.par(&[]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
}

#[tokio::test]
async fn oversized_body_on_a_browser_page_gets_the_413_page() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http()
        .post(s.url("/oauth/authorize/sign-in"))
        .header("content-type", FORM)
        .header("origin", s.issuer.as_str())
        .body(format!("csrf=x&password={}", "a".repeat(70 * 1024)))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
}

#[tokio::test]
async fn oversized_head_is_refused_431() {
    let env = TestEnv::new();
    let s = env.serve(&[("ATAUTH_LIMITS__MAX_HEADER_BYTES", "8192")]);
    // Over the configured cap: atauth's JSON 431, with CORS.
    let r = http()
        .post(s.url("/oauth/token"))
        .header("content-type", FORM)
        .header("x-padding", "a".repeat(9000))
        .body("grant_type=refresh_token")
        .send()
        .await
        .expect("send");
    let r = read(r).await;
    assert_eq!(
        (r.status, r.error()),
        (431, "invalid_request"),
        "{:?}",
        r.json
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Under it, the request goes through to the endpoint's own checks.
    let r = http()
        .post(s.url("/oauth/token"))
        .header("content-type", FORM)
        .header("x-padding", "a".repeat(4000))
        .body("grant_type=refresh_token")
        .send()
        .await
        .expect("send");
    assert_ne!(r.status(), 431);
    // Beyond actix's own buffer (128 KiB) the connection is answered 431
    // by actix and closed, before atauth sees it.
    let mut c = TcpStream::connect(host(&s)).await.expect("connect");
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: {}\r\nX-Padding: {}\r\n\r\n",
        host(&s),
        "a".repeat(200 * 1024)
    );
    let _ = c.write_all(head.as_bytes()).await;
    let raw = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert_eq!(status_of(&raw), Some(431), "{raw:.200}");
}

#[tokio::test]
async fn per_ip_limit_answers_429_with_retry_after_and_cors() {
    let env = TestEnv::new();
    let port = free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let s = env.serve(&[
        ("ATAUTH_METRICS__LISTEN", &metrics_addr),
        ("ATAUTH_LIMITS__EXEMPT_LOOPBACK", "false"),
        ("ATAUTH_LIMITS__OAUTH_REQUESTS_PER_MINUTE", "1"),
        ("ATAUTH_LIMITS__OAUTH_BURST", "2"),
    ]);
    let c = TestClient::loopback(&s, SCOPE);
    // Two requests of the burst reach the endpoint (refused for their
    // content, not for the rate).
    for _ in 0..2 {
        let r = c
            .post_raw("/oauth/token", &[("grant_type", "password")], &[])
            .await;
        assert_eq!(r.status, 400, "{:?}", r.json);
    }
    // The third, on another OAuth endpoint (one bucket per address), is
    // refused before anything runs: no PAR is stored.
    let (r, _) = c.par(&[]).await;
    assert_eq!((r.status, r.error()), (429, "rate_limited"), "{:?}", r.json);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("Retry-After")),
        "a browser client can read Retry-After"
    );
    assert_eq!(env.count_rows("authorization_requests"), 0);
    // Other routes are not limited.
    let r = http()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(r.status(), 200);
    assert_eq!(
        metrics_line(&metrics_addr, "rate").await,
        "atauth_limit_hits_total{limit=\"rate\"} 1"
    );
}

#[tokio::test]
async fn loopback_clients_are_exempt_from_the_per_ip_limit_by_default() {
    let env = TestEnv::new();
    let s = env.serve(&[
        ("ATAUTH_LIMITS__OAUTH_REQUESTS_PER_MINUTE", "1"),
        ("ATAUTH_LIMITS__OAUTH_BURST", "1"),
    ]);
    let c = TestClient::loopback(&s, SCOPE);
    for _ in 0..5 {
        let r = c
            .post_raw("/oauth/token", &[("grant_type", "password")], &[])
            .await;
        assert_eq!(r.status, 400, "{:?}", r.json);
    }
}

#[tokio::test]
async fn slow_request_head_is_cut_off() {
    let env = TestEnv::new();
    let s = env.serve(&[("ATAUTH_LIMITS__CLIENT_REQUEST_TIMEOUT_MS", "500")]);
    let mut c = TcpStream::connect(host(&s)).await.expect("connect");
    c.write_all(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("first bytes");
    // Trickle a header a byte at a time, far slower than the timeout
    // allows for the whole head: the server must close before the end.
    let header = "X-Slow: ".to_string() + &"a".repeat(200) + "\r\n\r\n";
    let mut answer = String::new();
    for b in header.bytes() {
        let sent = c.write_all(&[b]).await.is_ok();
        let mut buf = [0u8; 512];
        match timeout(Duration::from_millis(100), c.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                answer.push_str(&String::from_utf8_lossy(&buf[..n]));
                answer.push_str(&read_until_closed(&mut c, Duration::from_secs(10)).await);
                break;
            }
            Ok(_) => break,
            Err(_) if !sent => break,
            Err(_) => {}
        }
    }
    // Cut off before the head was complete, with 408.
    assert_eq!(status_of(&answer), Some(408), "{answer}");
}

#[tokio::test]
async fn slow_request_body_is_answered_408() {
    let env = TestEnv::new();
    let s = env.serve(&[("ATAUTH_LIMITS__BODY_TIMEOUT_SECS", "1")]);
    let mut c = TcpStream::connect(host(&s)).await.expect("connect");
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nContent-Length: 100\r\n\r\ngrant_type=",
        host(&s)
    );
    c.write_all(head.as_bytes()).await.expect("write");
    // The rest of the body never comes.
    let mut buf = vec![0u8; 4096];
    let n = timeout(Duration::from_secs(20), c.read(&mut buf))
        .await
        .expect("answered before the test's own limit")
        .expect("read");
    let raw = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(status_of(&raw), Some(408), "{raw}");
    assert_eq!(json_of(&raw)["error"], "invalid_request", "{raw}");
}

/// A keep-alive connection that has been answered once.
async fn open_connection(s: &Server) -> TcpStream {
    let mut c = TcpStream::connect(host(s)).await.expect("connect");
    let req = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", host(s));
    c.write_all(req.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let n = timeout(Duration::from_secs(20), c.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), Some(200));
    c
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let env = TestEnv::new();
    let s = env.serve(&[
        ("ATAUTH_WORKERS", "1"),
        ("ATAUTH_LIMITS__MAX_CONNECTIONS", "2"),
        ("ATAUTH_LIMITS__KEEP_ALIVE_SECS", "120"),
    ]);
    let first = open_connection(&s).await;
    let _second = open_connection(&s).await;
    // A third connection is queued, not served, while two are open.
    let addr = host(&s);
    let mut third = TcpStream::connect(&addr).await.expect("connect (backlog)");
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    third.write_all(req.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let early = timeout(Duration::from_secs(1), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the third connection was served over the cap"
    );
    // Closing one lets it in.
    drop(first);
    let raw = read_until_closed(&mut third, Duration::from_secs(20)).await;
    assert_eq!(status_of(&raw), Some(200), "{raw}");
}
