//! `POST /oauth/introspect` (RFC 7662, issue 5 part 8) through the real
//! binary: off by default, then on with a secret: who may call it, and the
//! answer for each kind of token.

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::client::{read, Reply, TestClient};
use crate::support::flow::{login, revoke};
use crate::support::{http, Server, TestEnv};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const SCOPE: &str = "atproto transition:generic";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", B64_STD.encode(format!("{user}:{password}")))
}

async fn introspect(server: &Server, authorization: Option<&str>, token: &str) -> Reply {
    let mut req = http()
        .post(server.url("/oauth/introspect"))
        .form(&[("token", token)]);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    read(req.send().await.expect("request")).await
}

async fn as_metadata(server: &Server) -> Value {
    let r = http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("request");
    r.json().await.expect("json")
}

struct Enabled {
    env: TestEnv,
    server: Server,
    client: TestClient,
    did: String,
}

async fn enabled() -> Enabled {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", "correct horse battery");
    let server = env.serve(&[
        ("ATAUTH_INTROSPECTION__ENABLED", "true"),
        ("ATAUTH_INTROSPECTION__SECRET", SECRET),
    ]);
    let client = TestClient::loopback(&server, SCOPE);
    Enabled {
        env,
        server,
        client,
        did,
    }
}

#[tokio::test]
async fn introspection_is_off_by_default() {
    let env = TestEnv::new();
    let server = env.serve(&[]);
    let r = introspect(&server, Some(&basic("introspection", SECRET)), "x").await;
    assert_eq!((r.status, r.error()), (404, "not_found"));
    assert!(as_metadata(&server)
        .await
        .get("introspection_endpoint")
        .is_none());
}

#[tokio::test]
async fn enabled_introspection_is_listed_and_refuses_callers_without_the_secret() {
    let e = enabled().await;
    assert_eq!(
        as_metadata(&e.server).await["introspection_endpoint"],
        json!(format!("{}/oauth/introspect", e.server.issuer))
    );
    for auth in [
        None,
        Some(basic(
            "introspection",
            "wrong-secret-wrong-secret-wrong-secret",
        )),
        Some(basic("someone", SECRET)),
        Some(format!("Bearer {SECRET}")),
    ] {
        let r = introspect(&e.server, auth.as_deref(), "x").await;
        assert_eq!((r.status, r.error()), (401, "invalid_client"), "{auth:?}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"atauth\""));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    let get = http()
        .get(e.server.url("/oauth/introspect"))
        .send()
        .await
        .expect("request");
    assert_eq!(get.status().as_u16(), 405);
}

#[tokio::test]
async fn active_tokens_answer_their_claims_and_revoked_or_garbage_ones_are_inactive() {
    let e = enabled().await;
    let auth = basic("introspection", SECRET);
    let t = login(&e.env, &e.client, &e.did).await;
    let at = t.json["access_token"].as_str().expect("access token");
    let rt = t.json["refresh_token"].as_str().expect("refresh token");

    let r = introspect(&e.server, Some(&auth), at).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = &r.json;
    assert_eq!(j["active"], true);
    assert_eq!(j["iss"], e.server.issuer.as_str());
    assert_eq!(j["sub"], e.did.as_str());
    assert_eq!(j["aud"], e.server.issuer.as_str());
    assert_eq!(j["client_id"], e.client.client_id.as_str());
    assert_eq!(j["scope"], SCOPE);
    assert_eq!(j["cnf"]["jkt"], e.client.dpop.jkt.as_str());
    assert_eq!(j["token_type"], "DPoP");
    for member in ["exp", "iat", "jti", "sid"] {
        assert!(!j[member].is_null(), "{member} missing: {j}");
    }
    assert!(j["exp"].as_i64() > j["iat"].as_i64());

    let r = introspect(&e.server, Some(&auth), rt).await;
    assert_eq!(r.json["active"], true, "{:?}", r.json);
    assert_eq!(r.json["sid"], j["sid"]);
    assert_eq!(r.json["sub"], e.did.as_str());

    for garbage in ["garbage", "ref-unknown", "a.b.c"] {
        let r = introspect(&e.server, Some(&auth), garbage).await;
        assert_eq!((r.status, &r.json), (200, &json!({"active": false})));
    }
    let missing = http()
        .post(e.server.url("/oauth/introspect"))
        .header("Authorization", &auth)
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .expect("request");
    let missing = read(missing).await;
    assert_eq!((missing.status, missing.error()), (400, "invalid_request"));

    revoke(&e.client, at).await;
    for token in [at, rt] {
        let r = introspect(&e.server, Some(&auth), token).await;
        assert_eq!((r.status, &r.json), (200, &json!({"active": false})));
    }
}
