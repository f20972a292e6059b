//! Development identity endpoints: resolveHandle and PLC-shaped DID
//! documents, so real clients resolve accounts with no outside network.

use serde_json::Value;

use crate::support::{http, TestEnv};

#[tokio::test]
async fn resolve_handle_finds_account() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", "correct horse battery");
    let s = env.serve(&[]);
    let r = http()
        .get(s.url("/xrpc/com.atproto.identity.resolveHandle?handle=Alice.Test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["did"], did.as_str());

    let r = http()
        .get(s.url("/xrpc/com.atproto.identity.resolveHandle?handle=bob.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "InvalidRequest");
}

#[tokio::test]
async fn plc_document_names_this_pds_raw_and_encoded() {
    let env = TestEnv::new();
    let did = env.create_account("carol.test", "correct horse battery");
    let s = env.serve(&[]);
    for path in [
        format!("/plc/{did}"),
        format!("/plc/{}", did.replace(':', "%3A")),
    ] {
        let r = http().get(s.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["id"], did.as_str());
        assert_eq!(doc["alsoKnownAs"][0], "at://carol.test");
        let svc = &doc["service"][0];
        assert_eq!(svc["id"], "#atproto_pds");
        assert_eq!(svc["type"], "AtprotoPersonalDataServer");
        assert_eq!(svc["serviceEndpoint"], s.issuer.as_str());
        assert!(doc["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .unwrap()
            .starts_with("zDn"));
    }
    let r = http()
        .get(s.url("/plc/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn disabled_account_does_not_resolve() {
    let env = TestEnv::new();
    env.create_account("dave.test", "correct horse battery");
    let out = env.run(&["account", "disable", "dave.test"], None);
    assert!(out.status.success());
    let s = env.serve(&[]);
    let r = http()
        .get(s.url("/xrpc/com.atproto.identity.resolveHandle?handle=dave.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
