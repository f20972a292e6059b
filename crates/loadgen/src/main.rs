//! `atauth-loadgen`: a load generator for atauth.
//!
//! Runs one scenario against a server on this machine's loopback
//! interface, with `--concurrency` workers for `--duration`, and prints
//! requests/s, latency percentiles, errors by kind, nonce retries and
//! (with `--server-pid`) the server's CPU seconds and peak RSS.
//!
//! Scenarios:
//! - `metadata`: `GET /.well-known/oauth-authorization-server`;
//! - `par`: `POST /oauth/par` with a fresh DPoP proof per request,
//!   following the nonce protocol (each worker keeps the latest
//!   `DPoP-Nonce` and retries once on `use_dpop_nonce`);
//! - `token-code`: the authorization-code exchange. A setup phase makes
//!   the codes: PAR over HTTP, then approval through the store
//!   (`RequestStore::issue_code`) for an account the generator creates in
//!   the same database (`--database-url`); only the exchanges are timed;
//! - `token-refresh`: each worker holds one session (made as above) and
//!   refreshes it in a loop, carrying the rotated refresh token;
//! - `resource`: each worker holds one session and calls
//!   `com.atproto.server.getSession` with `Authorization: DPoP` and a
//!   proof carrying `ath`, following the resource server's nonce.

mod dpop;
mod proc_stats;
mod report;
mod setup;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use url::Url;

use crate::dpop::{form_body, DpopKey};
use crate::report::{Report, WorkerStats};

/// The atproto OAuth redirect URI of the generator's loopback client.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The scope every session asks for.
pub const SCOPE: &str = "atproto transition:generic";
/// The XRPC endpoint of the `resource` scenario.
pub const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";
/// The authorization server metadata document.
pub const METADATA: &str = "/.well-known/oauth-authorization-server";

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// GET the authorization server metadata.
    Metadata,
    /// Pushed authorization requests with DPoP.
    Par,
    /// Authorization-code exchanges (codes prepared in a setup phase).
    TokenCode,
    /// Refresh-token rotations, one chain per worker.
    TokenRefresh,
    /// getSession with a DPoP-bound access token.
    Resource,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Metadata => "metadata",
            Scenario::Par => "par",
            Scenario::TokenCode => "token-code",
            Scenario::TokenRefresh => "token-refresh",
            Scenario::Resource => "resource",
        }
    }
}

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "atauth-loadgen", version, about = "Load generator for atauth")]
pub struct Args {
    /// Base URL the requests go to; must be a loopback address
    /// (e.g. http://127.0.0.1:2583).
    #[arg(long)]
    target: String,
    /// The server's issuer (the origin DPoP proofs name in `htu`), e.g.
    /// http://localhost:2583. Default: the `issuer` of the target's
    /// metadata document.
    #[arg(long)]
    issuer: Option<String>,
    /// The scenario to run.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Concurrent workers (each one request at a time).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to measure: `20s`, `500ms`, `2m`, or plain seconds.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// The server's database (needed by token-code, token-refresh and
    /// resource to create an account and approve requests): the same
    /// `sqlite://…` or `postgres://…` URL the server uses.
    #[arg(long)]
    database_url: Option<String>,
    /// Codes prepared per worker for `token-code` (a worker stops early
    /// when its codes run out; the report says so).
    #[arg(long, default_value_t = 600)]
    codes_per_worker: usize,
    /// Live sessions to add to the database before the run (setup, through
    /// the store; needs --database-url): to measure the server with a
    /// realistic number of signed-in apps, e.g. 100000.
    #[arg(long, default_value_t = 0)]
    live_sessions: usize,
    /// The server's process id, to report its CPU seconds and peak RSS
    /// over the run (read from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
}

/// `20s`, `500ms`, `2m`, `1h` or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 20s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Everything a worker shares with the others.
pub struct Shared {
    /// The HTTP client (one connection pool).
    pub http: reqwest::Client,
    /// Target base URL, without a trailing slash.
    pub target: String,
    /// Issuer origin, without a trailing slash.
    pub issuer: String,
    /// The loopback development client_id.
    pub client_id: String,
}

