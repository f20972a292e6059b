//! `POST /oauth/par` through the real binary (SPEC §0, §4, §7). Each hostile
//! case asserts the exact error and that nothing was stored.

use crate::support::client::{DpopKey, TestClient, REDIRECT_URI};
use crate::support::{http, TestEnv};

const SCOPE: &str = "atproto transition:generic";

async fn refused(extra: &[(&str, &str)], code: &str) {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let (r, _) = c.par(extra).await;
    assert_eq!(r.error(), code, "{extra:?}: {:?}", r.json);
    assert_eq!(r.status, 400, "{extra:?}");
    assert!(
        r.header("dpop-nonce").is_some(),
        "every answer carries a nonce"
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("*"),
        "CORS on errors"
    );
    assert_eq!(
        env.count_rows("authorization_requests"),
        0,
        "{extra:?}: nothing stored"
    );
}

#[tokio::test]
async fn accepts_valid_request() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let (r, _) = c.par(&[]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    assert!(r.json["request_uri"]
        .as_str()
        .unwrap()
        .starts_with("urn:ietf:params:oauth:request_uri:req-"));
    assert_eq!(r.json["expires_in"], 300);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("dpop-nonce").is_some());
    assert_eq!(env.count_rows("authorization_requests"), 1);
}

#[tokio::test]
async fn first_proof_without_nonce_gets_use_dpop_nonce() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let proof = c
        .dpop
        .proof("POST", &format!("{}/oauth/par", s.issuer), None, None);
    let r = c
        .post_raw(
            "/oauth/par",
            &[("client_id", &c.client_id)],
            &[("DPoP", &proof)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "use_dpop_nonce");
    assert!(r.header("dpop-nonce").is_some_and(|n| n.len() >= 22));
    let expose = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(expose.contains("dpop-nonce"));
}

#[tokio::test]
async fn rejects_missing_response_type() {
    refused(&[("response_type", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_token_response_type() {
    refused(&[("response_type", "token")], "unsupported_response_type").await;
}
#[tokio::test]
async fn rejects_missing_redirect_uri() {
    refused(&[("redirect_uri", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_unregistered_redirect_uri() {
    refused(
        &[("redirect_uri", "https://evil.example/cb")],
        "invalid_request",
    )
    .await;
}
#[tokio::test]
async fn rejects_missing_scope() {
    refused(&[("scope", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_scope_without_atproto() {
    refused(&[("scope", "transition:generic")], "invalid_scope").await;
}
#[tokio::test]
async fn rejects_scope_beyond_client() {
    refused(&[("scope", "atproto transition:email")], "invalid_scope").await;
}
#[tokio::test]
async fn rejects_openid() {
    refused(&[("scope", "atproto openid")], "invalid_scope").await;
}
#[tokio::test]
async fn rejects_missing_state() {
    refused(&[("state", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_missing_code_challenge() {
    refused(&[("code_challenge", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_missing_code_challenge_method() {
    refused(&[("code_challenge_method", "")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_plain_pkce() {
    refused(&[("code_challenge_method", "plain")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_code_challenge_of_42_chars() {
    refused(&[("code_challenge", &"a".repeat(42))], "invalid_request").await;
}
#[tokio::test]
async fn rejects_bad_login_hint() {
    refused(&[("login_hint", "not a handle")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_request_uri_in_par_body() {
    refused(
        &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
        "invalid_request",
    )
    .await;
}
#[tokio::test]
async fn rejects_unknown_prompt() {
    refused(&[("prompt", "create")], "invalid_request").await;
}
#[tokio::test]
async fn rejects_dpop_jkt_differing_from_proof_key() {
    refused(&[("dpop_jkt", &DpopKey::generate().jkt)], "invalid_request").await;
}

#[tokio::test]
async fn rejects_repeated_parameter() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let r = http()
        .post(s.url("/oauth/par"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "client_id={}&scope=atproto&scope=atproto",
            crate::support::client::urlencode(&c.client_id)
        ))
        .send()
        .await
        .unwrap();
    let r = crate::support::client::read(r).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "invalid_request");
    assert!(r.json["error_description"]
        .as_str()
        .unwrap()
        .contains("repeated"));
    assert_eq!(env.count_rows("authorization_requests"), 0);
}

#[tokio::test]
async fn rejects_json_body() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http()
        .post(s.url("/oauth/par"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let r = crate::support::client::read(r).await;
    assert_eq!((r.status, r.error()), (400, "invalid_request"));
}

#[tokio::test]
async fn rejects_oversized_body_with_413() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http()
        .post(s.url("/oauth/par"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={}", "a".repeat(70 * 1024)))
        .send()
        .await
        .unwrap();
    let r = crate::support::client::read(r).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error(), "invalid_request");
}

#[tokio::test]
async fn rejects_request_without_proof_or_dpop_jkt() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let (_, challenge) = crate::support::client::pkce();
    let r = c
        .post_raw(
            "/oauth/par",
            &[
                ("client_id", &c.client_id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", SCOPE),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            &[],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_dpop_proof"));
    assert_eq!(env.count_rows("authorization_requests"), 0);
}

#[tokio::test]
async fn rejects_reused_code_challenge() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let (_, challenge) = crate::support::client::pkce();
    let (r, _) = c.par(&[("code_challenge", &challenge)]).await;
    assert_eq!(r.status, 201);
    let (r, _) = c.par(&[("code_challenge", &challenge)]).await;
    assert_eq!((r.status, r.error()), (400, "invalid_request"));
    assert_eq!(env.count_rows("authorization_requests"), 1);
}

#[tokio::test]
async fn rejects_unresolvable_client() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let c = TestClient::loopback(&s, SCOPE);
    let proof = c
        .dpop
        .proof("POST", &format!("{}/oauth/par", s.issuer), None, None);
    let r = c
        .post_raw(
            "/oauth/par",
            &[("client_id", "https://client.invalid/metadata.json")],
            &[("DPoP", &proof)],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_client"));
}

#[tokio::test]
async fn get_is_405() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http().get(s.url("/oauth/par")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
}
