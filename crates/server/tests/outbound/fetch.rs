//! SafeFetcher: SSRF refusals (with no connection made) and the HTTP rules.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use atauth_server::fetch::{Accept, FetchError, FetchPolicy, StaticResolver};
use url::Url;

use crate::support::{fetcher, fetcher_with, loopback_policy, CountingListener, Route, TestServer};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// http allowed, loopback not: only the address rule stands between the
/// request and the listener.
fn http_no_loopback() -> FetchPolicy {
    FetchPolicy {
        allow_http: true,
        ..FetchPolicy::default()
    }
}

#[tokio::test]
async fn rejects_loopback_in_every_spelling_without_connecting() {
    let lo = CountingListener::bind("127.0.0.1").await.unwrap();
    let p = lo.port();
    for policy in [FetchPolicy::default(), http_no_loopback()] {
        let scheme = if policy.allow_http { "http" } else { "https" };
        let f = fetcher(policy);
        for host in [
            "127.0.0.1",
            "0.0.0.0",
            "2130706433",
            "0177.0.0.1",
            "0x7f000001",
            "0x7f.1",
            "127.1",
            "[::ffff:127.0.0.1]",
        ] {
            let url = Url::parse(&format!("{scheme}://{host}:{p}/client-metadata.json")).unwrap();
            assert_eq!(
                f.get(&url, Accept::JSON).await,
                Err(FetchError::NonPublicAddress),
                "{url}"
            );
        }
    }
    assert_eq!(lo.connections().await, 0);
}

/// Control for the tests above: the counting listener does see a fetch the
/// policy allows, so its zero means no connection was made.
#[tokio::test]
async fn counting_listener_sees_an_allowed_connection() {
    let lo = CountingListener::bind("127.0.0.1").await.unwrap();
    let f = fetcher(loopback_policy());
    let url = Url::parse(&format!("http://127.0.0.1:{}/", lo.port())).unwrap();
    assert!(
        f.get(&url, Accept::JSON).await.is_err(),
        "the listener never answers"
    );
    assert_eq!(lo.connections().await, 1);
}

#[tokio::test]
async fn rejects_ipv6_loopback_without_connecting() {
    let Some(lo) = CountingListener::bind("[::1]").await else {
        eprintln!("no IPv6 loopback here; skipping the connection count");
        return;
    };
    let f = fetcher(http_no_loopback());
    let url = Url::parse(&format!("http://[::1]:{}/", lo.port())).unwrap();
    assert_eq!(
        f.get(&url, Accept::JSON).await,
        Err(FetchError::NonPublicAddress)
    );
    assert_eq!(lo.connections().await, 0);
}

#[tokio::test]
async fn rejects_private_and_special_addresses() {
    for policy in [
        FetchPolicy::default(),
        http_no_loopback(),
        loopback_policy(),
    ] {
        let f = fetcher(policy);
        for host in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "[::]",
            "[fc00::1]",
            "[fe80::1]",
            "[::ffff:10.0.0.1]",
            "[64:ff9b::a9fe:a9fe]",
        ] {
            let url = Url::parse(&format!("https://{host}/x")).unwrap();
            assert_eq!(
                f.get(&url, Accept::JSON).await,
                Err(FetchError::NonPublicAddress),
                "{url}"
            );
        }
    }
}

#[tokio::test]
async fn rejects_name_resolving_to_private_address() {
    let resolver = StaticResolver::new().with("private.example", &[ip("10.0.0.1")]);
    let f = fetcher_with(loopback_policy(), resolver);
    let url = Url::parse("http://private.example/client-metadata.json").unwrap();
    assert_eq!(
        f.get(&url, Accept::JSON).await,
        Err(FetchError::NonPublicResolution)
    );
}

