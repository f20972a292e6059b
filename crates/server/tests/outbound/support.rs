//! A tiny HTTP/1.1 server on loopback whose every response is scripted, and
//! a listener that only counts connections. Outbound traffic in tests goes
//! only to these (ARCHITECTURE "Tests").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atauth_server::fetch::{FetchPolicy, SafeFetcher, StaticResolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send `Content-Length` (otherwise the body ends when the connection closes).
    pub content_length: bool,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Send the body one byte at a time with this pause between bytes.
    pub trickle: Option<Duration>,
}

impl Route {
    pub fn json(body: &str) -> Route {
        Route {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            content_length: true,
            delay: Duration::ZERO,
            trickle: None,
        }
    }

    pub fn status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without_header(mut self, name: &str) -> Route {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub fn no_content_length(mut self) -> Route {
        self.content_length = false;
        self
    }

    pub fn delay(mut self, d: Duration) -> Route {
        self.delay = d;
        self
    }

    pub fn trickle(mut self, d: Duration) -> Route {
        self.trickle = Some(d);
        self
    }
}

/// The scripted server. Requests are counted per path.
pub struct TestServer {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(routes: Vec<(&str, Route)>) -> TestServer {
        let routes: Vec<(String, Route)> = routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect();
        Self::start_with(move |_| routes).await
    }

    /// Routes built once the address is known (documents naming the port).
    pub async fn start_with(routes: impl FnOnce(SocketAddr) -> Vec<(String, Route)>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<HashMap<String, Route>> = Arc::new(routes(addr).into_iter().collect());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let task_hits = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                let hits = task_hits.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &routes, &hits).await;
                });
            }
        });
        TestServer { addr, hits, task }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).unwrap()
    }

    /// Requests received for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    routes: &HashMap<String, Route>,
    hits: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    *hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
    let route = routes
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Route::json("{}").status(404));
    tokio::time::sleep(route.delay).await;
    let mut out = format!(
        "HTTP/1.1 {} Scripted\r\nConnection: close\r\n",
        route.status
    );
    for (n, v) in &route.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if route.content_length {
        out.push_str(&format!("Content-Length: {}\r\n", route.body.len()));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    match route.trickle {
        None => stream.write_all(&route.body).await?,
        Some(pause) => {
            for b in &route.body {
                stream.write_all(&[*b]).await?;
                stream.flush().await?;
                tokio::time::sleep(pause).await;
            }
        }
    }
    stream.shutdown().await
}

/// A listener that accepts and counts connections and never answers:
/// proves that a refused fetch made no connection.
pub struct CountingListener {
    pub addr: SocketAddr,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingListener {
    /// Bind on `ip:0`; `None` when the address family is unavailable.
    pub async fn bind(ip: &str) -> Option<CountingListener> {
        let listener = TcpListener::bind(format!("{ip}:0")).await.ok()?;
        let addr = listener.local_addr().ok()?;
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        Some(CountingListener { addr, count, task })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far, after giving stragglers a moment.
    pub async fn connections(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for CountingListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A policy for talking to the loopback test server: http and loopback on.
pub fn loopback_policy() -> FetchPolicy {
    FetchPolicy {
        allow_loopback: true,
        allow_http: true,
        ..FetchPolicy::default()
    }
}

pub fn fetcher(policy: FetchPolicy) -> SafeFetcher {
    SafeFetcher::new(policy).unwrap()
}

pub fn fetcher_with(policy: FetchPolicy, resolver: StaticResolver) -> SafeFetcher {
    SafeFetcher::with_resolver(policy, Arc::new(resolver)).unwrap()
}
