//! DPoP at the authorization server, through the real binary (RFC 9449
//! §4.3, §8; SPEC §7). Core's unit tests cover every check with a fake
//! clock; these prove the endpoint wiring: the exact error, a fresh
//! `DPoP-Nonce`, CORS, and nothing stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::client::{now, pkce, random_b64, DpopKey, Reply, TestClient, REDIRECT_URI};
use crate::support::{Server, TestEnv};

struct Ctx {
    env: TestEnv,
    server: Server,
    client: TestClient,
    nonce: String,
}

async fn ctx() -> Ctx {
    let env = TestEnv::new();
    let server = env.serve(&[]);
    let client = TestClient::loopback(&server, "atproto");
    // Learn a nonce the way clients do: the first request is refused.
    let proof = client
        .dpop
        .proof("POST", &format!("{}/oauth/par", server.issuer), None, None);
    let r = client
        .post_raw(
            "/oauth/par",
            &[("client_id", &client.client_id)],
            &[("DPoP", &proof)],
        )
        .await;
    let nonce = r.header("dpop-nonce").expect("nonce").to_string();
    Ctx {
        env,
        server,
        client,
        nonce,
    }
}

fn par_form(c: &TestClient) -> Vec<(String, String)> {
    let (_, challenge) = pkce();
    vec![
        ("client_id".into(), c.client_id.clone()),
        ("response_type".into(), "code".into()),
        ("redirect_uri".into(), REDIRECT_URI.into()),
        ("scope".into(), "atproto".into()),
        ("state".into(), "xyz".into()),
        ("code_challenge".into(), challenge),
        ("code_challenge_method".into(), "S256".into()),
    ]
}

async fn send(ctx: &Ctx, proofs: &[String]) -> Reply {
    let form = par_form(&ctx.client);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let headers: Vec<(&str, &str)> = proofs.iter().map(|p| ("DPoP", p.as_str())).collect();
    ctx.client.post_raw("/oauth/par", &pairs, &headers).await
}

fn claims(ctx: &Ctx) -> Value {
    json!({"jti": random_b64(16), "htm": "POST", "htu": format!("{}/oauth/par", ctx.server.issuer), "iat": now(), "nonce": ctx.nonce})
}

fn header(key: &DpopKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk})
}

async fn assert_refused(ctx: &Ctx, proofs: &[String], code: &str) {
    let r = send(ctx, proofs).await;
    assert_eq!((r.status, r.error()), (400, code), "{:?}", r.json);
    assert!(r.header("dpop-nonce").is_some());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(ctx.env.count_rows("authorization_requests"), 0);
}

#[tokio::test]
async fn accepts_proof_with_server_nonce() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let r = send(&ctx, &[key.sign(&header(key), &claims(&ctx))]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
}

#[tokio::test]
async fn rejects_two_dpop_headers() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let p1 = key.sign(&header(key), &claims(&ctx));
    let p2 = key.sign(&header(key), &claims(&ctx));
    assert_refused(&ctx, &[p1, p2], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_forged_nonce_with_fresh_nonce() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["nonce"] = json!(random_b64(32));
    let r = send(&ctx, &[key.sign(&header(key), &c)]).await;
    assert_eq!((r.status, r.error()), (400, "use_dpop_nonce"));
    let fresh = r.header("dpop-nonce").unwrap();
    assert_ne!(
        fresh,
        c["nonce"].as_str().unwrap(),
        "the answer carries a different nonce, so clients retry"
    );
    assert_eq!(ctx.env.count_rows("authorization_requests"), 0);
}

#[tokio::test]
async fn rejects_missing_nonce() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c.as_object_mut().unwrap().remove("nonce");
    let r = send(&ctx, &[key.sign(&header(key), &c)]).await;
    assert_eq!((r.status, r.error()), (400, "use_dpop_nonce"));
}

#[tokio::test]
async fn rejects_replayed_jti() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let proof = key.sign(&header(key), &claims(&ctx));
    assert_eq!(send(&ctx, std::slice::from_ref(&proof)).await.status, 201);
    let r = send(&ctx, &[proof]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_dpop_proof"));
    assert_eq!(ctx.env.count_rows("authorization_requests"), 1);
}

/// With SQLite and per-process nonces, proof `jti`s are remembered in
/// memory (crates/server/src/replay.rs); what refuses a proof replayed
/// after a restart is the nonce, keyed anew by the new process.
#[tokio::test]
async fn a_proof_from_before_a_restart_is_refused_after_it() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let proof = key.sign(&header(key), &claims(&ctx));
    assert_eq!(send(&ctx, std::slice::from_ref(&proof)).await.status, 201);
    let Ctx {
        env,
        server,
        client,
        nonce,
    } = ctx;
    let listen = server.addr.trim_start_matches("http://").to_string();
    let issuer = server.issuer.clone();
    drop(server);
    let server = env.serve_at(&listen, &[]);
    assert_eq!(server.issuer, issuer, "same port, same issuer");
    let ctx = Ctx {
        env,
        server,
        client,
        nonce,
    };
    let r = send(&ctx, &[proof]).await;
    assert_eq!((r.status, r.error()), (400, "use_dpop_nonce"));
    assert_eq!(ctx.env.count_rows("authorization_requests"), 1);
}

#[tokio::test]
async fn rejects_wrong_htm() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["htm"] = json!("GET");
    assert_refused(&ctx, &[key.sign(&header(key), &c)], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_wrong_htu() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["htu"] = json!(format!("{}/oauth/token", ctx.server.issuer));
    assert_refused(&ctx, &[key.sign(&header(key), &c)], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_htu_naming_the_listen_address_instead_of_the_issuer() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["htu"] = json!(format!("{}/oauth/par", ctx.server.addr));
    assert_refused(&ctx, &[key.sign(&header(key), &c)], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_iat_too_old() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["iat"] = json!(now() - 600);
    assert_refused(&ctx, &[key.sign(&header(key), &c)], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_iat_too_far_ahead() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut c = claims(&ctx);
    c["iat"] = json!(now() + 600);
    assert_refused(&ctx, &[key.sign(&header(key), &c)], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_alg_none() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let h = B64.encode(json!({"typ":"dpop+jwt","alg":"none","jwk": key.jwk}).to_string());
    let c = B64.encode(claims(&ctx).to_string());
    assert_refused(&ctx, &[format!("{h}.{c}.")], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_hs256() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let h = B64.encode(json!({"typ":"dpop+jwt","alg":"HS256","jwk": key.jwk}).to_string());
    let c = B64.encode(claims(&ctx).to_string());
    assert_refused(
        &ctx,
        &[format!("{h}.{c}.{}", B64.encode([0u8; 32]))],
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn rejects_jwk_carrying_private_key() {
    let ctx = ctx().await;
    let key = &ctx.client.dpop;
    let mut jwk = key.jwk.clone();
    jwk["d"] = json!(random_b64(32));
    let h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    assert_refused(&ctx, &[key.sign(&h, &claims(&ctx))], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn rejects_proof_signed_by_another_key() {
    let ctx = ctx().await;
    let other = DpopKey::generate();
    assert_refused(
        &ctx,
        &[other.sign(&header(&ctx.client.dpop), &claims(&ctx))],
        "invalid_dpop_proof",
    )
    .await;
}