impl Shared {
    /// The URL a request for `path` goes to.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.target, path)
    }
    /// The `htu` of a proof for `path`.
    pub fn htu(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// The outcome of one request, read fully.
pub struct Reply {
    pub status: u16,
    pub nonce: Option<String>,
    pub json: serde_json::Value,
}

impl Reply {
    /// The OAuth / XRPC `error` of the body, or "".
    pub fn error(&self) -> &str {
        self.json
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("")
    }
    /// The error kind as reported: status plus error code.
    pub fn kind(&self) -> String {
        match self.error() {
            "" => format!("HTTP {}", self.status),
            e => format!("HTTP {} {e}", self.status),
        }
    }
}

/// Send and read a response; transport failures become an error kind.
pub async fn send(req: reqwest::RequestBuilder) -> Result<Reply, String> {
    let resp = req.send().await.map_err(transport_kind)?;
    let status = resp.status().as_u16();
    let nonce = resp
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.map_err(transport_kind)?;
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Ok(Reply {
        status,
        nonce,
        json,
    })
}

fn transport_kind(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "transport: timeout".into()
    } else if e.is_connect() {
        "transport: connect".into()
    } else if e.is_body() || e.is_decode() {
        "transport: body".into()
    } else {
        "transport: other".into()
    }
}

/// A worker's DPoP state toward one server (AS or RS): the key and the
/// latest nonce it was given.
pub struct DpopSession {
    pub key: DpopKey,
    pub nonce: Option<String>,
}

impl DpopSession {
    pub fn new(key: DpopKey) -> Self {
        DpopSession { key, nonce: None }
    }

