//! IdentityResolver against a fake PLC directory and a did:web host on
//! loopback, through the real SafeFetcher.

use std::net::IpAddr;
use std::sync::Arc;

use atauth_core::identity::Did;
use atauth_server::fetch::{FetchError, FetchPolicy, StaticResolver};
use atauth_server::identity::{IdentityConfig, IdentityError, IdentityResolver};
use serde_json::json;

use crate::support::{fetcher, fetcher_with, loopback_policy, Route, TestServer};

const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const BOB: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
const CAROL: &str = "did:plc:cccccccccccccccccccccccc";

fn doc(did: &str, handle: &str) -> String {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{"id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"}]
    })
    .to_string()
}

fn did_route(body: &str) -> Route {
    Route::json(body).header("Content-Type", "application/did+ld+json; charset=utf-8")
}

async fn plc() -> TestServer {
    TestServer::start(vec![
        (
            &format!("/{ALICE}"),
            did_route(&doc(ALICE, "alice.example.com")),
        ),
        // A document claiming to be someone else.
        (
            &format!("/{BOB}"),
            did_route(&doc(ALICE, "alice.example.com")),
        ),
        (
            &format!("/{CAROL}"),
            Route::json(r#"{"message":"DID not registered"}"#).status(404),
        ),
    ])
    .await
}

fn resolver(server: &TestServer) -> IdentityResolver {
    let config = IdentityConfig {
        plc_directory: server.url("/"),
        ..IdentityConfig::default()
    };
    IdentityResolver::new(Arc::new(fetcher(loopback_policy())), config)
}

#[tokio::test]
async fn resolves_did_plc_through_the_directory_and_caches_it() {
    let server = plc().await;
    let r = resolver(&server);
    let did = Did::parse(ALICE).unwrap();
    let d = r.resolve_did(&did).await.unwrap();
    assert_eq!(d.id, ALICE);
    assert_eq!(d.pds_endpoint(), Some("https://pds.example.com"));
    assert_eq!(d.handle().unwrap().as_str(), "alice.example.com");
    r.resolve_did(&did).await.unwrap();
    assert_eq!(server.hits(&format!("/{ALICE}")), 1);
    r.invalidate(&did).await;
    r.resolve_did(&did).await.unwrap();
    assert_eq!(server.hits(&format!("/{ALICE}")), 2);
}

#[tokio::test]
async fn rejects_document_for_another_did_and_does_not_cache_it() {
    let server = plc().await;
    let r = resolver(&server);
    let did = Did::parse(BOB).unwrap();
    for _ in 0..2 {
        let e = r.resolve_did(&did).await.unwrap_err();
        assert!(matches!(e, IdentityError::WrongId { .. }), "{e}");
    }
    assert_eq!(server.hits(&format!("/{BOB}")), 2);
}

#[tokio::test]
async fn unknown_did_is_not_found() {
    let server = plc().await;
    let e = resolver(&server)
        .resolve_did(&Did::parse(CAROL).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e, IdentityError::NotFound(404));
}

#[tokio::test]
async fn resolves_did_web_on_localhost_in_test_mode() {
    let server = TestServer::start_with(|addr| {
        let did = format!("did:web:localhost%3A{}", addr.port());
        vec![(
            "/.well-known/did.json".to_string(),
            Route::json(&doc(&did, "web.example.com")),
        )]
    })
    .await;
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    let f = fetcher_with(
        loopback_policy(),
        StaticResolver::new().with("localhost", &[localhost]),
    );
    let r = IdentityResolver::new(Arc::new(f), IdentityConfig::default());
    let did = Did::parse(&format!("did:web:localhost%3A{}", server.addr.port())).unwrap();
    let d = r.resolve_did(&did).await.unwrap();
    assert_eq!(d.id, did.as_str());
    assert_eq!(d.handle().unwrap().as_str(), "web.example.com");
    assert_eq!(server.hits("/.well-known/did.json"), 1);
}

#[tokio::test]
async fn production_policy_refuses_did_web_localhost() {
    let r = IdentityResolver::new(
        Arc::new(fetcher(FetchPolicy::default())),
        IdentityConfig::default(),
    );
    let e = r
        .resolve_did(&Did::parse("did:web:localhost%3A2583").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e, IdentityError::Fetch(FetchError::Scheme("http".into())));
}
