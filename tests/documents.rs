//! Discovery documents, JWKS, CORS, error shapes (SPEC §0, §1, §2, §7).

use serde_json::{json, Value};

use crate::support::{http, TestEnv};

async fn get_json(url: &str) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let r = http().get(url).send().await.expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("body");
    let v: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
    (status, headers, v)
}

#[tokio::test]
async fn as_metadata_has_every_required_field() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let (status, h, m) = get_json(&s.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age=300"));
    let iss = &s.issuer;
    assert!(iss.starts_with("http://localhost:"), "{iss}");
    assert_eq!(m["issuer"], iss.as_str());
    let expect = json!({
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "pushed_authorization_request_endpoint": format!("{iss}/oauth/par"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "jwks_uri": format!("{iss}/oauth/jwks"),
        "require_pushed_authorization_requests": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": ["ES256"],
        "client_id_metadata_document_supported": true,
        "require_request_uri_registration": true,
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "protected_resources": [iss],
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&m[k], v, "field {k}");
    }
    let scopes: Vec<&str> = m["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for s in [
        "atproto",
        "transition:generic",
        "transition:chat.bsky",
        "transition:email",
    ] {
        assert!(scopes.contains(&s), "scopes_supported lacks {s}");
    }
    assert!(!m["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("none")));
    assert!(
        m.get("introspection_endpoint").is_none(),
        "introspection is off by default"
    );
    assert!(serde_json::to_string(&m).unwrap().len() < 8 * 1024);
}

#[tokio::test]
async fn protected_resource_metadata_names_this_server() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http()
        .get(s.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let body = r.bytes().await.unwrap();
    assert!(
        body.len() < 1024,
        "document is {} bytes; clients refuse over 1 KiB",
        body.len()
    );
    let m: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(m["resource"], s.issuer.as_str());
    assert_eq!(m["authorization_servers"], json!([s.issuer]));
    assert_eq!(m["bearer_methods_supported"], json!(["header"]));
    assert!(m["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("atproto")));
}

#[tokio::test]
async fn jwks_has_public_keys_only() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let (status, h, j) = get_json(&s.url("/oauth/jwks")).await;
    assert_eq!(status, 200);
    assert_eq!(h["access-control-allow-origin"], "*");
    let keys = j["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    for k in keys {
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["crv"], "P-256");
        assert_eq!(k["alg"], "ES256");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(k.get(private).is_none(), "JWKS leaks {private}");
        }
    }
}

#[tokio::test]
async fn unknown_path_is_json_404() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let (status, h, v) = get_json(&s.url("/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(v["error"], "not_found");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let r = http()
        .post(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    let r = http().get(s.url("/oauth/token")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "*",
        "CORS on errors too"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "method_not_allowed");
}

#[tokio::test]
async fn preflight_names_dpop_and_authorization() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    for path in [
        "/oauth/par",
        "/oauth/token",
        "/oauth/revoke",
        "/xrpc/com.atproto.server.getSession",
    ] {
        let r = http()
            .request(reqwest::Method::OPTIONS, s.url(path))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "dpop, content-type, authorization",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        let allow = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for needed in ["content-type", "dpop", "authorization"] {
            assert!(
                allow.contains(needed),
                "{path}: allow-headers lacks {needed}"
            );
        }
        let expose = h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            expose.contains("dpop-nonce") && expose.contains("www-authenticate"),
            "{path}: {expose}"
        );
    }
}

#[tokio::test]
async fn health_answers_ok() {
    let env = TestEnv::new();
    let s = env.serve(&[]);
    let (status, _, v) = get_json(&s.url("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
}