    /// POST a form with a fresh proof; on `use_dpop_nonce` with a new
    /// nonce, retry once. Returns the reply and whether it was retried.
    pub async fn post_form(
        &mut self,
        shared: &Shared,
        path: &str,
        form: &[(&str, &str)],
    ) -> (Result<Reply, String>, bool) {
        let htu = shared.htu(path);
        let body = form_body(form);
        let mut retried = false;
        loop {
            let proof = self.key.proof("POST", &htu, self.nonce.as_deref(), None);
            let req = shared
                .http
                .post(shared.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("DPoP", proof)
                .body(body.clone());
            let reply = match send(req).await {
                Ok(r) => r,
                Err(e) => return (Err(e), retried),
            };
            let stale = reply.error() == "use_dpop_nonce"
                && reply.nonce.is_some()
                && reply.nonce != self.nonce;
            if reply.nonce.is_some() {
                self.nonce.clone_from(&reply.nonce);
            }
            if stale && !retried {
                retried = true;
                continue;
            }
            return (Ok(reply), retried);
        }
    }

    /// GET `path` with `Authorization: DPoP <token>` and a proof carrying
    /// `ath`, retrying once on `use_dpop_nonce`.
    pub async fn get_resource(
        &mut self,
        shared: &Shared,
        path: &str,
        ath: &str,
        authorization: &str,
    ) -> (Result<Reply, String>, bool) {
        let htu = shared.htu(path);
        let mut retried = false;
        loop {
            let proof = self
                .key
                .proof("GET", &htu, self.nonce.as_deref(), Some(ath));
            let req = shared
                .http
                .get(shared.url(path))
                .header("Authorization", authorization)
                .header("DPoP", proof);
            let reply = match send(req).await {
                Ok(r) => r,
                Err(e) => return (Err(e), retried),
            };
            let stale = reply.error() == "use_dpop_nonce"
                && reply.nonce.is_some()
                && reply.nonce != self.nonce;
            if reply.nonce.is_some() {
                self.nonce.clone_from(&reply.nonce);
            }
            if stale && !retried {
                retried = true;
                continue;
            }
            return (Ok(reply), retried);
        }
    }
}

/// Refuse anything but a loopback http(s) target.
fn check_target(target: &str) -> anyhow::Result<String> {
    let url = Url::parse(target).with_context(|| format!("--target {target:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--target must be http or https");
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        bail!("--target must be a loopback address (127.0.0.1, ::1 or localhost): the generator only loads a server on this machine");
    }
    Ok(target.trim_end_matches('/').to_string())
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let target = check_target(&args.target)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(args.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    let issuer = match &args.issuer {
        Some(i) => i.trim_end_matches('/').to_string(),
        None => {
            let r = send(http.get(format!("{target}{METADATA}")))
                .await
                .map_err(|e| anyhow::anyhow!("metadata: {e}"))?;
            r.json
                .get("issuer")
                .and_then(|v| v.as_str())
                .context("the metadata has no issuer; pass --issuer")?
                .trim_end_matches('/')
                .to_string()
        }
    };
    let client_id = format!(
        "http://localhost?redirect_uri={}&scope={}",
        urlencode(REDIRECT_URI),
        urlencode(SCOPE)
    );
    let shared = Arc::new(Shared {
        http,
        target,
        issuer,
        client_id,
    });

    // Setup (not timed).
    let setup_start = Instant::now();
    let mut states = setup::prepare(&args, &shared).await?;
    let setup_secs = setup_start.elapsed().as_secs_f64();
    eprintln!(
        "setup done in {setup_secs:.1} s; running {} for {:.1} s at concurrency {}",
        args.scenario.name(),
        args.duration.as_secs_f64(),
        args.concurrency
    );

    let server_before = args.server_pid.map(proc_stats::Snapshot::of_pid);
    let hwm_reset = args.server_pid.map(proc_stats::reset_peak_rss);
    let self_before = proc_stats::Snapshot::of_self();
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + args.duration;
    let mut handles = Vec::with_capacity(args.concurrency);
    for state in states.drain(..) {
        let shared = shared.clone();
        handles.push(tokio::spawn(worker(shared, state, deadline)));
    }
    let mut stats = WorkerStats::default();
    let mut join_errors = 0u64;
    for h in handles {
        match h.await {
            Ok(s) => stats.merge(s),
            Err(_) => join_errors += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let server_after = args.server_pid.map(proc_stats::Snapshot::of_pid);
    let self_after = proc_stats::Snapshot::of_self();
    if join_errors > 0 {
        *stats
            .errors
            .entry("worker panicked".to_string())
            .or_default() += join_errors;
    }

    let report = Report::build(report::Inputs {
        scenario: args.scenario.name(),
        target: &shared.target,
        concurrency: args.concurrency,
        elapsed,
        setup_secs,
        stats,
        server: match (server_before, server_after) {
            (Some(Ok(b)), Some(Ok(a))) => Some((b, a)),
            _ => None,
        },
        hwm_reset: hwm_reset.unwrap_or(false),
        generator: match (self_before, self_after) {
            (Ok(b), Ok(a)) => Some((b, a)),
            _ => None,
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// What one worker works with, made by the setup phase.
pub enum WorkerState {
    /// `metadata`: nothing.
    Metadata,
    /// `par`: its DPoP key and nonce.
    Par(DpopSession),
    /// `token-code`: its DPoP state and prepared (code, verifier) pairs.
    TokenCode(DpopSession, Vec<(String, String)>),
    /// `token-refresh`: its DPoP state and the current refresh token.
    TokenRefresh(DpopSession, String),
    /// `resource`: the RS DPoP state and the access token.
    Resource(DpopSession, String),
}

/// Time one operation and record it.
fn record(stats: &mut WorkerStats, t0: Instant, outcome: &Result<Reply, String>, ok: u16) {
    let micros = t0.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
    match outcome {
        Ok(r) if r.status == ok => {
            stats.ok += 1;
            stats.latencies_us.push(micros);
        }
        Ok(r) => {
            stats.latencies_us.push(micros);
            *stats.errors.entry(r.kind()).or_default() += 1;
        }
        Err(kind) => *stats.errors.entry(kind.clone()).or_default() += 1,
    }
}

async fn worker(
    shared: Arc<Shared>,
    state: WorkerState,
    deadline: tokio::time::Instant,
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let sh = &*shared;
    let before = |d: tokio::time::Instant| tokio::time::Instant::now() < d;
    match state {
        WorkerState::Metadata => {
            while before(deadline) {
                let t0 = Instant::now();
                let out =
                    tokio::time::timeout_at(deadline, send(sh.http.get(sh.url(METADATA)))).await;
                let Ok(out) = out else { break };
                record(&mut stats, t0, &out, 200);
            }
        }
        WorkerState::Par(mut dpop) => {
            while before(deadline) {
                let (_, challenge) = dpop::pkce();
                let state = dpop::random_b64(12);
                let form = [
                    ("client_id", sh.client_id.as_str()),
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", SCOPE),
                    ("state", state.as_str()),
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S256"),
                ];
                let t0 = Instant::now();
                let out =
                    tokio::time::timeout_at(deadline, dpop.post_form(sh, "/oauth/par", &form))
                        .await;
                let Ok((out, retried)) = out else { break };
                stats.nonce_retries += u64::from(retried);
                record(&mut stats, t0, &out, 201);
            }
        }
        WorkerState::TokenCode(mut dpop, codes) => {
            let mut codes = codes.into_iter();
            while before(deadline) {
                let Some((code, verifier)) = codes.next() else {
                    stats.exhausted = true;
                    break;
                };
                let form = [
                    ("grant_type", "authorization_code"),
                    ("client_id", sh.client_id.as_str()),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", verifier.as_str()),
                ];
                let t0 = Instant::now();
                let out =
                    tokio::time::timeout_at(deadline, dpop.post_form(sh, "/oauth/token", &form))
                        .await;
                let Ok((out, retried)) = out else { break };
                stats.nonce_retries += u64::from(retried);
                record(&mut stats, t0, &out, 200);
            }
        }
        WorkerState::TokenRefresh(mut dpop, mut refresh) => {
            while before(deadline) {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", sh.client_id.as_str()),
                    ("refresh_token", refresh.as_str()),
                ];
                let t0 = Instant::now();
                let out =
                    tokio::time::timeout_at(deadline, dpop.post_form(sh, "/oauth/token", &form))
                        .await;
                let Ok((out, retried)) = out else { break };
                stats.nonce_retries += u64::from(retried);
                record(&mut stats, t0, &out, 200);
                let next = match &out {
                    Ok(r) if r.status == 200 => r
                        .json
                        .get("refresh_token")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    _ => None,
                };
                match next {
                    Some(t) => refresh = t,
                    None => {
                        // The chain is broken (or the token was not
                        // rotated): this worker stops rather than
                        // hammering with a dead token.
                        stats.broken_chains += 1;
                        break;
                    }
                }
            }
        }
        WorkerState::Resource(mut dpop, access) => {
            let ath = dpop::ath(&access);
            let authorization = format!("DPoP {access}");
            while before(deadline) {
                let t0 = Instant::now();
                let out = tokio::time::timeout_at(
                    deadline,
                    dpop.get_resource(sh, GET_SESSION, &ath, &authorization),
                )
                .await;
                let Ok((out, retried)) = out else { break };
                stats.nonce_retries += u64::from(retried);
                record(&mut stats, t0, &out, 200);
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn only_loopback_targets() {
        assert!(check_target("http://127.0.0.1:2583/").is_ok());
        assert!(check_target("http://localhost:2583").is_ok());
        assert!(check_target("http://[::1]:2583").is_ok());
        assert!(check_target("http://10.0.0.1:2583").is_err());
        assert!(check_target("http://example.com").is_err());
        assert!(check_target("ftp://127.0.0.1").is_err());
    }
}
