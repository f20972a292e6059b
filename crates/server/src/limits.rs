//! Request limits (issue 11, part 5): what one client may cost the server.
//!
//! | limit | where | answer |
//! | --- | --- | --- |
//! | body size ([`Limits::max_body_bytes`]) | every request: a declared `Content-Length` above it is refused before anything is read; a body streamed without a length is cut off at the cap | 413; the OAuth JSON error on the API paths, the error page on the browser pages |
//! | body time ([`Limits::body_timeout`]) | the whole body must arrive within it, from the handler's first read | 408 (`invalid_request`) |
//! | head size ([`Limits::max_header_bytes`]) | request line + headers | 431 JSON; beyond actix's own 128 KiB (or 96 headers) actix answers 431 and closes |
//! | per-IP rate ([`Limits::oauth_rate`]) | PAR, token, revoke, introspect | 429 `rate_limited` with `Retry-After` |
//! | slow request head ([`Limits::client_request_timeout`]) | actix: the head must arrive within it | 408, connection closed |
//! | idle keep-alive ([`Limits::keep_alive`]) | actix | connection closed |
//! | connections ([`Limits::max_connections`]) | actix, per worker | further connections wait in the listen backlog |
//!
//! The per-IP rate is a token bucket per client address (IPv6 grouped by
//! /64, the smallest block one subscriber usually gets). Loopback clients
//! are exempt by default ([`Limits::exempt_loopback`]): behind a reverse
//! proxy on the same host every request comes from loopback and one bucket
//! would throttle everyone (atauth does not trust `X-Forwarded-For`; rate
//! limit at the proxy then), and the test suite and the load generator run
//! on loopback. Buckets live in memory, per instance.
//!
//! Every refusal here is counted in `atauth_limit_hits_total{limit}`.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, Error, HttpMessage};
use atauth_core::metadata::paths;
use atauth_core::{ErrorCode, OAuthError};
use futures_util::Stream;

use crate::error::json_error_response;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Largest accepted body by default, bytes: the form cap of the OAuth
/// endpoints (`atauth_core::consts::MAX_FORM_BODY_BYTES`), which no
/// endpoint exceeds (none takes more than a form).
pub const DEFAULT_MAX_BODY_BYTES: usize = atauth_core::consts::MAX_FORM_BODY_BYTES;
/// Largest accepted request head by default, bytes. Policy: atauth's own
/// cookies and DPoP proofs need a few KiB; 32 KiB leaves room for a
/// proxy's additions.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// A per-IP request rate: `per_minute` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    /// Requests per minute, sustained (the bucket's refill rate).
    pub per_minute: u32,
    /// Requests at once (the bucket's size).
    pub burst: u32,
}

/// The limits of one server (see the module table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Largest request line + headers, bytes (each header counted as
    /// `name: value\r\n`).
    pub max_header_bytes: usize,
    /// Time for a whole request body to arrive.
    pub body_timeout: Duration,
    /// Time for a request head to arrive (actix `client_request_timeout`).
    pub client_request_timeout: Duration,
    /// Time to close a connection after the response (actix
    /// `client_disconnect_timeout`).
    pub client_disconnect_timeout: Duration,
    /// Idle keep-alive time; zero disables keep-alive.
    pub keep_alive: Duration,
    /// Open connections per worker (actix `max_connections`).
    pub max_connections: usize,
    /// Per-IP rate on the OAuth endpoints; `None`: no limit.
    pub oauth_rate: Option<RatePolicy>,
    /// Whether loopback clients skip the per-IP rate.
    pub exempt_loopback: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            body_timeout: Duration::from_secs(10),
            client_request_timeout: Duration::from_secs(5),
            client_disconnect_timeout: Duration::from_secs(1),
            keep_alive: Duration::from_secs(5),
            max_connections: 25_000,
            oauth_rate: Some(RatePolicy {
                per_minute: 300,
                burst: 60,
            }),
            exempt_loopback: true,
        }
    }
}

/// Which limit refused a request (the `limit` label of the metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Body larger than allowed.
    Body,
    /// Body too slow.
    BodyTimeout,
    /// Head larger than allowed.
    Header,
    /// Per-IP rate.
    Rate,
}

impl Hit {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Hit::Body => "body",
            Hit::BodyTimeout => "body_timeout",
            Hit::Header => "header",
            Hit::Rate => "rate",
        }
    }

    /// Every label value, for the metric's zeroes.
    pub const ALL: [Hit; 4] = [Hit::Body, Hit::BodyTimeout, Hit::Header, Hit::Rate];
}

