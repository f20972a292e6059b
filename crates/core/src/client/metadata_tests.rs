//! Tests of metadata validation. Each hostile case starts from a valid
//! document, breaks exactly one rule, and asserts the error code, the field
//! and the rule; it also asserts that the full check report shows that one
//! rule, and only it, failing.

use serde_json::{json, Value};

use super::*;
use crate::client::check::check_metadata;
use crate::crypto::Es256SigningKey;
use crate::error::OAuthError;
use crate::jwk::ec_public_jwk;

const CLIENT_ID: &str = "https://app.example.com/client-metadata.json";

fn public_key(kid: Option<&str>) -> Value {
    let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
    ec_public_jwk(sk.public_key(), kid)
}

/// A valid public web client.
fn web() -> Value {
    json!({
        "client_id": CLIENT_ID,
        "client_name": "Example",
        "client_uri": "https://app.example.com/",
        "logo_uri": "https://app.example.com/logo.png",
        "tos_uri": "https://app.example.com/tos",
        "policy_uri": "https://app.example.com/privacy",
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true,
    })
}

/// A valid public native client, with each kind of native redirect.
fn native() -> Value {
    let mut d = web();
    d["application_type"] = json!("native");
    d["redirect_uris"] = json!([
        "com.example.app:/callback",
        "https://app.example.com/open",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb"
    ]);
    d
}

/// A valid confidential web client with an inline key.
fn confidential() -> Value {
    let mut d = web();
    d["token_endpoint_auth_method"] = json!("private_key_jwt");
    d["token_endpoint_auth_signing_alg"] = json!("ES256");
    d["jwks"] = json!({"keys": [public_key(Some("k1"))]});
    d
}

fn client_id() -> ClientId {
    ClientId::parse(CLIENT_ID).unwrap()
}

fn doc(v: &Value) -> ClientMetadata {
    ClientMetadata::from_value(v.clone()).unwrap()
}

fn assert_single_failure(v: &Value, code: ErrorCode, field: &str, rule_id: &str) {
    let id = client_id();
    let e = validate_metadata(&id, doc(v)).expect_err("accepted a hostile document");
    assert_eq!((e.code, e.field, e.rule_id), (code, field, rule_id), "{e}");
    let failed: Vec<&str> = check_metadata(&id, &doc(v))
        .into_iter()
        .filter(|o| !o.passed)
        .map(|o| o.rule_id)
        .collect();
    assert_eq!(failed, [rule_id], "the case must break exactly one rule");
}

/// One test per hostile document: `rejects!(name, base, |d| { mutate }, Code, "field", "rule.id")`.
macro_rules! rejects {
    ($($name:ident: $base:ident, |$d:ident| $mutate:block => $code:ident, $field:literal, $rule:literal;)*) => {$(
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut $d = $base();
            $mutate
            assert_single_failure(&$d, ErrorCode::$code, $field, $rule);
        }
    )*};
}

fn set(d: &mut Value, field: &str, v: Value) {
    d[field] = v;
}

fn remove(d: &mut Value, field: &str) {
    d.as_object_mut().unwrap().remove(field);
}

