//! Deployments (issue 5 part 3, issue 6 part 3) through the real binary:
//! token modes on one host, and an entryway: an `authorization` instance
//! and a `resource` instance on different loopback ports.

use serde_json::Value;

use crate::support::client::{Reply, TestClient};
use crate::support::flow::{free_port, get_once, get_resource, login, revoke, GET_SESSION};
use crate::support::{http, Server, TestEnv};

const SCOPE: &str = "atproto transition:generic";
const PASSWORD: &str = "correct horse battery";
const INTROSPECTION_SECRET: &str = "0123456789abcdef0123456789abcdef";
const NONCE_SECRET: &str = "abababababababababababababababababababababababababababababababab";
const OTHER_NONCE_SECRET: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

async fn get_session(client: &TestClient, server: &Server, token: &str) -> Reply {
    get_resource(
        &client.dpop,
        &server.addr,
        &server.issuer,
        GET_SESSION,
        token,
    )
    .await
}

async fn status(server: &Server, path: &str) -> u16 {
    http()
        .get(server.url(path))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

fn access_token(t: &Reply) -> String {
    t.json["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

// ---------------------------------------------------------------------------
// Token modes on one host (role all)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stateful_mode_refuses_a_revoked_sessions_token_at_once() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let client = TestClient::loopback(&server, SCOPE);
    let at = access_token(&login(&env, &client, &did).await);
    assert_eq!(get_session(&client, &server, &at).await.status, 200);
    revoke(&client, &at).await;
    let r = get_session(&client, &server, &at).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"));
}

/// Documented behaviour (config/default.toml, README): in stateless mode a
/// revoked session's access token stays usable until it expires; its
/// refresh token dies at once.
#[tokio::test]
async fn stateless_mode_accepts_a_revoked_sessions_token_until_it_expires() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[("ATAUTH_TOKENS__MODE", "stateless")]);
    let client = TestClient::loopback(&server, SCOPE);
    let t = login(&env, &client, &did).await;
    let at = access_token(&t);
    revoke(&client, &at).await;
    let r = get_session(&client, &server, &at).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["did"], did.as_str());
    let refresh = client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", t.json["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"));
}

// ---------------------------------------------------------------------------
// Entryway: authorization instance + resource instance
// ---------------------------------------------------------------------------

struct Entryway {
    as_env: TestEnv,
    _rs_env: TestEnv,
    auth: Server,
    res: Server,
    did: String,
}

/// Start an `authorization` instance whose tokens are for `audience` (or
/// for the resource instance), then a `resource` instance naming it.
fn entryway(audience: Option<&str>, rs_env: &[(&str, &str)]) -> Entryway {
    let as_env = TestEnv::new();
    let did = as_env.create_account("alice.test", PASSWORD);
    let rs_port = free_port();
    let rs_origin = format!("http://localhost:{rs_port}");
    let auth = as_env.serve_with(
        &["--listen", "127.0.0.1:0", "--role", "authorization"],
        &[
            ("ATAUTH_PDS__URL", audience.unwrap_or(rs_origin.as_str())),
            ("ATAUTH_DPOP__NONCE_SECRET", NONCE_SECRET),
            ("ATAUTH_INTROSPECTION__ENABLED", "true"),
            ("ATAUTH_INTROSPECTION__SECRET", INTROSPECTION_SECRET),
        ],
    );
    let rs = TestEnv::new();
    let plc = format!("{}/plc", auth.addr);
    let mut env: Vec<(&str, &str)> = vec![
        (
            "ATAUTH_RESOURCE__AUTHORIZATION_SERVER",
            auth.issuer.as_str(),
        ),
        ("ATAUTH_IDENTITY__PLC_DIRECTORY_URL", plc.as_str()),
    ];
    env.extend_from_slice(rs_env);
    let listen = format!("127.0.0.1:{rs_port}");
    let res = rs.serve_with(&["--listen", &listen, "--role", "resource"], &env);
    assert_eq!(res.issuer, rs_origin);
    Entryway {
        as_env,
        _rs_env: rs,
        auth,
        res,
        did,
    }
}

