//! Fixtures shared by the flow tests (PAR, code grant, refresh, revoke):
//! a fixed clock, clients of each kind, DPoP thumbprints, and a store
//! holding an approved authorization request with its code.

use serde_json::{json, Value};

use super::code_grant::{exchange, Caller, CodeGrantInput};
use super::{TokenBundle, TokenPolicy};
use crate::client::auth::ClientAuth;
use crate::client::client_id::ClientId;
use crate::client::jwks::ClientJwks;
use crate::client::metadata::{validate_metadata, ClientMetadata, ValidatedClient};
use crate::consts;
use crate::crypto::Es256SigningKey;
use crate::identity::Did;
use crate::ids::{secret_hash, Code, RequestId};
use crate::jwk::ec_public_jwk;
use crate::keys::{generate_stored_key, Keyset};
use crate::store::memory::MemoryStore;
use crate::store::{AuthorizationParams, AuthorizationRequest, RequestStore};

/// The fake clock's starting point. Tests step it, never sleep.
pub const NOW: i64 = 1_750_000_000;
/// One day, in seconds.
pub const DAY: i64 = 24 * 3600;
/// This server.
pub const ISSUER: &str = "https://as.example.com";
/// The resource server tokens are for.
pub const AUDIENCE: &str = "did:web:pds.example.com";
/// The account that approved the requests.
pub const SUB: &str = "did:plc:abcdefghijklmnopqrstuvwx";

/// A discoverable public web client.
pub const WEB_CLIENT_ID: &str = "https://app.example.com/client-metadata.json";
/// Its one redirect URI.
pub const WEB_REDIRECT: &str = "https://app.example.com/callback";
/// Another discoverable client.
pub const OTHER_CLIENT_ID: &str = "https://other.example.net/client-metadata.json";
/// A loopback development client (native, public).
pub const LOOPBACK_CLIENT_ID: &str =
    "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=atproto+transition%3Ageneric";
/// The loopback client's redirect URI.
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/cb";

/// RFC 7636 Appendix B: a verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A DPoP key thumbprint (43 base64url characters, as RFC 7638 makes them).
pub fn jkt(name: &str) -> String {
    secret_hash(name)
}

/// The DPoP key the requests are bound to.
pub fn jkt_a() -> String {
    jkt("dpop key A")
}

/// Another DPoP key.
pub fn jkt_b() -> String {
    jkt("dpop key B")
}

/// The account DID.
pub fn sub() -> Did {
    Did::parse(SUB).unwrap()
}

/// A keyset with one fresh key.
pub fn keyset() -> Keyset {
    Keyset::from_stored(&[generate_stored_key(NOW).unwrap()]).unwrap()
}

/// The default policy for [`ISSUER`].
pub fn policy() -> TokenPolicy {
    TokenPolicy::defaults(ISSUER)
}

fn metadata(client_id: &str, grant_types: &[&str]) -> Value {
    json!({
        "client_id": client_id,
        "application_type": "web",
        "grant_types": grant_types,
        "response_types": ["code"],
        "redirect_uris": [WEB_REDIRECT],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true,
    })
}

fn validated(client_id: &str, doc: Value) -> ValidatedClient {
    let id = ClientId::parse(client_id).unwrap();
    validate_metadata(&id, ClientMetadata::from_value(doc).unwrap()).unwrap()
}

/// The public web client, declaring the refresh grant.
pub fn web_client() -> ValidatedClient {
    validated(
        WEB_CLIENT_ID,
        metadata(WEB_CLIENT_ID, &["authorization_code", "refresh_token"]),
    )
}

/// The public web client, without the refresh grant.
pub fn web_client_without_refresh() -> ValidatedClient {
    validated(
        WEB_CLIENT_ID,
        metadata(WEB_CLIENT_ID, &["authorization_code"]),
    )
}

/// Another public client (same redirect URI, another `client_id`).
pub fn other_client() -> ValidatedClient {
    let mut doc = metadata(OTHER_CLIENT_ID, &["authorization_code", "refresh_token"]);
    doc["redirect_uris"] = json!(["https://other.example.net/callback"]);
    validated(OTHER_CLIENT_ID, doc)
}

/// The loopback development client.
pub fn loopback_client() -> ValidatedClient {
    let id = ClientId::parse(LOOPBACK_CLIENT_ID).unwrap();
    let doc = id.loopback_metadata().unwrap();
    validate_metadata(&id, doc).unwrap()
}

