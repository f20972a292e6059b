//! `POST /oauth/token` and `POST /oauth/revoke` through the real binary
//! (SPEC §6, §9). The authorization step is done through the store (the
//! pages have their own tests): PAR → code issued to the request → token.

use atauth_core::ids::{Code, RequestId};
use atauth_core::store::RequestStore;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;

use crate::support::client::{now, DpopKey, Reply, TestClient, REDIRECT_URI};
use crate::support::{Server, TestEnv};

const SCOPE: &str = "atproto transition:generic";

struct Flow {
    env: TestEnv,
    server: Server,
    client: TestClient,
    did: String,
}

async fn flow(env_vars: &[(&str, &str)]) -> Flow {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", "correct horse battery");
    let server = env.serve(env_vars);
    let client = TestClient::loopback(&server, SCOPE);
    Flow {
        env,
        server,
        client,
        did,
    }
}

/// PAR, then approve it in the store as the pages would. Returns the code
/// and the PKCE verifier.
async fn authorized_code(f: &Flow) -> (String, String) {
    let (r, verifier) = f.client.par(&[]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    let id = RequestId::from_request_uri(r.json["request_uri"].as_str().unwrap()).unwrap();
    let code = Code::generate();
    let did = atauth_core::identity::Did::parse(&f.did).unwrap();
    assert!(f
        .env
        .store()
        .issue_code(id.as_str(), &did, &code.hash(), now() + 300)
        .unwrap());
    (code.as_str().to_string(), verifier)
}

async fn exchange(f: &Flow, code: &str, verifier: &str) -> Reply {
    f.client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
        )
        .await
}