/// The limits and the per-IP buckets, shared by every worker.
pub struct Enforcer {
    limits: Limits,
    buckets: Option<Buckets>,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Enforcer {
    /// An enforcer of `limits`.
    pub fn new(limits: Limits) -> Enforcer {
        let buckets = limits.oauth_rate.map(Buckets::new);
        Enforcer { limits, buckets }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Take one request of `ip` from its bucket; `Err(wait)` when empty.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match &self.buckets {
            Some(b) if !(self.limits.exempt_loopback && ip.is_loopback()) => b.take(ip, now),
            _ => Ok(()),
        }
    }
}

/// Whether a path is one of the OAuth endpoints under the per-IP rate.
pub fn is_rate_limited_path(path: &str) -> bool {
    matches!(
        path,
        paths::PAR | paths::TOKEN | paths::REVOKE | paths::INTROSPECT
    )
}

/// The key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by
/// its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client key, bounded in number (moka evicts the
/// least used; an evicted bucket starts full again).
struct Buckets {
    policy: RatePolicy,
    cache: moka::sync::Cache<IpAddr, Arc<Mutex<Bucket>>>,
}

/// Most client addresses tracked at once (memory bound, ~100 B each).
const MAX_TRACKED_ADDRESSES: u64 = 100_000;

impl Buckets {
    fn new(policy: RatePolicy) -> Buckets {
        // A bucket idle for the time it takes to refill is full: forget it.
        let refill = Duration::from_secs_f64(
            60.0 * f64::from(policy.burst.max(1)) / f64::from(policy.per_minute.max(1)),
        );
        Buckets {
            policy,
            cache: moka::sync::Cache::builder()
                .max_capacity(MAX_TRACKED_ADDRESSES)
                .time_to_idle(refill + Duration::from_secs(1))
                .build(),
        }
    }

    fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.policy.burst.max(1));
        let rate = f64::from(self.policy.per_minute.max(1)) / 60.0;
        let entry = self.cache.get_with(client_key(ip), || {
            Arc::new(Mutex::new(Bucket {
                tokens: burst,
                at: now,
            }))
        });
        let mut b = entry.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// The 413 of the API paths (also what `routes::form_body` answers).
pub fn body_too_large(max: usize) -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequest,
        format!("request body is larger than {max} bytes"),
    )
    .with_status(413)
}

/// The 408 of a body that did not arrive in time.
pub fn body_too_slow(timeout: Duration) -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequest,
        format!(
            "the request body did not arrive within {} s",
            timeout.as_secs()
        ),
    )
    .with_status(408)
}

/// Whether a payload error is [`LimitedBody`]'s timeout.
pub fn is_body_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// Size of the request head as counted against
/// [`Limits::max_header_bytes`]: method, target and version line, and
/// `name: value\r\n` per header.
pub fn head_bytes(req: &ServiceRequest) -> usize {
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.path().len(), |p| p.as_str().len());
    let line = req.method().as_str().len() + target + " HTTP/1.1\r\n".len() + 1;
    req.headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .fold(line, usize::saturating_add)
}

