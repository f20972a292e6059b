//! A confidential client (`private_key_jwt`) whose metadata document is
//! hosted on a loopback port, through the real binary in `--dev` mode
//! (SPEC §3 "Confidential clients", §4, §6 "Client assertion"). The
//! authorization step is done through the store, as in `token.rs`; the
//! web client's https redirect URI is never followed.
//!
//! `--dev` both allows fetching from loopback and accepts the development
//! `client_id` form `http://127.0.0.1:<port>/<path>`; the metadata cache is
//! cut to 1 s so a key change in the document is seen within ~2 s.

use std::time::Duration;

use atauth_core::ids::{Code, RequestId};
use atauth_core::store::RequestStore;
use serde_json::{json, Value};

use crate::support::client::{
    now, pkce, with_assertion, ClientKey, DocumentHost, Reply, TestClient,
};
use crate::support::{Server, TestEnv};

const SCOPE: &str = "atproto transition:generic";
/// The web client's redirect URI: https as web clients must use; the test
/// never follows it.
const REDIRECT: &str = "https://app.example.com/callback";
const DOC_PATH: &str = "/oauth/client-metadata.json";
/// Metadata documents are cached for 1 s (minimum and default).
const SHORT_CACHE: [(&str, &str); 2] = [
    ("ATAUTH_FETCH__CACHE_MIN_SECS", "1"),
    ("ATAUTH_FETCH__CACHE_DEFAULT_SECS", "1"),
];
/// Longer than the cache lifetime: the next request re-fetches.
const PAST_CACHE: Duration = Duration::from_millis(2200);

/// A confidential web client's document publishing `keys`.
fn document(host: &DocumentHost, keys: &[&ClientKey]) -> Value {
    json!({
        "client_id": host.url,
        "client_name": "Confidential test client",
        "client_uri": format!("{}/", host.origin),
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT],
        "scope": SCOPE,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()},
        "dpop_bound_access_tokens": true,
    })
}

struct Conf {
    host: DocumentHost,
    env: TestEnv,
    server: Server,
    client: TestClient,
    k1: ClientKey,
    k2: ClientKey,
    did: String,
}

fn setup() -> Conf {
    let host = DocumentHost::start(DOC_PATH);
    let k1 = ClientKey::generate("k1");
    let k2 = ClientKey::generate("k2");
    host.publish(&document(&host, &[&k1]));
    let env = TestEnv::new();
    let did = env.create_account("alice.test", "correct horse battery");
    let server = env.serve(&SHORT_CACHE);
    let client = TestClient::confidential(&server, &host.url);
    Conf {
        host,
        env,
        server,
        client,
        k1,
        k2,
        did,
    }
}

/// PAR authenticated with `assertion`. Returns the reply and the verifier.
async fn par(c: &Conf, assertion: &str) -> (Reply, String) {
    let extra = with_assertion(&[("redirect_uri", REDIRECT)], assertion);
    c.client.par(&extra).await
}

/// PAR signed with k1, then approve it in the store as the pages would.
/// Returns the code and the PKCE verifier.
async fn authorized_code(c: &Conf) -> (String, String) {
    let (r, verifier) = par(c, &c.client.assertion(&c.k1)).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    let id = RequestId::from_request_uri(r.json["request_uri"].as_str().unwrap()).unwrap();
    let code = Code::generate();
    let did = atauth_core::identity::Did::parse(&c.did).unwrap();
    assert!(c
        .env
        .store()
        .issue_code(id.as_str(), &did, &code.hash(), now() + 300)
        .unwrap());
    (code.as_str().to_string(), verifier)
}

async fn exchange(c: &Conf, code: &str, verifier: &str, assertion: &str) -> Reply {
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", c.client.client_id.as_str()),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    c.client
        .post_dpop("/oauth/token", &with_assertion(&form, assertion))
        .await
}

