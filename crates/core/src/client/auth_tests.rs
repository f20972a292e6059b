//! Tests of client authentication: one hostile assertion per test, each
//! asserting `invalid_client` and the rule that refused it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::client::client_id::ClientId;
use crate::client::metadata::{validate_metadata, ClientMetadata};
use crate::crypto::Es256SigningKey;
use crate::jwk::ec_public_jwk;
use crate::replay::MemoryReplayStore;
use crate::store::{StoreError, StoreResult};

const CLIENT_ID: &str = "https://app.example.com/client-metadata.json";
const ISSUER: &str = "https://pds.example.org";
const NOW: i64 = 1_750_000_000;

fn key() -> Es256SigningKey {
    Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap()
}

fn metadata(confidential: Option<&Es256SigningKey>) -> Value {
    let mut d = json!({
        "client_id": CLIENT_ID,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "atproto",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true,
    });
    if let Some(k) = confidential {
        d["token_endpoint_auth_method"] = json!("private_key_jwt");
        d["token_endpoint_auth_signing_alg"] = json!("ES256");
        d["jwks"] = json!({"keys": [ec_public_jwk(k.public_key(), Some("k1"))]});
    }
    d
}

fn client(confidential: Option<&Es256SigningKey>) -> ValidatedClient {
    let id = ClientId::parse(CLIENT_ID).unwrap();
    validate_metadata(
        &id,
        ClientMetadata::from_value(metadata(confidential)).unwrap(),
    )
    .unwrap()
}

/// Sign `header.claims` as a compact JWS with `key` (64-byte R||S signature).
fn sign(key: &Es256SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(serde_json::to_vec(header).unwrap()),
        B64.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(sig))
}

fn header() -> Value {
    json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
}

fn claims() -> Value {
    json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": ISSUER, "jti": "jti-1", "iat": NOW - 5})
}

fn creds(assertion: &str) -> ClientCredentials<'_> {
    ClientCredentials {
        client_assertion_type: Some(CLIENT_ASSERTION_TYPE_JWT_BEARER),
        client_assertion: Some(assertion),
    }
}

fn run(
    client: &ValidatedClient,
    creds: ClientCredentials<'_>,
    replay: &MemoryReplayStore,
) -> Result<ClientAuth, OAuthError> {
    authenticate_client(
        client,
        None,
        creds,
        ISSUER,
        NOW,
        &AssertionPolicy::default(),
        replay,
    )
}

fn assert_refused(r: Result<ClientAuth, OAuthError>, rule_id: &str) -> OAuthError {
    let e = r.expect_err("accepted a hostile assertion");
    assert_eq!(e.error, ErrorCode::InvalidClient, "{e}");
    let d = e.error_description.clone().unwrap_or_default();
    assert!(d.contains(rule_id), "expected rule {rule_id}: {d}");
    e
}

/// One test per hostile assertion, signed by the client's key after
/// `mutate(header, claims)`, refused by the named rule.
macro_rules! rejects_assertion {
    ($($name:ident: |$h:ident, $c:ident| $mutate:block => $rule:literal;)*) => {$(
        #[test]
        fn $name() {
            let k = key();
            let c = client(Some(&k));
            #[allow(unused_mut)]
            let (mut $h, mut $c) = (header(), claims());
            $mutate
            let jwt = sign(&k, &$h, &$c);
            let e = assert_refused(run(&c, creds(&jwt), &MemoryReplayStore::new()), $rule);
            assert_eq!(e.status, 401);
        }
    )*};
}

