//! Operator metrics (issue 9), in the Prometheus text format
//! (OpenMetrics, `prometheus-client`).
//!
//! The numbers are always collected (atomic counters, cheap); they are
//! exposed only when `[metrics] listen` is set, by [`build_metrics_server`]
//! on its own listener, never on the public one.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `atauth_http_requests_total` | `endpoint`, `status` | answered requests; `endpoint` is the route pattern (`unmatched` for unknown paths) |
//! | `atauth_http_request_duration_seconds` | `endpoint` | latency histogram |
//! | `atauth_oauth_errors_total` | `code` | OAuth error answers (JSON errors, resource refusals, error redirects) |
//! | `atauth_dpop_nonce_rejections_total` | `endpoint` | `use_dpop_nonce` answers |
//! | `atauth_sign_in_failures_total` | | wrong passwords or unknown accounts |
//! | `atauth_sign_in_rate_limited_total` | | sign-ins refused by the rate limit |
//! | `atauth_client_metadata_fetches_total` | `result` (`hit`, `miss`, `failure`) | client metadata resolutions |
//! | `atauth_active_sessions` | | unexpired OAuth sessions (refreshed periodically) |
//! | `atauth_limit_hits_total` | `limit` (`body`, `body_timeout`, `header`, `rate`) | requests refused by a request limit (`crate::limits`) |