/// A refresh authenticated by `key`, with the client's DPoP key.
async fn refresh(c: &Conf, key: &ClientKey, token: &str) -> Reply {
    let assertion = c.client.assertion(key);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", c.client.client_id.as_str()),
        ("refresh_token", token),
    ];
    c.client
        .post_dpop("/oauth/token", &with_assertion(&form, &assertion))
        .await
}

fn expect_error(r: &Reply, status: u16, error: &str) {
    assert_eq!((r.status, r.error()), (status, error), "{:?}", r.json);
}

fn description(r: &Reply) -> &str {
    r.json["error_description"].as_str().unwrap_or("")
}

fn refresh_token(r: &Reply) -> String {
    r.json["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token: {:?}", r.json))
        .to_string()
}

/// The whole life of a key-bound confidential session: PAR, code exchange
/// and refresh with k1; k2 (published beside k1) cannot refresh a session
/// k1 started; once k1 leaves the document the session ends.
#[tokio::test]
async fn confidential_session_stays_bound_to_its_client_key() {
    let c = setup();

    let (code, verifier) = authorized_code(&c).await;
    assert!(c.host.fetches() >= 1, "the document was fetched");
    let t = exchange(&c, &code, &verifier, &c.client.assertion(&c.k1)).await;
    assert_eq!(t.status, 200, "{:?}", t.json);
    assert_eq!(t.json["token_type"], "DPoP");
    assert_eq!(t.json["scope"], SCOPE);
    assert_eq!(t.json["sub"], c.did.as_str());
    let mut rt = refresh_token(&t);
    assert_eq!(c.env.count_rows("oauth_sessions"), 1);

    // Key-bound refresh: the key that started the session works.
    let r = refresh(&c, &c.k1, &rt).await;
    assert_eq!(r.status, 200, "refresh signed with k1: {:?}", r.json);
    rt = refresh_token(&r);

    // k2 joins k1 in the document; once the cache has expired, k2 is a
    // valid client key but not the one this session is bound to.
    c.host.publish(&document(&c.host, &[&c.k1, &c.k2]));
    tokio::time::sleep(PAST_CACHE).await;
    let fetched = c.host.fetches();
    let r = refresh(&c, &c.k2, &rt).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "refresh signed with k2: {:?}",
        r.json
    );
    assert!(
        description(&r).contains("differs from the one the session started with"),
        "{:?}",
        r.json
    );
    assert!(c.host.fetches() > fetched, "the document was fetched again");
    assert_eq!(
        c.env.count_rows("oauth_sessions"),
        1,
        "a refresh with another published key fails without ending the session"
    );
    let r = refresh(&c, &c.k1, &rt).await;
    assert_eq!(r.status, 200, "k1 still refreshes: {:?}", r.json);
    rt = refresh_token(&r);

    // k1 leaves the document: the session it started ends at the next
    // refresh, even one signed with the still-published k2.
    c.host.publish(&document(&c.host, &[&c.k2]));
    tokio::time::sleep(PAST_CACHE).await;
    let fetched = c.host.fetches();
    let r = refresh(&c, &c.k2, &rt).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "refresh after k1 was withdrawn: {:?}",
        r.json
    );
    assert!(
        description(&r).contains("no longer published"),
        "{:?}",
        r.json
    );
    assert!(c.host.fetches() > fetched, "the document was fetched again");
    assert_eq!(
        c.env.count_rows("oauth_sessions"),
        0,
        "the session bound to the withdrawn key is revoked"
    );
    let r = refresh(&c, &c.k1, &rt).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_client"),
        "k1 is no longer a key of the client: {:?}",
        r.json
    );
    assert!(
        description(&r).contains("client_assertion.kid"),
        "{:?}",
        r.json
    );
    // Publishing k1 again does not bring the session back.
    c.host.publish(&document(&c.host, &[&c.k1, &c.k2]));
    tokio::time::sleep(PAST_CACHE).await;
    let r = refresh(&c, &c.k1, &rt).await;
    expect_error(&r, 400, "invalid_grant");
}

