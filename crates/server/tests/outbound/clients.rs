//! ClientResolver over a fake fetcher (core's `client_id` parser requires
//! https without a port, which a loopback test server cannot serve).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atauth_core::client::ClientId;
use atauth_core::crypto::Es256SigningKey;
use atauth_core::jwk::ec_public_jwk;
use atauth_core::ErrorCode;
use atauth_server::clients::{ClientResolver, ClientResolverConfig, LOOPBACK_DISPLAY_NAME};
use atauth_server::fetch::{Accept, BoxFuture, Fetch, FetchError, Fetched};
use serde_json::{json, Value};
use url::Url;

const CLIENT: &str = "https://app.example.com/client-metadata.json";
const JWKS: &str = "https://app.example.com/jwks.json";

/// Serves canned documents by URL and records every fetch.
#[derive(Default)]
struct FakeFetch {
    docs: Mutex<HashMap<String, Result<Value, FetchError>>>,
    calls: Mutex<Vec<(String, Accept)>>,
}

impl FakeFetch {
    fn serve(&self, url: &str, doc: Result<Value, FetchError>) {
        self.docs.lock().unwrap().insert(url.to_string(), doc);
    }

    fn calls(&self, url: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(u, _)| u == url)
            .count()
    }

    fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl Fetch for FakeFetch {
    fn fetch(&self, url: Url, accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
        self.calls.lock().unwrap().push((url.to_string(), accept));
        let doc = self
            .docs
            .lock()
            .unwrap()
            .get(url.as_str())
            .cloned()
            .unwrap_or(Err(FetchError::Status(404)));
        Box::pin(async move {
            let body = doc?.to_string().into_bytes();
            Ok(Fetched {
                url,
                body,
                cache_control: None,
            })
        })
    }
}

fn public_client() -> Value {
    json!({
        "client_id": CLIENT,
        "application_type": "web",
        "client_name": "Example App",
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/logo.png",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true
    })
}

fn confidential_client() -> Value {
    let mut v = public_client();
    v["token_endpoint_auth_method"] = json!("private_key_jwt");
    v["token_endpoint_auth_signing_alg"] = json!("ES256");
    v["jwks_uri"] = json!(JWKS);
    v
}

fn key_set(kid: &str) -> Value {
    let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
    json!({ "keys": [ec_public_jwk(sk.public_key(), Some(kid))] })
}

fn resolver(fake: &Arc<FakeFetch>, trusted: &[&str]) -> ClientResolver {
    let config = ClientResolverConfig {
        trusted: trusted
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>(),
        jwks_refresh_interval: Duration::from_secs(60),
        ..ClientResolverConfig::default()
    };
    ClientResolver::new(fake.clone(), config)
}

#[tokio::test]
async fn loopback_client_resolves_without_fetching() {
    let fake = Arc::new(FakeFetch::default());
    let r = resolver(&fake, &["http://localhost"]);
    let c = r
        .resolve("http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&scope=atproto")
        .await
        .unwrap();
    assert!(c.is_loopback());
    assert!(!c.is_trusted());
    assert_eq!(c.display_name(), LOOPBACK_DISPLAY_NAME);
    assert_eq!(c.display_logo(), None);
    assert_eq!(
        c.client.redirect_uris,
        vec!["http://127.0.0.1:8080/cb".to_string()]
    );
    assert!(!c.client.is_confidential());
    let plain = r.resolve("http://localhost").await.unwrap();
    assert_eq!(plain.client.scopes, vec!["atproto".to_string()]);
    assert_eq!(fake.total_calls(), 0);
}

#[tokio::test]
async fn discoverable_client_is_fetched_validated_and_cached() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(public_client()));
    let r = resolver(&fake, &[]);
    let c = r.resolve(CLIENT).await.unwrap();
    assert_eq!(c.client_id().as_str(), CLIENT);
    assert!(c.remote_jwks.is_none() && c.keys().is_none());
    let again = r.resolve(CLIENT).await.unwrap();
    assert_eq!(again.fetched_at, c.fetched_at);
    assert_eq!(fake.calls(CLIENT), 1);
    assert_eq!(fake.calls.lock().unwrap()[0].1, Accept::JSON);
}

#[tokio::test]
async fn untrusted_client_is_shown_by_its_url() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(public_client()));
    let c = resolver(&fake, &[]).resolve(CLIENT).await.unwrap();
    assert!(!c.is_trusted());
    assert_eq!(c.display_name(), CLIENT);
    assert_eq!(c.display_logo(), None);
}

#[tokio::test]
async fn trusted_client_is_shown_by_its_name_and_logo() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(public_client()));
    let c = resolver(&fake, &[CLIENT]).resolve(CLIENT).await.unwrap();
    assert!(c.is_trusted());
    assert_eq!(c.display_name(), "Example App");
    assert_eq!(c.display_logo(), Some("https://app.example.com/logo.png"));
}

#[tokio::test]
async fn rejects_invalid_metadata_and_does_not_cache_it() {
    let fake = Arc::new(FakeFetch::default());
    let mut bad = public_client();
    bad["dpop_bound_access_tokens"] = json!(false);
    fake.serve(CLIENT, Ok(bad));
    let r = resolver(&fake, &[]);
    for _ in 0..2 {
        let e = r.resolve(CLIENT).await.unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidClient);
        assert_eq!(e.status, 400);
        assert!(e
            .error_description
            .unwrap()
            .contains("dpop_bound_access_tokens"));
    }
    assert_eq!(fake.calls(CLIENT), 2);
    // Fixed at the origin: the next resolution sees the good document.
    fake.serve(CLIENT, Ok(public_client()));
    assert!(r.resolve(CLIENT).await.is_ok());
}