rejects_assertion! {
    rejects_aud_that_is_the_token_endpoint: |h, c| { c["aud"] = json!(format!("{ISSUER}/oauth/token")); } => "client_assertion.aud";
    rejects_aud_with_trailing_slash: |h, c| { c["aud"] = json!(format!("{ISSUER}/")); } => "client_assertion.aud";
    rejects_aud_of_another_server: |h, c| { c["aud"] = json!("https://other.example.org"); } => "client_assertion.aud";
    rejects_aud_array_without_issuer: |h, c| { c["aud"] = json!(["https://other.example.org"]); } => "client_assertion.aud";
    rejects_missing_aud: |h, c| { c.as_object_mut().unwrap().remove("aud"); } => "client_assertion.aud";
    rejects_expired_assertion: |h, c| { c["exp"] = json!(NOW - 100); } => "client_assertion.exp";
    rejects_assertion_not_yet_valid: |h, c| { c["nbf"] = json!(NOW + 300); } => "client_assertion.nbf";
    rejects_iat_in_the_future_beyond_skew: |h, c| { c["iat"] = json!(NOW + 11); } => "client_assertion.iat";
    rejects_iat_too_old: |h, c| { c["iat"] = json!(NOW - 61); } => "client_assertion.iat";
    rejects_missing_iat: |h, c| { c.as_object_mut().unwrap().remove("iat"); } => "client_assertion.iat";
    rejects_non_numeric_iat: |h, c| { c["iat"] = json!("now"); } => "client_assertion.iat";
    rejects_missing_jti: |h, c| { c.as_object_mut().unwrap().remove("jti"); } => "client_assertion.jti";
    rejects_empty_jti: |h, c| { c["jti"] = json!(""); } => "client_assertion.jti";
    rejects_overlong_jti: |h, c| { c["jti"] = json!("j".repeat(MAX_JTI_LEN + 1)); } => "client_assertion.jti";
    rejects_missing_kid: |h, c| { h.as_object_mut().unwrap().remove("kid"); } => "client_assertion.kid";
    rejects_unknown_kid: |h, c| { h["kid"] = json!("k2"); } => "client_assertion.kid";
    rejects_es384_alg: |h, c| { h["alg"] = json!("ES384"); } => "client_assertion.alg";
    rejects_missing_alg: |h, c| { h.as_object_mut().unwrap().remove("alg"); } => "client_assertion.alg";
    rejects_critical_header_extension: |h, c| { h["crit"] = json!(["exp"]); } => "client_assertion.crit";
    rejects_iss_other_than_client_id: |h, c| { c["iss"] = json!("https://evil.example.net/client-metadata.json"); } => "client_assertion.iss";
    rejects_missing_iss: |h, c| { c.as_object_mut().unwrap().remove("iss"); } => "client_assertion.iss";
    rejects_sub_other_than_client_id: |h, c| { c["sub"] = json!("did:plc:someone"); } => "client_assertion.sub";
    rejects_missing_sub: |h, c| { c.as_object_mut().unwrap().remove("sub"); } => "client_assertion.sub";
}

#[test]
fn aud_messages_say_what_is_wrong() {
    let k = key();
    let c = client(Some(&k));
    for (aud, expected) in [
        (format!("{ISSUER}/oauth/token"), "endpoint URL"),
        (format!("{ISSUER}/"), "trailing slash"),
    ] {
        let mut cl = claims();
        cl["aud"] = json!(aud);
        let e = run(
            &c,
            creds(&sign(&k, &header(), &cl)),
            &MemoryReplayStore::new(),
        )
        .unwrap_err();
        assert!(
            e.error_description.unwrap_or_default().contains(expected),
            "{aud}"
        );
    }
}

#[test]
fn accepts_valid_assertion_and_binds_the_key() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&k, &header(), &claims());
    let auth = run(&c, creds(&jwt), &MemoryReplayStore::new()).unwrap();
    let jkt = crate::jwk::ec_thumbprint(k.public_key().x(), k.public_key().y());
    assert_eq!(
        auth,
        ClientAuth::PrivateKeyJwt {
            kid: "k1".into(),
            alg: "ES256".into(),
            jkt
        }
    );
}

#[test]
fn accepts_aud_array_containing_issuer_and_unexpired_exp() {
    let k = key();
    let c = client(Some(&k));
    let mut cl = claims();
    cl["aud"] = json!(["https://other.example.org", ISSUER]);
    cl["exp"] = json!(NOW + 60);
    cl["nbf"] = json!(NOW - 5);
    assert!(run(
        &c,
        creds(&sign(&k, &header(), &cl)),
        &MemoryReplayStore::new()
    )
    .is_ok());
}

#[test]
fn accepts_iat_at_the_edges_of_the_window() {
    let k = key();
    let c = client(Some(&k));
    for (i, iat) in [NOW - 60, NOW + 10, NOW].into_iter().enumerate() {
        let mut cl = claims();
        cl["iat"] = json!(iat);
        cl["jti"] = json!(format!("edge-{i}"));
        assert!(
            run(
                &c,
                creds(&sign(&k, &header(), &cl)),
                &MemoryReplayStore::new()
            )
            .is_ok(),
            "iat {iat}"
        );
    }
}

