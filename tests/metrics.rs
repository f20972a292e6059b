//! `GET /metrics` (issue 9): off by default, served only on the separate
//! `[metrics] listen` address, counting requests by route pattern and
//! status, OAuth errors by code and nonce rejections.

use crate::support::client::TestClient;
use crate::support::flow::{free_port, login, GET_SESSION};
use crate::support::{http, TestEnv};

const SCOPE: &str = "atproto transition:generic";

async fn metrics_text(url: &str) -> String {
    let r = http().get(url).send().await.expect("GET /metrics");
    assert_eq!(r.status(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.text().await.expect("metrics body")
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn counts_requests_and_errors_on_the_separate_listener_only() {
    let env = TestEnv::new();
    let port = free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let s = env.serve(&[("ATAUTH_METRICS__LISTEN", &metrics_addr)]);
    let metrics_url = format!("http://{metrics_addr}/metrics");

    // Never on the public listener.
    let r = http().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers().get("x-request-id").is_some(),
        "every answer names its request id"
    );

    // A PAR refused for its response_type: the first attempt carries no
    // nonce (use_dpop_nonce), the retry is refused.
    let c = TestClient::loopback(&s, SCOPE);
    let (r, _) = c.par(&[("response_type", "token")]).await;
    assert_eq!(r.error(), "unsupported_response_type", "{:?}", r.json);
    assert!(r.header("x-request-id").is_some());

    let r = http()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let text = metrics_text(&metrics_url).await;
    for line in [
        "atauth_http_requests_total{endpoint=\"/oauth/par\",status=\"400\"} 2",
        "atauth_http_requests_total{endpoint=\"/.well-known/oauth-authorization-server\",status=\"200\"} 1",
        "atauth_http_requests_total{endpoint=\"unmatched\",status=\"404\"} 1",
        "atauth_http_request_duration_seconds_count{endpoint=\"/oauth/par\"} 2",
        "atauth_oauth_errors_total{code=\"use_dpop_nonce\"} 1",
        "atauth_oauth_errors_total{code=\"unsupported_response_type\"} 1",
        "atauth_dpop_nonce_rejections_total{endpoint=\"/oauth/par\"} 1",
        "atauth_sign_in_failures_total 0",
        "atauth_sign_in_rate_limited_total 0",
        "atauth_client_metadata_fetches_total{result=\"hit\"} 0",
    ] {
        assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("atauth_active_sessions ")),
        "{text}"
    );
    // A 404 is not an OAuth error, and raw paths are never labels.
    assert!(!text.contains("not_found"), "{text}");
    assert!(!text.contains("endpoint=\"/metrics\""), "{text}");

    // Only /metrics on the metrics listener.
    let r = http()
        .get(format!("http://{metrics_addr}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn counts_active_sessions_and_resource_refusals() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", "correct horse battery");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let s = env.serve(&[
        ("ATAUTH_METRICS__LISTEN", &metrics_addr),
        ("ATAUTH_METRICS__SESSION_COUNT_INTERVAL_SECS", "1"),
    ]);
    let metrics_url = format!("http://{metrics_addr}/metrics");
    let c = TestClient::loopback(&s, SCOPE);
    login(&env, &c, &did).await;

    // A resource call with a token that is no token: refused by the
    // verifier, counted under its code.
    let r = http()
        .get(s.url(GET_SESSION))
        .header("Authorization", "DPoP not-a-token")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    let code = body["error"]
        .as_str()
        .expect("an OAuth error code")
        .to_string();
    assert!(status == 400 || status == 401, "{status} {body}");

    // The gauge is refreshed every second: wait (not a timing assertion)
    // until the count includes the session.
    let mut text = String::new();
    for _ in 0..60 {
        text = metrics_text(&metrics_url).await;
        if has_line(&text, "atauth_active_sessions 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(has_line(&text, "atauth_active_sessions 1"), "{text}");
    for line in [
        format!("atauth_oauth_errors_total{{code=\"{code}\"}} 1"),
        format!("atauth_http_requests_total{{endpoint=\"{GET_SESSION}\",status=\"{status}\"}} 1"),
        "atauth_http_requests_total{endpoint=\"/oauth/token\",status=\"200\"} 1".to_string(),
    ] {
        assert!(has_line(&text, &line), "missing {line:?} in\n{text}");
    }
}