#[tokio::test]
async fn rejects_document_naming_another_client() {
    let fake = Arc::new(FakeFetch::default());
    let mut other = public_client();
    other["client_id"] = json!("https://evil.example.com/client-metadata.json");
    fake.serve(CLIENT, Ok(other));
    let e = resolver(&fake, &[]).resolve(CLIENT).await.unwrap_err();
    assert_eq!((e.error, e.status), (ErrorCode::InvalidClient, 400));
}

#[tokio::test]
async fn rejects_unfetchable_client_with_invalid_client() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Err(FetchError::NonPublicResolution));
    let r = resolver(&fake, &[]);
    let e = r.resolve(CLIENT).await.unwrap_err();
    assert_eq!((e.error, e.status), (ErrorCode::InvalidClient, 400));
    let d = e.error_description.unwrap();
    assert!(
        d.contains("could not be fetched") && d.contains("non-public address"),
        "{d}"
    );
    assert_eq!(
        r.resolve(CLIENT).await.unwrap_err().error,
        ErrorCode::InvalidClient
    );
    assert_eq!(fake.calls(CLIENT), 2, "a failed fetch was cached");
}

#[tokio::test]
async fn rejects_malformed_client_id_without_fetching() {
    let fake = Arc::new(FakeFetch::default());
    let r = resolver(&fake, &[]);
    for bad in [
        "https://127.0.0.1/client.json",
        "http://app.example.com/client.json",
        "not a url",
        "",
    ] {
        let e = r.resolve(bad).await.unwrap_err();
        assert_eq!(
            (e.error, e.status),
            (ErrorCode::InvalidClient, 400),
            "{bad}"
        );
    }
    assert_eq!(fake.total_calls(), 0);
}

#[tokio::test]
async fn confidential_client_keys_are_fetched_and_cached() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(confidential_client()));
    fake.serve(JWKS, Ok(key_set("k1")));
    let r = resolver(&fake, &[]);
    let c = r.resolve(CLIENT).await.unwrap();
    assert!(c.client.is_confidential());
    assert!(c.keys().unwrap().find("k1").is_some());
    r.resolve(CLIENT).await.unwrap();
    assert_eq!((fake.calls(CLIENT), fake.calls(JWKS)), (1, 1));
    let jwks_accept = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .find(|(u, _)| u == JWKS)
        .map(|(_, a)| *a);
    assert_eq!(jwks_accept, Some(Accept::JWK_SET));
}

#[tokio::test]
async fn rejects_client_whose_jwks_uri_fails() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(confidential_client()));
    fake.serve(JWKS, Ok(json!({"keys": []})));
    let r = resolver(&fake, &[]);
    let e = r.resolve(CLIENT).await.unwrap_err();
    assert_eq!((e.error, e.status), (ErrorCode::InvalidClient, 400));
    fake.serve(JWKS, Err(FetchError::Timeout));
    let e = r.resolve(CLIENT).await.unwrap_err();
    assert!(e.error_description.unwrap().contains("jwks_uri"));
    assert_eq!(fake.calls(JWKS), 2);
}

#[tokio::test]
async fn key_refresh_refetches_at_most_once_per_interval() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(confidential_client()));
    fake.serve(JWKS, Ok(key_set("k1")));
    let r = resolver(&fake, &[]);
    let c = r.resolve(CLIENT).await.unwrap();
    // The client rotates to k2; an assertion names k2.
    fake.serve(JWKS, Ok(key_set("k2")));
    assert!(c.keys().unwrap().find("k2").is_none());
    let fresh = r
        .refresh_keys(&c)
        .await
        .unwrap()
        .expect("first refresh refetches");
    assert!(fresh.keys().unwrap().find("k2").is_some());
    assert_eq!(fake.calls(JWKS), 2);
    // Within the interval: no refetch.
    assert!(r.refresh_keys(&c).await.unwrap().is_none());
    assert_eq!(fake.calls(JWKS), 2);
    // Later resolutions see the refreshed set from the cache.
    assert!(r
        .resolve(CLIENT)
        .await
        .unwrap()
        .keys()
        .unwrap()
        .find("k2")
        .is_some());
    assert_eq!(fake.calls(JWKS), 2);
}

#[tokio::test]
async fn key_refresh_is_a_no_op_for_public_clients() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(public_client()));
    let r = resolver(&fake, &[]);
    let c = r.resolve(CLIENT).await.unwrap();
    assert!(r.refresh_keys(&c).await.unwrap().is_none());
    assert_eq!(fake.total_calls(), 1);
}

#[tokio::test]
async fn invalidate_forces_a_metadata_fetch() {
    let fake = Arc::new(FakeFetch::default());
    fake.serve(CLIENT, Ok(public_client()));
    let r = resolver(&fake, &[]);
    r.resolve(CLIENT).await.unwrap();
    r.invalidate(&ClientId::parse(CLIENT).unwrap()).await;
    r.resolve(CLIENT).await.unwrap();
    assert_eq!(fake.calls(CLIENT), 2);
}