#[tokio::test]
async fn par_without_assertion_is_invalid_client() {
    let c = setup();
    let (r, _) = c.client.par(&[("redirect_uri", REDIRECT)]).await;
    expect_error(&r, 400, "invalid_client");
    let d = description(&r);
    assert!(d.contains("client_auth.required"), "{d}");
    let (r, _) = par(&c, &c.client.assertion(&c.k1)).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
}

#[tokio::test]
async fn assertion_for_the_token_endpoint_url_is_invalid_client() {
    let c = setup();
    let (code, verifier) = authorized_code(&c).await;
    let token_endpoint = format!("{}/oauth/token", c.server.issuer);
    let wrong_aud =
        c.k1.sign_claims(&ClientKey::claims(&c.client.client_id, &token_endpoint));
    let r = exchange(&c, &code, &verifier, &wrong_aud).await;
    expect_error(&r, 401, "invalid_client");
    let d = description(&r);
    assert!(d.contains("client_assertion.aud"), "{d}");
    assert_eq!(c.env.count_rows("oauth_sessions"), 0);
    // The refused request did not consume the code.
    let r = exchange(&c, &code, &verifier, &c.client.assertion(&c.k1)).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.json["refresh_token"].is_string());
}

#[tokio::test]
async fn reused_assertion_jti_is_invalid_client() {
    let c = setup();
    let assertion = c.client.assertion(&c.k1);
    let (r, _) = par(&c, &assertion).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    let (r, _) = par(&c, &assertion).await;
    expect_error(&r, 401, "invalid_client");
    let d = description(&r);
    assert!(d.contains("client_assertion.replay"), "{d}");

    // The same jti in a freshly signed assertion is a replay too.
    let mut claims = ClientKey::claims(&c.client.client_id, &c.server.issuer);
    let (r, _) = par(&c, &c.k1.sign_claims(&claims)).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    claims["iat"] = json!(now());
    let (r, _) = par(&c, &c.k1.sign_claims(&claims)).await;
    expect_error(&r, 401, "invalid_client");
}

#[tokio::test]
async fn dpop_key_equal_to_the_client_key_is_invalid_client() {
    let c = setup();
    let same = c.k1.as_dpop_key();
    assert_eq!(same.jkt, c.k1.jkt());
    // At PAR.
    let (_, challenge) = pkce();
    let form = [
        ("client_id", c.client.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPE),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let assertion = c.client.assertion(&c.k1);
    let r = c
        .client
        .post_dpop_with(&same, "/oauth/par", &with_assertion(&form, &assertion))
        .await;
    expect_error(&r, 401, "invalid_client");
    let d = description(&r);
    assert!(d.contains("DPoP key must differ"), "{d}");

    // At the token endpoint.
    let (code, verifier) = authorized_code(&c).await;
    let assertion = c.client.assertion(&c.k1);
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", c.client.client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let r = c
        .client
        .post_dpop_with(&same, "/oauth/token", &with_assertion(&form, &assertion))
        .await;
    expect_error(&r, 401, "invalid_client");
    let d = description(&r);
    assert!(d.contains("DPoP key must differ"), "{d}");
    assert_eq!(c.env.count_rows("oauth_sessions"), 0);
}

/// Even in `--dev`, the loopback document form keeps its rules: here, the
/// explicit port (without `--dev` core's strict `client_id.https` rule
/// refuses every http document URL; see core's client_id tests).
#[tokio::test]
async fn loopback_document_client_id_without_port_is_invalid_client() {
    let c = setup();
    let no_port = c
        .client
        .client_id
        .replacen(c.host.origin.as_str(), "http://127.0.0.1", 1);
    let other = TestClient::confidential(&c.server, &no_port);
    let (r, _) = other
        .par(&with_assertion(
            &[("redirect_uri", REDIRECT)],
            &other.assertion(&c.k1),
        ))
        .await;
    expect_error(&r, 400, "invalid_client");
    let d = description(&r);
    assert!(d.contains("client_id.dev_loopback_document"), "{d}");
}
