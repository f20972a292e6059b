//! JsonCache over the real fetcher: validate before caching, honour the
//! lifetime, coalesce concurrent fetches.

use std::sync::Arc;
use std::time::Duration;

use atauth_server::fetch::{Accept, CacheBounds, CacheError, Fetch, FetchError, JsonCache};

use crate::support::{fetcher, loopback_policy, Route, TestServer};

/// A validator: the document must be an object with a string `name`.
fn name_of(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    v.get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| "no name".to_string())
}

fn cache(bounds: CacheBounds) -> JsonCache<String> {
    let f: Arc<dyn Fetch> = Arc::new(fetcher(loopback_policy()));
    JsonCache::new(f, Accept::JSON, bounds)
}

#[tokio::test]
async fn invalid_document_is_fetched_again() {
    let server = TestServer::start(vec![(
        "/bad",
        Route::json(r#"{"other":1}"#).header("Cache-Control", "max-age=3600"),
    )])
    .await;
    let c = cache(CacheBounds::default());
    for _ in 0..2 {
        let got = c.get_or_fetch(&server.url("/bad"), name_of).await;
        assert_eq!(got, Err(CacheError::Invalid("no name".to_string())));
    }
    assert_eq!(server.hits("/bad"), 2);
}

#[tokio::test]
async fn failed_fetch_is_fetched_again() {
    let server =
        TestServer::start(vec![("/gone", Route::json(r#"{"name":"x"}"#).status(500))]).await;
    let c = cache(CacheBounds::default());
    for _ in 0..2 {
        let got = c.get_or_fetch(&server.url("/gone"), name_of).await;
        assert_eq!(got, Err(CacheError::Fetch(FetchError::Status(500))));
    }
    assert_eq!(server.hits("/gone"), 2);
}

#[tokio::test]
async fn valid_document_is_not_refetched_within_its_lifetime() {
    let server = TestServer::start(vec![(
        "/good",
        Route::json(r#"{"name":"alice"}"#).header("Cache-Control", "max-age=600"),
    )])
    .await;
    let c = cache(CacheBounds::default());
    for _ in 0..3 {
        let got = c.get_or_fetch(&server.url("/good"), name_of).await.unwrap();
        assert_eq!(*got, "alice");
    }
    assert_eq!(server.hits("/good"), 1);
    assert_eq!(
        c.get_cached(&server.url("/good"))
            .await
            .as_deref()
            .map(String::as_str),
        Some("alice")
    );
}

#[tokio::test]
async fn valid_document_is_refetched_after_its_lifetime() {
    let server = TestServer::start(vec![(
        "/short",
        Route::json(r#"{"name":"bob"}"#).header("Cache-Control", "max-age=0"),
    )])
    .await;
    let c = cache(CacheBounds {
        min_ttl: Duration::from_millis(200),
        ..CacheBounds::default()
    });
    c.get_or_fetch(&server.url("/short"), name_of)
        .await
        .unwrap();
    c.get_or_fetch(&server.url("/short"), name_of)
        .await
        .unwrap();
    assert_eq!(server.hits("/short"), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    c.get_or_fetch(&server.url("/short"), name_of)
        .await
        .unwrap();
    assert_eq!(server.hits("/short"), 2);
}

#[tokio::test]
async fn invalidate_forces_a_fetch() {
    let server = TestServer::start(vec![("/good", Route::json(r#"{"name":"carol"}"#))]).await;
    let c = cache(CacheBounds::default());
    c.get_or_fetch(&server.url("/good"), name_of).await.unwrap();
    c.invalidate(&server.url("/good")).await;
    c.get_or_fetch(&server.url("/good"), name_of).await.unwrap();
    assert_eq!(server.hits("/good"), 2);
}

#[tokio::test]
async fn concurrent_lookups_share_one_fetch() {
    let server = TestServer::start(vec![(
        "/slow",
        Route::json(r#"{"name":"dave"}"#).delay(Duration::from_millis(300)),
    )])
    .await;
    let c = Arc::new(cache(CacheBounds::default()));
    let url = server.url("/slow");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            let url = url.clone();
            tokio::spawn(async move { c.get_or_fetch(&url, name_of).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(*t.await.unwrap().unwrap(), "dave");
    }
    assert_eq!(server.hits("/slow"), 1);
}

#[tokio::test]
async fn concurrent_lookups_of_an_invalid_document_share_one_failure() {
    let server = TestServer::start(vec![(
        "/slowbad",
        Route::json(r#"{"x":1}"#).delay(Duration::from_millis(300)),
    )])
    .await;
    let c = Arc::new(cache(CacheBounds::default()));
    let url = server.url("/slowbad");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            let url = url.clone();
            tokio::spawn(async move { c.get_or_fetch(&url, name_of).await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(CacheError::Invalid(_))));
    }
    assert_eq!(server.hits("/slowbad"), 1);
    // And nothing was cached: the next lookup fetches again.
    assert!(c.get_or_fetch(&url, name_of).await.is_err());
    assert_eq!(server.hits("/slowbad"), 2);
}