#[tokio::test]
async fn rejects_name_with_any_loopback_answer_without_connecting() {
    let lo = CountingListener::bind("127.0.0.1").await.unwrap();
    let resolver = StaticResolver::new()
        .with("rebind.example", &[ip("93.184.216.34"), ip("127.0.0.1")])
        .with("local.example", &[ip("127.0.0.1")]);
    let f = fetcher_with(http_no_loopback(), resolver);
    for host in ["rebind.example", "local.example"] {
        let url = Url::parse(&format!("http://{host}:{}/", lo.port())).unwrap();
        assert_eq!(
            f.get(&url, Accept::JSON).await,
            Err(FetchError::NonPublicResolution),
            "{url}"
        );
    }
    assert_eq!(lo.connections().await, 0);
}

#[tokio::test]
async fn resolves_names_through_the_injected_resolver() {
    let server = TestServer::start(vec![("/doc.json", Route::json(r#"{"ok":true}"#))]).await;
    let resolver = StaticResolver::new().with("client.example", &[ip("127.0.0.1")]);
    let f = fetcher_with(loopback_policy(), resolver);
    let url = Url::parse(&format!(
        "http://client.example:{}/doc.json",
        server.addr.port()
    ))
    .unwrap();
    let got = f.get(&url, Accept::JSON).await.unwrap();
    assert_eq!(got.body, br#"{"ok":true}"#);
}

#[tokio::test]
async fn rejects_unknown_name() {
    let f = fetcher_with(FetchPolicy::default(), StaticResolver::new());
    let url = Url::parse("https://nowhere.example/").unwrap();
    assert_eq!(f.get(&url, Accept::JSON).await, Err(FetchError::Connect));
}

#[tokio::test]
async fn rejects_http_by_default() {
    let server = TestServer::start(vec![("/doc.json", Route::json("{}"))]).await;
    let f = fetcher(FetchPolicy {
        allow_loopback: true,
        ..FetchPolicy::default()
    });
    let got = f.get(&server.url("/doc.json"), Accept::JSON).await;
    assert_eq!(got, Err(FetchError::Scheme("http".into())));
    assert_eq!(server.hits("/doc.json"), 0);
}

#[tokio::test]
async fn serves_valid_json() {
    let server = TestServer::start(vec![(
        "/doc.json",
        Route::json(r#"{"client_id":"x"}"#)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Cache-Control", "max-age=120"),
    )])
    .await;
    let f = fetcher(loopback_policy());
    let got = f.get(&server.url("/doc.json"), Accept::JSON).await.unwrap();
    assert_eq!(got.body, br#"{"client_id":"x"}"#);
    assert_eq!(got.cache_control.as_deref(), Some("max-age=120"));
    assert_eq!(got.url, server.url("/doc.json"));
}

#[tokio::test]
async fn rejects_redirect() {
    let server = TestServer::start(vec![
        (
            "/moved",
            Route::json("{}")
                .status(302)
                .header("Location", "/doc.json"),
        ),
        ("/doc.json", Route::json("{}")),
    ])
    .await;
    let f = fetcher(loopback_policy());
    assert_eq!(
        f.get(&server.url("/moved"), Accept::JSON).await,
        Err(FetchError::Redirect(302))
    );
    assert_eq!(server.hits("/doc.json"), 0, "the redirect was followed");
}

#[tokio::test]
async fn rejects_non_200_statuses() {
    let server = TestServer::start(vec![
        ("/404", Route::json("{}").status(404)),
        ("/201", Route::json("{}").status(201)),
        ("/204", Route::json("").status(204)),
        ("/500", Route::json("{}").status(500)),
        ("/304", Route::json("").status(304)),
    ])
    .await;
    let f = fetcher(loopback_policy());
    for (path, want) in [
        ("/404", FetchError::Status(404)),
        ("/201", FetchError::Status(201)),
        ("/204", FetchError::Status(204)),
        ("/500", FetchError::Status(500)),
        ("/304", FetchError::Redirect(304)),
    ] {
        assert_eq!(
            f.get(&server.url(path), Accept::JSON).await,
            Err(want),
            "{path}"
        );
    }
}

#[tokio::test]
async fn rejects_wrong_or_missing_content_type() {
    let server = TestServer::start(vec![
        (
            "/html",
            Route::json("{}").header("Content-Type", "text/html"),
        ),
        (
            "/text",
            Route::json("{}").header("Content-Type", "text/plain; charset=utf-8"),
        ),
        (
            "/jsonl",
            Route::json("{}").header("Content-Type", "application/jsonl"),
        ),
        ("/none", Route::json("{}").without_header("Content-Type")),
        (
            "/did",
            Route::json("{}").header("Content-Type", "application/did+ld+json"),
        ),
    ])
    .await;
    let f = fetcher(loopback_policy());
    for path in ["/html", "/text", "/jsonl", "/none", "/did"] {
        let got = f.get(&server.url(path), Accept::JSON).await;
        assert!(
            matches!(got, Err(FetchError::ContentType { .. })),
            "{path}: {got:?}"
        );
    }
    // The content-type rule is a parameter: DID documents allow did+ld+json.
    assert!(f
        .get(&server.url("/did"), Accept::DID_DOCUMENT)
        .await
        .is_ok());
    let text = f.get(&server.url("/text"), Accept::JSON).await.unwrap_err();
    assert_eq!(
        text.to_string(),
        "the response content type is text/plain; charset=utf-8; expected application/json"
    );
}

#[tokio::test]
async fn rejects_declared_oversized_body() {
    let big = format!(r#"{{"pad":"{}"}}"#, "a".repeat(2000));
    let server = TestServer::start(vec![("/big", Route::json(&big))]).await;
    let f = fetcher(FetchPolicy {
        max_body_bytes: 1024,
        ..loopback_policy()
    });
    assert_eq!(
        f.get(&server.url("/big"), Accept::JSON).await,
        Err(FetchError::TooLarge(1024))
    );
}

#[tokio::test]
async fn rejects_streamed_oversized_body_early() {
    // No Content-Length: the cap is enforced while reading. The body is far
    // larger than the cap; the fetch stops soon after the cap is passed.
    let huge = format!(r#"{{"pad":"{}"}}"#, "a".repeat(8 * 1024 * 1024));
    let server = TestServer::start(vec![("/huge", Route::json(&huge).no_content_length())]).await;
    let f = fetcher(FetchPolicy {
        max_body_bytes: 1024,
        ..loopback_policy()
    });
    assert_eq!(
        f.get(&server.url("/huge"), Accept::JSON).await,
        Err(FetchError::TooLarge(1024))
    );
}

#[tokio::test]
async fn accepts_body_exactly_at_the_cap() {
    let body = format!(r#"{{"p":"{}"}}"#, "a".repeat(1024 - 8));
    assert_eq!(body.len(), 1024);
    let server = TestServer::start(vec![("/exact", Route::json(&body).no_content_length())]).await;
    let f = fetcher(FetchPolicy {
        max_body_bytes: 1024,
        ..loopback_policy()
    });
    assert_eq!(
        f.get(&server.url("/exact"), Accept::JSON)
            .await
            .unwrap()
            .body
            .len(),
        1024
    );
}

#[tokio::test]
async fn rejects_body_trickling_past_the_timeout() {
    let server = TestServer::start(vec![(
        "/slow",
        Route::json(r#"{"a":"bcdefghijklmnop"}"#).trickle(Duration::from_millis(50)),
    )])
    .await;
    let f = fetcher(FetchPolicy {
        timeout: Duration::from_millis(300),
        ..loopback_policy()
    });
    let start = Instant::now();
    assert_eq!(
        f.get(&server.url("/slow"), Accept::JSON).await,
        Err(FetchError::Timeout)
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn rejects_headers_slower_than_the_timeout() {
    let server = TestServer::start(vec![(
        "/late",
        Route::json("{}").delay(Duration::from_secs(3)),
    )])
    .await;
    let f = fetcher(FetchPolicy {
        timeout: Duration::from_millis(300),
        ..loopback_policy()
    });
    let start = Instant::now();
    assert_eq!(
        f.get(&server.url("/late"), Accept::JSON).await,
        Err(FetchError::Timeout)
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}