use std::net::TcpListener;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// Label of requests that matched no route (bounded cardinality: raw
/// paths are never labels).
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets, seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointStatus {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Endpoint {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchResult {
    result: &'static str,
}

type HistogramFamily = Family<Endpoint, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A client-metadata resolution outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataFetch {
    /// Answered from the cache.
    Hit,
    /// Fetched and validated.
    Miss,
    /// The fetch failed or the document was refused.
    Failure,
}

/// The metrics of one server (no globals: two servers in one process keep
/// their own).
pub struct Metrics {
    registry: Registry,
    requests: Family<EndpointStatus, Counter>,
    latency: HistogramFamily,
    oauth_errors: Family<Code, Counter>,
    nonce_rejections: Family<Endpoint, Counter>,
    sign_in_failures: Counter,
    sign_in_rate_limited: Counter,
    metadata_fetches: Family<FetchResult, Counter>,
    active_sessions: Gauge<i64, AtomicI64>,
    limit_hits: Family<LimitLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every atauth metric, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("atauth");
        let requests = Family::<EndpointStatus, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let oauth_errors = Family::<Code, Counter>::default();
        let nonce_rejections = Family::<Endpoint, Counter>::default();
        let sign_in_failures = Counter::default();
        let sign_in_rate_limited = Counter::default();
        let metadata_fetches = Family::<FetchResult, Counter>::default();
        let active_sessions = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route pattern",
            latency.clone(),
        );
        registry.register(
            "oauth_errors",
            "OAuth error answers, by error code",
            oauth_errors.clone(),
        );
        registry.register(
            "dpop_nonce_rejections",
            "use_dpop_nonce answers, by route pattern",
            nonce_rejections.clone(),
        );
        registry.register(
            "sign_in_failures",
            "sign-ins refused for a wrong password or an unknown account",
            sign_in_failures.clone(),
        );
        registry.register(
            "sign_in_rate_limited",
            "sign-ins refused by the rate limit",
            sign_in_rate_limited.clone(),
        );
        registry.register(
            "client_metadata_fetches",
            "client metadata resolutions: hit (cached), miss (fetched), failure",
            metadata_fetches.clone(),
        );
        registry.register(
            "active_sessions",
            "unexpired OAuth sessions, counted periodically",
            active_sessions.clone(),
        );
        let limit_hits = Family::<LimitLabel, Counter>::default();
        registry.register(
            "limit_hits",
            "requests refused by a request limit: body, body_timeout, header, rate",
            limit_hits.clone(),
        );
        for hit in crate::limits::Hit::ALL {
            let _ = limit_hits.get_or_create(&LimitLabel {
                limit: hit.as_str(),
            });
        }
        for result in ["hit", "miss", "failure"] {
            let _ = metadata_fetches.get_or_create(&FetchResult { result });
        }
        Metrics {
            registry,
            requests,
            latency,
            oauth_errors,
            nonce_rejections,
            sign_in_failures,
            sign_in_rate_limited,
            metadata_fetches,
            active_sessions,
            limit_hits,
        }
    }

    /// One request refused by a request limit (`crate::limits::Hit`).
    pub fn limit_hit(&self, limit: &'static str) {
        self.limit_hits.get_or_create(&LimitLabel { limit }).inc();
    }

    /// One answered request.
    pub fn request(&self, endpoint: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&EndpointStatus {
                endpoint: endpoint.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&Endpoint {
                endpoint: endpoint.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One OAuth error answered at `endpoint`.
    pub fn oauth_error(&self, endpoint: &str, code: &str) {
        self.oauth_errors
            .get_or_create(&Code {
                code: code.to_string(),
            })
            .inc();
        if code == "use_dpop_nonce" {
            self.nonce_rejections
                .get_or_create(&Endpoint {
                    endpoint: endpoint.to_string(),
                })
                .inc();
        }
    }

    /// One sign-in refused for its credentials.
    pub fn sign_in_failure(&self) {
        self.sign_in_failures.inc();
    }

    /// One sign-in refused by the rate limit.
    pub fn sign_in_rate_limited(&self) {
        self.sign_in_rate_limited.inc();
    }

    /// One client-metadata resolution.
    pub fn metadata_fetch(&self, outcome: MetadataFetch) {
        let result = match outcome {
            MetadataFetch::Hit => "hit",
            MetadataFetch::Miss => "miss",
            MetadataFetch::Failure => "failure",
        };
        self.metadata_fetches
            .get_or_create(&FetchResult { result })
            .inc();
    }

    /// Set the active-session gauge.
    pub fn set_active_sessions(&self, n: i64) {
        self.active_sessions.set(n);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What a JSON OAuth error response carries for the observer
/// ([`observe`]): set by [`crate::error::json_error_response`].
#[derive(Debug, Clone)]
pub struct AnsweredError {
    /// The error code.
    pub code: String,
    /// The HTTP status.
    pub status: u16,
    /// The description sent to the client.
    pub description: Option<String>,
    /// The internal cause (never sent).
    pub detail: Option<String>,
}

/// The client a request is about, once known (a request extension set by
/// the OAuth endpoints), for the error log.
#[derive(Debug, Clone)]
pub struct KnownClient(pub String);

/// Middleware on the public app, inside the tracing root span: counts
/// every request by route pattern and status, times it, counts OAuth
/// errors, logs each OAuth error once (code, status, client_id,
/// request_id), and answers `X-Request-Id`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let endpoint = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_string());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let mut res = next.call(req).await?;
    let status = res.status().as_u16();
    let answered = res.response().extensions().get::<AnsweredError>().cloned();
    let refusal = res
        .response()
        .error()
        .and_then(|e| e.as_error::<atauth_resource::AuthError>())
        .map(|e| e.0.error.as_str().to_string());
    if let Some(e) = &answered {
        let client_id = res
            .request()
            .extensions()
            .get::<KnownClient>()
            .map(|c| c.0.clone());
        log_error(e, &endpoint, client_id.as_deref(), request_id.as_deref());
    }
    if let Some(m) = &metrics {
        m.request(&endpoint, status, started.elapsed());
        if let Some(code) = answered
            .as_ref()
            .map(|e| e.code.as_str())
            .or(refusal.as_deref())
        {
            m.oauth_error(&endpoint, code);
        }
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

/// Longest `client_id` written to a log line (it is request input).
const LOGGED_CLIENT_ID_CHARS: usize = 512;

/// The one log line of an OAuth error answered by this server. Fields:
/// the code, the status, the route pattern, the description and internal
/// detail (both written by atauth, never a credential), the client as
/// named by the request, and the request id.
fn log_error(e: &AnsweredError, endpoint: &str, client_id: Option<&str>, request_id: Option<&str>) {
    let client_id: String = client_id
        .unwrap_or("")
        .chars()
        .take(LOGGED_CLIENT_ID_CHARS)
        .collect();
    let client_id = client_id.as_str();
    let request_id = request_id.unwrap_or("");
    if e.status >= 500 {
        tracing::error!(
            error = %e.code,
            status = e.status,
            endpoint,
            client_id,
            request_id,
            detail = e.detail.as_deref().unwrap_or(""),
            "request failed"
        );
    } else {
        tracing::info!(
            error = %e.code,
            status = e.status,
            endpoint,
            client_id,
            request_id,
            description = e.description.as_deref().unwrap_or(""),
            detail = e.detail.as_deref().unwrap_or(""),
            "request refused"
        );
    }
}

/// `GET /metrics` on the metrics listener.
async fn metrics_text(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(metrics.render())
}

/// The metrics server: `GET /metrics` only, on its own listener (one
/// worker), apart from the public app.
pub fn build_metrics_server(
    metrics: Arc<Metrics>,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let data = web::Data::from(metrics);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics_text))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Refresh the active-session gauge every `interval` with a `COUNT` query.
/// A failed count keeps the previous value and logs a warning.
pub fn spawn_session_counter(state: Arc<AppState>, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(interval.max(Duration::from_secs(1)));
        loop {
            tick.tick().await;
            let store = state.store.clone();
            let now = state.now();
            match web::block(move || store.count_active_sessions(now)).await {
                Ok(Ok(n)) => state.metrics.set_active_sessions(n),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not count the active sessions"),
                Err(e) => tracing::warn!(error = %e, "could not count the active sessions"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        m.request("/oauth/par", 400, Duration::from_millis(3));
        m.oauth_error("/oauth/par", "invalid_request");
        m.oauth_error("/oauth/token", "use_dpop_nonce");
        m.sign_in_failure();
        m.sign_in_rate_limited();
        m.metadata_fetch(MetadataFetch::Miss);
        m.set_active_sessions(7);
        let text = m.render();
        for line in [
            "atauth_http_requests_total{endpoint=\"/oauth/par\",status=\"400\"} 1",
            "atauth_http_request_duration_seconds_count{endpoint=\"/oauth/par\"} 1",
            "atauth_oauth_errors_total{code=\"invalid_request\"} 1",
            "atauth_oauth_errors_total{code=\"use_dpop_nonce\"} 1",
            "atauth_dpop_nonce_rejections_total{endpoint=\"/oauth/token\"} 1",
            "atauth_sign_in_failures_total 1",
            "atauth_sign_in_rate_limited_total 1",
            "atauth_client_metadata_fetches_total{result=\"miss\"} 1",
            "atauth_client_metadata_fetches_total{result=\"hit\"} 0",
            "atauth_active_sessions 7",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