/// A confidential client's key, with the `ClientAuth` an assertion signed
/// by it yields.
pub struct ClientKey {
    /// The public JWK as published.
    pub jwk: Value,
    /// What authentication with it records.
    pub auth: ClientAuth,
}

/// A fresh confidential-client key named `kid`.
pub fn client_key(kid: &str) -> ClientKey {
    let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
    let jwk = ec_public_jwk(sk.public_key(), Some(kid));
    let jkt = crate::jwk::ec_thumbprint(sk.public_key().x(), sk.public_key().y());
    ClientKey {
        jwk,
        auth: ClientAuth::PrivateKeyJwt {
            kid: kid.into(),
            alg: "ES256".into(),
            jkt,
        },
    }
}

/// A confidential web client publishing `keys` inline.
pub fn confidential_client(keys: &[&ClientKey]) -> ValidatedClient {
    let mut doc = metadata(WEB_CLIENT_ID, &["authorization_code", "refresh_token"]);
    doc["token_endpoint_auth_method"] = json!("private_key_jwt");
    doc["token_endpoint_auth_signing_alg"] = json!("ES256");
    doc["jwks"] = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    validated(WEB_CLIENT_ID, doc)
}

/// A client's key set as freshly resolved, holding `keys`.
pub fn jwks(keys: &[&ClientKey]) -> ClientJwks {
    let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    ClientJwks::from_json(&set, "jwks").unwrap()
}

/// The caller of a token request.
pub fn caller<'a>(
    client: &'a ValidatedClient,
    auth: &'a ClientAuth,
    dpop_jkt: &'a str,
) -> Caller<'a> {
    Caller {
        client,
        auth,
        dpop_jkt,
    }
}

/// An approved request as PAR and the authorization endpoint leave it:
/// stored, bound to [`jkt_a`], with a code issued at `now` to [`SUB`].
/// Returns the request id and the code.
pub fn approved_request(
    store: &MemoryStore,
    client: &ValidatedClient,
    auth: &ClientAuth,
    redirect_uri: &str,
    now: i64,
) -> (String, Code) {
    let id = RequestId::generate().as_str().to_string();
    let request = AuthorizationRequest {
        id: id.clone(),
        client_id: client.client_id.as_str().to_string(),
        client_auth: auth.clone(),
        params: AuthorizationParams {
            redirect_uri: redirect_uri.to_string(),
            scope: "atproto transition:generic".into(),
            state: "state-1".into(),
            code_challenge: CHALLENGE.into(),
            response_mode: "query".into(),
            login_hint: None,
            prompt: None,
            ui_locales: None,
            dpop_jkt: jkt_a(),
        },
        created_at: now,
        expires_at: now + consts::PAR_LIFETIME_SECS,
        device_id: Some("dev-1".into()),
        sub: None,
        code_hash: None,
        consumed_at: None,
    };
    store.create_request(&request).unwrap();
    let code = Code::generate();
    assert!(store
        .issue_code(&id, &sub(), &code.hash(), now + consts::CODE_LIFETIME_SECS)
        .unwrap());
    (id, code)
}

/// The token request that redeems `code` correctly.
pub fn good_input<'a>(code: &'a Code, redirect_uri: &'a str) -> CodeGrantInput<'a> {
    CodeGrantInput {
        code: Some(code.as_str()),
        redirect_uri: Some(redirect_uri),
        code_verifier: Some(VERIFIER),
    }
}

/// A session started at `now` by the public web client with key A: the
/// store, the keyset and the tokens of the code exchange.
pub fn started_session(now: i64) -> (MemoryStore, Keyset, TokenBundle) {
    started_session_for(&web_client(), &ClientAuth::None, now)
}

/// A session started at `now` by `client` authenticating as `auth`, with
/// DPoP key A.
pub fn started_session_for(
    client: &ValidatedClient,
    auth: &ClientAuth,
    now: i64,
) -> (MemoryStore, Keyset, TokenBundle) {
    let store = MemoryStore::new();
    let keys = keyset();
    let (_, code) = approved_request(&store, client, auth, WEB_REDIRECT, now);
    let jkt = jkt_a();
    let bundle = exchange(
        &store,
        &keys,
        &policy(),
        &caller(client, auth, &jkt),
        &good_input(&code, WEB_REDIRECT),
        AUDIENCE,
        now,
    )
    .unwrap();
    (store, keys, bundle)
}