async fn refresh_with(f: &Flow, key: &DpopKey, token: &str) -> Reply {
    f.client
        .post_dpop_with(
            key,
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &f.client.client_id),
                ("refresh_token", token),
            ],
        )
        .await
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn code_exchange_issues_dpop_bound_tokens() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let r = exchange(&f, &code, &verifier).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["token_type"], "DPoP");
    assert_eq!(r.json["scope"], SCOPE);
    assert_eq!(r.json["sub"], f.did.as_str());
    assert!(
        r.json["expires_in"].as_i64().unwrap() > 0 && r.json["expires_in"].as_i64().unwrap() <= 900
    );
    assert!(r.json["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("ref-"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(r.header("dpop-nonce").is_some());
    let at = r.json["access_token"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&B64.decode(at.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let c = claims(at);
    assert_eq!(c["iss"], f.server.issuer.as_str());
    assert_eq!(c["aud"], f.server.issuer.as_str());
    assert_eq!(c["sub"], f.did.as_str());
    assert_eq!(c["cnf"]["jkt"], f.client.dpop.jkt.as_str());
    assert_eq!(c["client_id"], f.client.client_id.as_str());
    assert_eq!(c["scope"], SCOPE);
}

#[tokio::test]
async fn rejects_wrong_verifier() {
    let f = flow(&[]).await;
    let (code, _) = authorized_code(&f).await;
    let r = exchange(&f, &code, &"x".repeat(43)).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn rejects_missing_verifier() {
    let f = flow(&[]).await;
    let (code, _) = authorized_code(&f).await;
    let r = f
        .client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn rejects_different_redirect_uri() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let r = f
        .client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn rejects_dpop_key_other_than_pars() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let other = DpopKey::generate();
    let r = f
        .client
        .post_dpop_with(
            &other,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn rejects_proof_for_another_url() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let proof = f.client.dpop.proof(
        "POST",
        &format!("{}/oauth/par", f.server.issuer),
        f.client.nonce().as_deref(),
        None,
    );
    let r = f
        .client
        .post_raw(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
            &[("DPoP", &proof)],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_dpop_proof"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn rejects_code_of_another_client() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let other = TestClient::loopback(&f.server, "atproto");
    let r = other
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &other.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(f.env.count_rows("oauth_sessions"), 0);
}

#[tokio::test]
async fn reused_code_fails_and_revokes_first_tokens() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let first = exchange(&f, &code, &verifier).await;
    assert_eq!(first.status, 200);
    let again = exchange(&f, &code, &verifier).await;
    assert_eq!((again.status, again.error()), (400, "invalid_grant"));
    assert_eq!(
        f.env.count_rows("oauth_sessions"),
        0,
        "the first exchange's session is revoked"
    );
    let r = refresh_with(
        &f,
        &f.client.dpop,
        first.json["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn concurrent_exchanges_of_one_code_never_both_get_tokens() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    // The client already holds a nonce from PAR, so both attempts are
    // otherwise valid and race on the code itself.
    let (a, b) = tokio::join!(
        exchange(&f, &code, &verifier),
        exchange(&f, &code, &verifier)
    );
    // The store lets exactly one consumption through (contract suite, both
    // backends, 8 threads). The loser is a second use of the code, so
    // RFC 6749 §4.1.2 applies: it is denied and every token issued from the
    // code is revoked. Depending on the interleaving the winner's response
    // is a 200 whose tokens are then revoked, or already an invalid_grant;
    // never two sets of tokens, and never a surviving session.
    let ok = [a.status, b.status].iter().filter(|s| **s == 200).count();
    assert!(ok <= 1, "{:?} / {:?}", a.json, b.json);
    for r in [&a, &b] {
        assert!(
            r.status == 200 || r.error() == "invalid_grant",
            "{:?}",
            r.json
        );
    }
    assert_eq!(
        f.env.count_rows("oauth_sessions"),
        0,
        "tokens of a reused code are revoked"
    );
}

#[tokio::test]
async fn rejects_unsupported_grant_type() {
    let f = flow(&[]).await;
    let r = f
        .client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("client_id", &f.client.client_id),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "unsupported_grant_type"));
}

#[tokio::test]
async fn rejects_token_request_without_proof() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let r = f
        .client
        .post_raw(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
            &[],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_dpop_proof"));
}

#[tokio::test]
async fn refresh_rotates_and_old_token_reuse_revokes() {
    let f = flow(&[("ATAUTH_TOKENS__REFRESH_RETRY_GRACE_SECS", "0")]).await;
    let (code, verifier) = authorized_code(&f).await;
    let t1 = exchange(&f, &code, &verifier).await;
    let r1 = t1.json["refresh_token"].as_str().unwrap().to_string();
    let t2 = refresh_with(&f, &f.client.dpop, &r1).await;
    assert_eq!(t2.status, 200, "{:?}", t2.json);
    let r2 = t2.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let reuse = refresh_with(&f, &f.client.dpop, &r1).await;
    assert_eq!((reuse.status, reuse.error()), (400, "invalid_grant"));
    let after = refresh_with(&f, &f.client.dpop, &r2).await;
    assert_eq!(
        (after.status, after.error()),
        (400, "invalid_grant"),
        "reuse revoked the session"
    );
}

#[tokio::test]
async fn refresh_retry_within_grace_keeps_one_chain() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let t1 = exchange(&f, &code, &verifier).await;
    let r1 = t1.json["refresh_token"].as_str().unwrap().to_string();
    let lost = refresh_with(&f, &f.client.dpop, &r1).await; // response "lost"
    assert_eq!(lost.status, 200);
    let retry = refresh_with(&f, &f.client.dpop, &r1).await;
    assert_eq!(
        retry.status, 200,
        "retry within the grace succeeds: {:?}",
        retry.json
    );
    let lost_token = lost.json["refresh_token"].as_str().unwrap();
    let dead = refresh_with(&f, &f.client.dpop, lost_token).await;
    assert_eq!(
        dead.error(),
        "invalid_grant",
        "the lost response's token is dead"
    );
}

#[tokio::test]
async fn refresh_with_another_dpop_key_fails() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let t1 = exchange(&f, &code, &verifier).await;
    let r = refresh_with(
        &f,
        &DpopKey::generate(),
        t1.json["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn revoke_ends_the_session_and_unknown_token_answers_200() {
    let f = flow(&[]).await;
    let (code, verifier) = authorized_code(&f).await;
    let t1 = exchange(&f, &code, &verifier).await;
    let at = t1.json["access_token"].as_str().unwrap();
    let r = f
        .client
        .post_dpop(
            "/oauth/revoke",
            &[("client_id", &f.client.client_id), ("token", at)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json, serde_json::json!({}));
    let refresh = refresh_with(
        &f,
        &f.client.dpop,
        t1.json["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"));
    let unknown = f
        .client
        .post_dpop(
            "/oauth/revoke",
            &[("client_id", &f.client.client_id), ("token", "ref-unknown")],
        )
        .await;
    assert_eq!(unknown.status, 200);
}