rejects! {
    rejects_client_id_of_another_document: web, |d| { set(&mut d, "client_id", json!("https://app.example.com/other.json")); } => InvalidClient, "client_id", "client_id.match";
    rejects_client_id_differing_by_a_trailing_question_mark: web, |d| { set(&mut d, "client_id", json!(format!("{CLIENT_ID}?"))); } => InvalidClient, "client_id", "client_id.match";
    rejects_missing_client_id: web, |d| { remove(&mut d, "client_id"); } => InvalidClient, "client_id", "client_id.match";
    rejects_client_secret: web, |d| { set(&mut d, "client_secret", json!("s3cret")); } => InvalidClientMetadata, "client_secret", "client_secret.absent";
    rejects_client_secret_expires_at: web, |d| { set(&mut d, "client_secret_expires_at", json!(0)); } => InvalidClientMetadata, "client_secret", "client_secret.absent";
    rejects_unknown_application_type: web, |d| { set(&mut d, "application_type", json!("desktop")); } => InvalidClientMetadata, "application_type", "application_type.value";
    rejects_missing_grant_types: web, |d| { remove(&mut d, "grant_types"); } => InvalidClientMetadata, "grant_types", "grant_types.authorization_code";
    rejects_grant_types_without_authorization_code: web, |d| { set(&mut d, "grant_types", json!(["refresh_token"])); } => InvalidClientMetadata, "grant_types", "grant_types.authorization_code";
    rejects_implicit_grant: web, |d| { set(&mut d, "grant_types", json!(["authorization_code", "implicit"])); } => InvalidClientMetadata, "grant_types", "grant_types.allowed";
    rejects_password_grant: web, |d| { set(&mut d, "grant_types", json!(["authorization_code", "password"])); } => InvalidClientMetadata, "grant_types", "grant_types.allowed";
    rejects_missing_response_types: web, |d| { remove(&mut d, "response_types"); } => InvalidClientMetadata, "response_types", "response_types.code";
    rejects_empty_response_types: web, |d| { set(&mut d, "response_types", json!([])); } => InvalidClientMetadata, "response_types", "response_types.code";
    rejects_token_response_type: web, |d| { set(&mut d, "response_types", json!(["code", "token"])); } => InvalidClientMetadata, "response_types", "response_types.allowed";
    rejects_id_token_response_type: web, |d| { set(&mut d, "response_types", json!(["code", "code id_token"])); } => InvalidClientMetadata, "response_types", "response_types.allowed";
    rejects_missing_scope: web, |d| { remove(&mut d, "scope"); } => InvalidClientMetadata, "scope", "scope.present";
    rejects_empty_scope: web, |d| { set(&mut d, "scope", json!("")); } => InvalidClientMetadata, "scope", "scope.present";
    rejects_scope_with_double_space: web, |d| { set(&mut d, "scope", json!("atproto  transition:generic")); } => InvalidClientMetadata, "scope", "scope.syntax";
    rejects_scope_with_quote_character: web, |d| { set(&mut d, "scope", json!("atproto a\"b")); } => InvalidClientMetadata, "scope", "scope.syntax";
    rejects_scope_without_atproto: web, |d| { set(&mut d, "scope", json!("transition:generic")); } => InvalidClientMetadata, "scope", "scope.atproto";
    rejects_duplicate_scope: web, |d| { set(&mut d, "scope", json!("atproto transition:generic atproto")); } => InvalidClientMetadata, "scope", "scope.unique";
    rejects_missing_redirect_uris: web, |d| { remove(&mut d, "redirect_uris"); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.present";
    rejects_empty_redirect_uris: web, |d| { set(&mut d, "redirect_uris", json!([])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.present";
    rejects_relative_redirect_uri: web, |d| { set(&mut d, "redirect_uris", json!(["/callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.valid";
    rejects_redirect_uri_with_fragment: web, |d| { set(&mut d, "redirect_uris", json!(["https://app.example.com/cb#x"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.valid";
    rejects_redirect_uri_with_credentials: web, |d| { set(&mut d, "redirect_uris", json!(["https://u:p@app.example.com/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.valid";
    rejects_web_http_redirect_uri: web, |d| { set(&mut d, "redirect_uris", json!(["http://app.example.com/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.web_https";
    rejects_web_loopback_redirect_uri: web, |d| { set(&mut d, "redirect_uris", json!(["http://127.0.0.1/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.web_https";
    rejects_web_private_use_redirect_uri: web, |d| { set(&mut d, "redirect_uris", json!(["com.example.app:/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.web_https";
    rejects_web_localhost_redirect_uri: web, |d| { set(&mut d, "redirect_uris", json!(["https://localhost/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.no_localhost";
    rejects_native_localhost_redirect_uri: native, |d| { set(&mut d, "redirect_uris", json!(["http://localhost:3000/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.no_localhost";
    rejects_native_scheme_without_dot: native, |d| { set(&mut d, "redirect_uris", json!(["myapp:/callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.native_scheme";
    rejects_native_javascript_redirect_uri: native, |d| { set(&mut d, "redirect_uris", json!(["javascript:alert(1)"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.native_scheme";
    rejects_native_http_redirect_uri_off_loopback: native, |d| { set(&mut d, "redirect_uris", json!(["http://app.example.com/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.http_loopback";
    rejects_native_http_redirect_uri_on_lan_ip: native, |d| { set(&mut d, "redirect_uris", json!(["http://192.168.0.1/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.http_loopback";
    rejects_native_scheme_of_partial_host: native, |d| { set(&mut d, "redirect_uris", json!(["com.example:/callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.private_use_scheme";
    rejects_native_scheme_of_other_domain: native, |d| { set(&mut d, "redirect_uris", json!(["com.evil.app:/callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.private_use_scheme";
    rejects_native_scheme_with_double_slash: native, |d| { set(&mut d, "redirect_uris", json!(["com.example.app://callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.private_use_form";
    rejects_native_scheme_without_slash: native, |d| { set(&mut d, "redirect_uris", json!(["com.example.app:callback"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.private_use_form";
    rejects_native_https_redirect_uri_on_other_origin: native, |d| { set(&mut d, "redirect_uris", json!(["https://evil.example.net/cb"])); } => InvalidRedirectUri, "redirect_uris", "redirect_uris.native_https_origin";
    rejects_dpop_bound_access_tokens_false: web, |d| { set(&mut d, "dpop_bound_access_tokens", json!(false)); } => InvalidClientMetadata, "dpop_bound_access_tokens", "dpop_bound_access_tokens.true";
    rejects_missing_dpop_bound_access_tokens: web, |d| { remove(&mut d, "dpop_bound_access_tokens"); } => InvalidClientMetadata, "dpop_bound_access_tokens", "dpop_bound_access_tokens.true";
    rejects_missing_token_endpoint_auth_method: web, |d| { remove(&mut d, "token_endpoint_auth_method"); } => InvalidClientMetadata, "token_endpoint_auth_method", "token_endpoint_auth_method.value";
    rejects_client_secret_basic: web, |d| { set(&mut d, "token_endpoint_auth_method", json!("client_secret_basic")); } => InvalidClientMetadata, "token_endpoint_auth_method", "token_endpoint_auth_method.value";
    rejects_client_secret_jwt: web, |d| { set(&mut d, "token_endpoint_auth_method", json!("client_secret_jwt")); } => InvalidClientMetadata, "token_endpoint_auth_method", "token_endpoint_auth_method.value";
    rejects_confidential_native_client: native, |d| {
        set(&mut d, "token_endpoint_auth_method", json!("private_key_jwt"));
        set(&mut d, "token_endpoint_auth_signing_alg", json!("ES256"));
        set(&mut d, "jwks", json!({"keys": [public_key(Some("k1"))]}));
    } => InvalidClientMetadata, "token_endpoint_auth_method", "token_endpoint_auth_method.native_public";
    rejects_private_key_jwt_without_signing_alg: confidential, |d| { remove(&mut d, "token_endpoint_auth_signing_alg"); } => InvalidClientMetadata, "token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg.value";
    rejects_signing_alg_none: confidential, |d| { set(&mut d, "token_endpoint_auth_signing_alg", json!("none")); } => InvalidClientMetadata, "token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg.value";
    rejects_unsupported_signing_alg: confidential, |d| { set(&mut d, "token_endpoint_auth_signing_alg", json!("RS256")); } => InvalidClientMetadata, "token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg.value";
    rejects_signing_alg_none_on_public_client: web, |d| { set(&mut d, "token_endpoint_auth_signing_alg", json!("none")); } => InvalidClientMetadata, "token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg.value";
    rejects_jwks_and_jwks_uri_together: confidential, |d| { set(&mut d, "jwks_uri", json!("https://app.example.com/jwks.json")); } => InvalidClientMetadata, "jwks", "jwks.not_both";
    rejects_private_key_jwt_without_keys: confidential, |d| { remove(&mut d, "jwks"); } => InvalidClientMetadata, "jwks", "jwks.required";
    rejects_http_jwks_uri: confidential, |d| { remove(&mut d, "jwks"); set(&mut d, "jwks_uri", json!("http://app.example.com/jwks.json")); } => InvalidClientMetadata, "jwks_uri", "jwks_uri.https";
    rejects_jwks_that_is_not_a_set: confidential, |d| { set(&mut d, "jwks", json!([public_key(Some("k1"))])); } => InvalidClientMetadata, "jwks", "jwks.shape";
    rejects_jwks_with_private_ec_key: confidential, |d| {
        let mut private = public_key(Some("k2"));
        private["d"] = json!("AAAA");
        d["jwks"]["keys"].as_array_mut().unwrap().push(private);
    } => InvalidClientMetadata, "jwks", "jwks.public_only";
    rejects_jwks_with_symmetric_key: confidential, |d| {
        d["jwks"]["keys"].as_array_mut().unwrap().push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
    } => InvalidClientMetadata, "jwks", "jwks.public_only";
    rejects_jwks_with_off_curve_key: confidential, |d| {
        d["jwks"]["keys"].as_array_mut().unwrap().push(json!({"kty": "EC", "crv": "P-256", "kid": "bad",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyQ"}));
    } => InvalidClientMetadata, "jwks", "jwks.keys_valid";
    rejects_jwks_with_duplicate_kids: confidential, |d| {
        d["jwks"]["keys"].as_array_mut().unwrap().push(public_key(Some("k1")));
    } => InvalidClientMetadata, "jwks", "jwks.keys_valid";
    rejects_jwks_without_usable_key: confidential, |d| { set(&mut d, "jwks", json!({"keys": [public_key(None)]})); } => InvalidClientMetadata, "jwks", "jwks.usable_key";
    rejects_client_uri_on_other_origin: web, |d| { set(&mut d, "client_uri", json!("https://evil.example.net/")); } => InvalidClientMetadata, "client_uri", "client_uri.same_origin";
    rejects_client_uri_over_http: web, |d| { set(&mut d, "client_uri", json!("http://app.example.com/")); } => InvalidClientMetadata, "client_uri", "client_uri.same_origin";
    rejects_client_uri_on_sibling_path: web, |d| { set(&mut d, "client_uri", json!("https://app.example.com/other/")); } => InvalidClientMetadata, "client_uri", "client_uri.parent_path";
    rejects_javascript_logo_uri: web, |d| { set(&mut d, "logo_uri", json!("javascript:alert(1)")); } => InvalidClientMetadata, "logo_uri", "logo_uri.https";
    rejects_data_logo_uri: web, |d| { set(&mut d, "logo_uri", json!("data:image/png;base64,AAAA")); } => InvalidClientMetadata, "logo_uri", "logo_uri.https";
    rejects_http_tos_uri: web, |d| { set(&mut d, "tos_uri", json!("http://app.example.com/tos")); } => InvalidClientMetadata, "tos_uri", "tos_uri.https";
    rejects_http_policy_uri: web, |d| { set(&mut d, "policy_uri", json!("http://app.example.com/privacy")); } => InvalidClientMetadata, "policy_uri", "policy_uri.https";
}

#[test]
fn accepts_valid_web_native_and_confidential_clients() {
    for (name, v) in [
        ("web", web()),
        ("native", native()),
        ("confidential", confidential()),
    ] {
        let id = client_id();
        let failed: Vec<_> = check_metadata(&id, &doc(&v))
            .into_iter()
            .filter(|o| !o.passed)
            .collect();
        assert!(failed.is_empty(), "{name}: {failed:?}");
        let c = validate_metadata(&id, doc(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.client_id, id);
    }
}

#[test]
fn validated_client_exposes_typed_fields() {
    let c = validate_metadata(&client_id(), doc(&confidential())).unwrap();
    assert_eq!(c.application_type, ApplicationType::Web);
    assert_eq!(c.auth_method, AuthMethod::PrivateKeyJwt);
    assert!(c.is_confidential());
    assert!(c.allows_refresh_token());
    assert!(c.declares_scope("transition:generic"));
    assert!(!c.declares_scope("transition:chat.bsky"));
    assert_eq!(c.scopes, ["atproto", "transition:generic"]);
    assert_eq!(c.jwks.as_ref().map(|k| k.keys.len()), Some(1));
    assert!(c.jwks_uri.is_none());

    let mut v = web();
    set(&mut v, "grant_types", json!(["authorization_code"]));
    set(&mut v, "jwks", json!({"keys": []}));
    let c = validate_metadata(&client_id(), doc(&v)).unwrap();
    assert!(!c.is_confidential());
    assert!(!c.allows_refresh_token());
    assert!(c.jwks.is_none(), "a public client's jwks is not used");
}

#[test]
fn application_type_defaults_to_web() {
    let mut v = web();
    remove(&mut v, "application_type");
    assert_eq!(
        validate_metadata(&client_id(), doc(&v))
            .unwrap()
            .application_type,
        ApplicationType::Web
    );
}

#[test]
fn accepts_client_uri_equal_to_or_above_the_client_id() {
    let id = ClientId::parse("https://app.example.com/oauth/client.json").unwrap();
    for client_uri in [
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/oauth",
        "https://app.example.com/oauth/",
        "https://app.example.com/oauth/client.json",
    ] {
        let mut v = web();
        set(&mut v, "client_id", json!(id.as_str()));
        set(&mut v, "client_uri", json!(client_uri));
        assert!(validate_metadata(&id, doc(&v)).is_ok(), "{client_uri}");
    }
    let mut v = web();
    set(&mut v, "client_id", json!(id.as_str()));
    set(
        &mut v,
        "client_uri",
        json!("https://app.example.com/oauthx"),
    );
    assert_eq!(
        validate_metadata(&id, doc(&v)).unwrap_err().rule_id,
        "client_uri.parent_path"
    );
}

#[test]
fn accepts_confidential_client_with_jwks_uri() {
    let mut v = confidential();
    remove(&mut v, "jwks");
    set(
        &mut v,
        "jwks_uri",
        json!("https://app.example.com/jwks.json"),
    );
    let c = validate_metadata(&client_id(), doc(&v)).unwrap();
    assert_eq!(
        c.jwks_uri.as_ref().map(Url::as_str),
        Some("https://app.example.com/jwks.json")
    );
    assert!(c.jwks.is_none());
}

#[test]
fn loopback_client_metadata_validates() {
    let id = ClientId::parse("http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=atproto+transition:generic").unwrap();
    let c = validate_metadata(&id, id.loopback_metadata().unwrap()).unwrap();
    assert_eq!(c.application_type, ApplicationType::Native);
    assert_eq!(c.auth_method, AuthMethod::None);
    assert_eq!(c.redirect_uris, ["http://127.0.0.1/cb"]);
    let id = ClientId::parse("http://localhost?scope=atproto+atproto").unwrap();
    assert_eq!(
        validate_metadata(&id, id.loopback_metadata().unwrap())
            .unwrap_err()
            .rule_id,
        "scope.unique"
    );
}

#[test]
fn unknown_fields_are_ignored_and_null_is_absent() {
    let mut v = web();
    set(&mut v, "subject_type", json!("public"));
    set(&mut v, "x-custom", json!({"a": [1, 2]}));
    set(&mut v, "client_secret", Value::Null);
    set(&mut v, "logo_uri", Value::Null);
    let m = doc(&v);
    assert!(m.client_secret.is_none());
    assert!(m.logo_uri.is_none());
    assert!(validate_metadata(&client_id(), m).is_ok());
}

#[test]
fn rejects_field_of_wrong_json_type_naming_the_field() {
    let mut v = web();
    set(
        &mut v,
        "redirect_uris",
        json!("https://app.example.com/callback"),
    );
    let e = ClientMetadata::from_value(v).unwrap_err();
    assert_eq!(
        (e.code, e.field, e.rule_id),
        (
            ErrorCode::InvalidClientMetadata,
            "redirect_uris",
            "document.json"
        )
    );
}

#[test]
fn rejects_document_that_is_not_a_json_object() {
    for body in [&b"[]"[..], b"\"x\"", b"{", b""] {
        let e = ClientMetadata::from_json(body).unwrap_err();
        assert_eq!(
            (e.code, e.rule_id),
            (ErrorCode::InvalidClientMetadata, "document.json")
        );
    }
}

#[test]
fn error_description_names_field_rule_and_section() {
    let mut v = web();
    set(
        &mut v,
        "redirect_uris",
        json!(["http://app.example.com/cb"]),
    );
    let e = validate_metadata(&client_id(), doc(&v)).unwrap_err();
    let o = OAuthError::from(e.clone());
    assert_eq!(o.error, ErrorCode::InvalidRedirectUri);
    let json: Value = serde_json::from_str(&o.to_json()).unwrap();
    let d = json["error_description"].as_str().unwrap();
    assert!(d.starts_with("redirect_uris: "), "{d}");
    assert!(d.contains("\"http://app.example.com/cb\""), "{d}");
    assert!(d.contains("redirect_uris.web_https"), "{d}");
    assert!(d.contains("atproto OAuth spec, \"Request Fields\""), "{d}");
    let at_endpoint = e.to_endpoint_error();
    assert_eq!(
        (at_endpoint.error, at_endpoint.status),
        (ErrorCode::InvalidClient, 400)
    );
    assert_eq!(at_endpoint.error_description.as_deref(), Some(d));
}

#[test]
fn rule_ids_are_unique_and_documented() {
    let mut ids: Vec<&str> = METADATA_RULES.iter().map(|r| r.id).collect();
    ids.extend(
        crate::client::client_id::CLIENT_ID_RULES
            .iter()
            .map(|r| r.id),
    );
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate rule id");
    assert!(METADATA_RULES
        .iter()
        .all(|r| !r.rule.is_empty() && !r.section.is_empty()));
}