#[test]
fn accepts_keys_resolved_from_jwks_uri() {
    let k = key();
    let mut m = metadata(Some(&k));
    m.as_object_mut().unwrap().remove("jwks");
    m["jwks_uri"] = json!("https://app.example.com/jwks.json");
    let id = ClientId::parse(CLIENT_ID).unwrap();
    let c = validate_metadata(&id, ClientMetadata::from_value(m).unwrap()).unwrap();
    let fetched = ClientJwks::from_json(
        &json!({"keys": [ec_public_jwk(k.public_key(), Some("k1"))]}),
        "jwks_uri",
    )
    .unwrap();
    let jwt = sign(&k, &header(), &claims());
    let replay = MemoryReplayStore::new();
    let policy = AssertionPolicy::default();
    assert!(authenticate_client(
        &c,
        Some(&fetched),
        creds(&jwt),
        ISSUER,
        NOW,
        &policy,
        &replay
    )
    .is_ok());
    // Without the resolved keys there is nothing to verify with.
    let jwt = sign(
        &k,
        &header(),
        &json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": ISSUER, "jti": "j2", "iat": NOW}),
    );
    assert_refused(
        authenticate_client(&c, None, creds(&jwt), ISSUER, NOW, &policy, &replay),
        "client_assertion.kid",
    );
}

#[test]
fn public_client_without_assertion_is_none() {
    let c = client(None);
    assert_eq!(
        run(&c, ClientCredentials::default(), &MemoryReplayStore::new()).unwrap(),
        ClientAuth::None
    );
}

#[test]
fn rejects_reused_jti() {
    let k = key();
    let c = client(Some(&k));
    let replay = MemoryReplayStore::new();
    let jwt = sign(&k, &header(), &claims());
    assert!(run(&c, creds(&jwt), &replay).is_ok());
    let mut cl = claims();
    cl["iat"] = json!(NOW - 1);
    let again = sign(&k, &header(), &cl);
    assert_refused(run(&c, creds(&again), &replay), "client_assertion.replay");
}

#[test]
fn rejects_alg_none() {
    let k = key();
    let c = client(Some(&k));
    let h = B64.encode(br#"{"alg":"none","kid":"k1"}"#);
    let p = B64.encode(serde_json::to_vec(&claims()).unwrap());
    assert_refused(
        run(&c, creds(&format!("{h}.{p}.")), &MemoryReplayStore::new()),
        "client_assertion.alg",
    );
}

#[test]
fn rejects_hs256() {
    let k = key();
    let c = client(Some(&k));
    let mut h = header();
    h["alg"] = json!("HS256");
    assert_refused(
        run(
            &c,
            creds(&sign(&k, &h, &claims())),
            &MemoryReplayStore::new(),
        ),
        "client_assertion.alg",
    );
}

#[test]
fn rejects_signature_by_another_key() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&key(), &header(), &claims());
    assert_refused(
        run(&c, creds(&jwt), &MemoryReplayStore::new()),
        "client_assertion.signature",
    );
}

#[test]
fn rejects_tampered_claims() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&k, &header(), &claims());
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let mut cl = claims();
    cl["jti"] = json!("other");
    let forged = B64.encode(serde_json::to_vec(&cl).unwrap());
    parts[1] = &forged;
    assert_refused(
        run(&c, creds(&parts.join(".")), &MemoryReplayStore::new()),
        "client_assertion.signature",
    );
}

#[test]
fn rejects_malformed_assertion() {
    let k = key();
    let c = client(Some(&k));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        &format!("{}.e30.AAAA", B64.encode(b"[1]")),
    ] {
        assert_refused(
            run(&c, creds(bad), &MemoryReplayStore::new()),
            "client_assertion.jws",
        );
    }
}

#[test]
fn rejects_payload_that_is_not_an_object() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&k, &header(), &json!(["not", "claims"]));
    assert_refused(
        run(&c, creds(&jwt), &MemoryReplayStore::new()),
        "client_assertion.claims",
    );
}

#[test]
fn rejects_wrong_assertion_type() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&k, &header(), &claims());
    let cr = ClientCredentials {
        client_assertion_type: Some("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
        client_assertion: Some(&jwt),
    };
    assert_refused(
        run(&c, cr, &MemoryReplayStore::new()),
        "client_assertion.type",
    );
    let cr = ClientCredentials {
        client_assertion_type: None,
        client_assertion: Some(&jwt),
    };
    assert_refused(
        run(&c, cr, &MemoryReplayStore::new()),
        "client_assertion.type",
    );
}

#[test]
fn rejects_public_client_sending_assertion() {
    let k = key();
    let c = client(None);
    let jwt = sign(&k, &header(), &claims());
    let e = assert_refused(
        run(&c, creds(&jwt), &MemoryReplayStore::new()),
        "client_auth.public",
    );
    assert_eq!(e.status, 401);
    let only_type = ClientCredentials {
        client_assertion_type: Some(CLIENT_ASSERTION_TYPE_JWT_BEARER),
        client_assertion: None,
    };
    assert_refused(
        run(&c, only_type, &MemoryReplayStore::new()),
        "client_auth.public",
    );
}