const STATEFUL_SHARED_NONCES: &[(&str, &str)] = &[
    ("ATAUTH_DPOP__NONCE_SECRET", NONCE_SECRET),
    (
        "ATAUTH_RESOURCE__INTROSPECTION_SECRET",
        INTROSPECTION_SECRET,
    ),
    ("ATAUTH_RESOURCE__INTROSPECTION_CACHE_SECS", "0"),
];

#[tokio::test]
async fn each_role_serves_only_its_routes() {
    let e = entryway(None, STATEFUL_SHARED_NONCES);
    let pr: Value = http()
        .get(e.res.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(pr["resource"], e.res.issuer.as_str());
    assert_eq!(
        pr["authorization_servers"],
        serde_json::json!([e.auth.issuer])
    );
    for path in [
        "/.well-known/oauth-authorization-server",
        "/oauth/jwks",
        "/oauth/authorize",
        "/oauth/par",
        "/oauth/introspect",
    ] {
        assert_eq!(status(&e.res, path).await, 404, "resource serves {path}");
    }
    for path in ["/.well-known/oauth-protected-resource", GET_SESSION] {
        assert_eq!(
            status(&e.auth, path).await,
            404,
            "authorization serves {path}"
        );
    }
    assert_eq!(
        status(&e.auth, "/.well-known/oauth-authorization-server").await,
        200
    );
    assert_eq!(
        status(&e.res, "/xrpc/com.atproto.server.describeServer").await,
        200
    );
}

#[tokio::test]
async fn resource_instance_accepts_the_authorization_servers_tokens_and_nonces_and_sees_revocations(
) {
    let e = entryway(None, STATEFUL_SHARED_NONCES);
    let client = TestClient::loopback(&e.auth, SCOPE);
    let t = login(&e.as_env, &client, &e.did).await;
    let at = access_token(&t);
    // The nonce the authorization server handed out works at the resource
    // server at the first attempt: the secret is shared.
    let nonce = t.header("dpop-nonce").expect("nonce").to_string();
    let r = get_once(
        &client.dpop,
        &e.res.addr,
        &e.res.issuer,
        GET_SESSION,
        &at,
        Some(&nonce),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["did"], e.did.as_str());
    assert_eq!(r.json["handle"], "alice.test", "from the DID document");
    assert!(r.json.get("email").is_none());
    assert!(r.header("dpop-nonce").is_some());

    revoke(&client, &at).await;
    let r = get_session(&client, &e.res, &at).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_token"),
        "through introspection"
    );
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("DPoP error=\"invalid_token\"")));
}

#[tokio::test]
async fn resource_instance_refuses_another_audience_and_foreign_nonces() {
    // Stateless resource instance with a nonce secret of its own.
    let e = entryway(
        Some("http://localhost:9"),
        &[
            ("ATAUTH_TOKENS__MODE", "stateless"),
            ("ATAUTH_DPOP__NONCE_SECRET", OTHER_NONCE_SECRET),
        ],
    );
    let client = TestClient::loopback(&e.auth, SCOPE);
    let t = login(&e.as_env, &client, &e.did).await;
    let at = access_token(&t);
    let as_nonce = t.header("dpop-nonce").expect("nonce").to_string();
    let r = get_once(
        &client.dpop,
        &e.res.addr,
        &e.res.issuer,
        GET_SESSION,
        &at,
        Some(&as_nonce),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "use_dpop_nonce"));
    let fresh = r.header("dpop-nonce").expect("fresh nonce");
    assert_ne!(fresh, as_nonce);
    let r = get_session(&client, &e.res, &at).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_token"),
        "aud is another PDS"
    );
    assert!(r.json["error_description"]
        .as_str()
        .is_some_and(|d| d.contains("aud")));
}