/// Middleware on the public app, inside CORS and the metrics observer (so
/// refusals carry CORS headers and are counted): the head cap, the declared
/// body size, the per-IP rate, then the body stream wrapped in its size and
/// time caps.
pub async fn enforce(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(enforcer) = req.app_data::<web::Data<Enforcer>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let limits = enforcer.limits();
    let refuse = |req: ServiceRequest, hit: Hit, err: OAuthError| {
        if let Some(m) = &metrics {
            m.limit_hit(hit.as_str());
        }
        Ok(req.into_response(json_error_response(&err)))
    };
    if head_bytes(&req) > limits.max_header_bytes {
        let err = OAuthError::new(
            ErrorCode::InvalidRequest,
            format!(
                "request headers are larger than {} bytes",
                limits.max_header_bytes
            ),
        )
        .with_status(431);
        return refuse(req, Hit::Header, err);
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let api = crate::cors::is_cors_path(req.path());
    // The browser pages answer with their own error page: their form
    // reader sees the overflow of the wrapped stream below at once.
    if api && declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return refuse(req, Hit::Body, body_too_large(limits.max_body_bytes));
    }
    if is_rate_limited_path(req.path()) {
        if let Some(ip) = req.peer_addr().map(|a| a.ip()) {
            if let Err(wait) = enforcer.take(ip, Instant::now()) {
                let secs = retry_after_secs(wait);
                let err = OAuthError::new(
                    ErrorCode::RateLimited,
                    format!("too many requests from this address; retry in {secs} s"),
                )
                .with_header("Retry-After", secs.to_string());
                return refuse(req, Hit::Rate, err);
            }
        }
    }
    // Only a request that announces a body gets the wrapped stream (GETs,
    // the bulk of the traffic, allocate nothing here).
    let has_body = declared.is_some_and(|n| n > 0)
        || req
            .headers()
            .contains_key(actix_web::http::header::TRANSFER_ENCODING);
    if !has_body {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let inner = req.take_payload();
    let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(LimitedBody {
        inner,
        remaining: limits.max_body_bytes,
        declared_too_large: declared.is_some_and(|n| n > limits.max_body_bytes as u64),
        timeout: limits.body_timeout,
        deadline: None,
        metrics,
        done: false,
    });
    req.set_payload(Payload::from(limited));
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// A request body capped in size and in time. Yields
/// [`PayloadError::Overflow`] past the size (at once when the declared
/// length is already too large) and an `Io` `TimedOut` error past the
/// time, which starts at the first read.
struct LimitedBody {
    inner: Payload,
    remaining: usize,
    declared_too_large: bool,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    metrics: Option<Arc<Metrics>>,
    done: bool,
}

impl LimitedBody {
    fn fail(&mut self, hit: Hit, err: PayloadError) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.done = true;
        if let Some(m) = &self.metrics {
            m.limit_hit(hit.as_str());
        }
        Poll::Ready(Some(Err(err)))
    }
}

impl Stream for LimitedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.declared_too_large {
            return self.fail(Hit::Body, PayloadError::Overflow);
        }
        let timeout = self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body too slow");
            return self.fail(Hit::BodyTimeout, PayloadError::Io(err));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if chunk.len() > self.remaining {
                    return self.fail(Hit::Body, PayloadError::Overflow);
                }
                self.remaining -= chunk.len();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn enforcer(per_minute: u32, burst: u32, exempt_loopback: bool) -> Enforcer {
        Enforcer::new(Limits {
            oauth_rate: Some(RatePolicy { per_minute, burst }),
            exempt_loopback,
            ..Limits::default()
        })
    }

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn burst_then_refusal_with_the_wait_until_one_token() {
        let e = enforcer(60, 3, true);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(e.take(CLIENT, t0), Ok(()));
        }
        let wait = e.take(CLIENT, t0).unwrap_err();
        // One request per second sustained: a whole token is 1 s away.
        assert_eq!(retry_after_secs(wait), 1);
        // After that second, one more request passes, and only one.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(e.take(CLIENT, t1), Ok(()));
        assert!(e.take(CLIENT, t1).is_err());
    }

    #[test]
    fn buckets_are_per_address() {
        let e = enforcer(60, 1, true);
        let t0 = Instant::now();
        assert_eq!(e.take(CLIENT, t0), Ok(()));
        assert!(e.take(CLIENT, t0).is_err());
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
        assert_eq!(e.take(other, t0), Ok(()));
    }

    #[test]
    fn ipv6_is_grouped_by_its_64_and_mapped_ipv4_is_ipv4() {
        let e = enforcer(60, 1, true);
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(e.take(a, t0), Ok(()));
        assert!(e.take(b, t0).is_err(), "same /64, same bucket");
        assert_eq!(e.take(c, t0), Ok(()));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(client_key(mapped), CLIENT);
        assert_eq!(
            client_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn loopback_is_exempt_only_when_configured() {
        let t0 = Instant::now();
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let exempt = enforcer(60, 1, true);
        for _ in 0..10 {
            assert_eq!(exempt.take(lo, t0), Ok(()));
        }
        let counted = enforcer(60, 1, false);
        assert_eq!(counted.take(lo, t0), Ok(()));
        assert!(counted.take(lo, t0).is_err());
    }

    #[test]
    fn no_rate_policy_means_no_limit() {
        let e = Enforcer::new(Limits {
            oauth_rate: None,
            exempt_loopback: false,
            ..Limits::default()
        });
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(e.take(CLIENT, t0), Ok(()));
        }
    }

    #[test]
    fn only_the_oauth_endpoints_are_rate_limited() {
        for p in [
            "/oauth/par",
            "/oauth/token",
            "/oauth/revoke",
            "/oauth/introspect",
        ] {
            assert!(is_rate_limited_path(p), "{p}");
        }
        for p in [
            "/oauth/authorize",
            "/oauth/jwks",
            "/.well-known/oauth-authorization-server",
            "/xrpc/com.atproto.server.getSession",
        ] {
            assert!(!is_rate_limited_path(p), "{p}");
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