#[test]
fn rejects_confidential_client_without_assertion() {
    let k = key();
    let c = client(Some(&k));
    let e = assert_refused(
        run(&c, ClientCredentials::default(), &MemoryReplayStore::new()),
        "client_auth.required",
    );
    assert_eq!(e.status, 400, "no authentication was attempted");
}

#[test]
fn failed_assertions_do_not_consume_the_jti() {
    let k = key();
    let c = client(Some(&k));
    let replay = MemoryReplayStore::new();
    assert!(run(&c, creds(&sign(&key(), &header(), &claims())), &replay).is_err());
    let mut bad_aud = claims();
    bad_aud["aud"] = json!("https://other.example.org");
    assert!(run(&c, creds(&sign(&k, &header(), &bad_aud)), &replay).is_err());
    assert!(replay.is_empty());
    assert!(run(&c, creds(&sign(&k, &header(), &claims())), &replay).is_ok());
    assert_eq!(replay.len(), 1);
}

#[test]
fn jti_is_remembered_for_the_whole_acceptance_window() {
    let k = key();
    let c = client(Some(&k));
    let replay = MemoryReplayStore::new();
    let policy = AssertionPolicy::default();
    let jwt = sign(&k, &header(), &claims());
    assert!(authenticate_client(&c, None, creds(&jwt), ISSUER, NOW, &policy, &replay).is_ok());
    // Still inside the iat window 55 s later: still a replay.
    let r = authenticate_client(&c, None, creds(&jwt), ISSUER, NOW + 55, &policy, &replay);
    assert_refused(r, "client_assertion.replay");
    // Once the iat window is over the assertion is refused as too old anyway.
    let r = authenticate_client(&c, None, creds(&jwt), ISSUER, NOW + 100, &policy, &replay);
    assert_refused(r, "client_assertion.iat");
}

#[test]
fn jtis_are_per_client() {
    let k = key();
    let c = client(Some(&k));
    let replay = MemoryReplayStore::new();
    assert!(replay
        .check_and_insert(
            crate::replay::NS_CLIENT_ASSERTION,
            "https://other.example/c.json#jti-1",
            NOW + 100,
            NOW
        )
        .unwrap());
    assert!(run(&c, creds(&sign(&k, &header(), &claims())), &replay).is_ok());
}

struct FailingStore;

impl ReplayStore for FailingStore {
    fn check_and_insert(&self, _: &str, _: &str, _: i64, _: i64) -> StoreResult<bool> {
        Err(StoreError::Backend("down".into()))
    }
}

#[test]
fn replay_store_failure_is_a_server_error() {
    let k = key();
    let c = client(Some(&k));
    let jwt = sign(&k, &header(), &claims());
    let e = authenticate_client(
        &c,
        None,
        creds(&jwt),
        ISSUER,
        NOW,
        &AssertionPolicy::default(),
        &FailingStore,
    )
    .unwrap_err();
    assert_eq!(e.error, ErrorCode::ServerError);
    assert_eq!(e.to_json(), r#"{"error":"server_error"}"#);
}

#[test]
fn client_auth_serialises_for_session_storage() {
    let a = ClientAuth::PrivateKeyJwt {
        kid: "k".into(),
        alg: "ES256".into(),
        jkt: "t".into(),
    };
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(
        v,
        json!({"method": "private_key_jwt", "kid": "k", "alg": "ES256", "jkt": "t"})
    );
    assert_eq!(serde_json::from_value::<ClientAuth>(v).unwrap(), a);
    assert_eq!(
        serde_json::to_value(ClientAuth::None).unwrap(),
        json!({"method": "none"})
    );
}

#[test]
fn requested_client_id_prefers_the_parameter_then_the_assertion_iss() {
    let payload = B64.encode(br#"{"iss":"https://app.example.com/client-metadata.json"}"#);
    let assertion = format!("e30.{payload}.c2ln");
    assert_eq!(
        requested_client_id(Some("https://a.example/m.json"), Some(&assertion)).unwrap(),
        "https://a.example/m.json"
    );
    assert_eq!(
        requested_client_id(None, Some(&assertion)).unwrap(),
        "https://app.example.com/client-metadata.json"
    );
}

#[test]
fn rejects_request_naming_no_client() {
    assert_eq!(
        requested_client_id(None, None).unwrap_err().error,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        requested_client_id(None, Some("not-a-jwt"))
            .unwrap_err()
            .error,
        ErrorCode::InvalidRequest
    );
}
