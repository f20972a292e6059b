//! Tests of `client_id` parsing: one hostile case per test, each named after
//! the rule it breaks, asserting the code, the field and the rule.

use super::*;
use crate::error::OAuthError;

/// One test per hostile `client_id`: it must be refused with
/// `invalid_client`, on the field `client_id`, by the named rule.
macro_rules! rejects {
    ($($name:ident: $input:expr => $rule:literal;)*) => {$(
        #[test]
        fn $name() {
            let e = ClientId::parse($input).expect_err("accepted a hostile client_id");
            assert_eq!(e.code, ErrorCode::InvalidClient, "{e}");
            assert_eq!(e.field, "client_id", "{e}");
            assert_eq!(e.rule_id, $rule, "{e}");
        }
    )*};
}

rejects! {
    rejects_empty_client_id: "" => "client_id.url";
    rejects_client_id_that_is_not_a_url: "app.example.com/client-metadata.json" => "client_id.url";
    rejects_overlong_client_id: &format!("https://app.example.com/{}", "a".repeat(MAX_CLIENT_ID_LEN)) => "client_id.url";
    rejects_http_client_id: "http://app.example.com/client-metadata.json" => "client_id.https";
    rejects_ftp_client_id: "ftp://app.example.com/client-metadata.json" => "client_id.https";
    rejects_client_id_with_credentials: "https://user:pw@app.example.com/client-metadata.json" => "client_id.no_userinfo";
    rejects_client_id_with_username_only: "https://user@app.example.com/client-metadata.json" => "client_id.no_userinfo";
    rejects_client_id_with_empty_userinfo: "https://@app.example.com/client-metadata.json" => "client_id.no_userinfo";
    rejects_client_id_with_port: "https://app.example.com:8443/client-metadata.json" => "client_id.no_port";
    rejects_client_id_with_default_port: "https://app.example.com:443/client-metadata.json" => "client_id.no_port";
    rejects_client_id_with_empty_port: "https://app.example.com:/client-metadata.json" => "client_id.no_port";
    rejects_client_id_with_fragment: "https://app.example.com/client-metadata.json#x" => "client_id.no_fragment";
    rejects_client_id_with_empty_fragment: "https://app.example.com/client-metadata.json#" => "client_id.no_fragment";
    rejects_client_id_with_dot_segment: "https://app.example.com/./client-metadata.json" => "client_id.no_dot_segments";
    rejects_client_id_with_dot_dot_segment: "https://app.example.com/a/../client-metadata.json" => "client_id.no_dot_segments";
    rejects_client_id_with_encoded_dot_dot_segment: "https://app.example.com/a/%2e%2E/client-metadata.json" => "client_id.no_dot_segments";
    rejects_client_id_with_trailing_dot_segment: "https://app.example.com/a/.." => "client_id.no_dot_segments";
    rejects_client_id_without_path: "https://app.example.com/" => "client_id.path";
    rejects_bare_origin_client_id: "https://app.example.com" => "client_id.path";
    rejects_client_id_on_ipv4_host: "https://192.0.2.1/client-metadata.json" => "client_id.not_ip";
    rejects_client_id_on_ipv6_host: "https://[2001:db8::1]/client-metadata.json" => "client_id.not_ip";
    rejects_client_id_on_hex_ipv4_host: "https://0xc0.0.2.1/client-metadata.json" => "client_id.not_ip";
    rejects_client_id_with_uppercase_host: "https://App.Example.com/client-metadata.json" => "client_id.canonical";
    rejects_client_id_with_uppercase_scheme: "HTTPS://app.example.com/client-metadata.json" => "client_id.canonical";
    rejects_client_id_with_unencoded_space: "https://app.example.com/client metadata.json" => "client_id.canonical";
    rejects_client_id_with_backslash: "https://app.example.com\\client-metadata.json" => "client_id.canonical";
    rejects_client_id_with_surrounding_space: " https://app.example.com/client-metadata.json" => "client_id.canonical";
    rejects_loopback_client_id_with_port: "http://localhost:8080" => "client_id.loopback_origin";
    rejects_loopback_client_id_with_default_port: "http://localhost:80/" => "client_id.loopback_origin";
    rejects_loopback_client_id_in_uppercase: "http://LOCALHOST/" => "client_id.loopback_origin";
    rejects_loopback_client_id_with_credentials: "http://user@localhost/" => "client_id.loopback_origin";
    rejects_loopback_client_id_with_path: "http://localhost/callback" => "client_id.loopback_path";
    rejects_loopback_client_id_with_path_and_query: "http://localhost/x?scope=atproto" => "client_id.loopback_path";
    rejects_loopback_client_id_with_fragment: "http://localhost/#x" => "client_id.loopback_no_fragment";
    rejects_loopback_client_id_with_unknown_parameter: "http://localhost?client_name=x" => "client_id.loopback_params";
    rejects_loopback_client_id_with_two_scopes: "http://localhost?scope=atproto&scope=transition:generic" => "client_id.loopback_scope";
    rejects_loopback_redirect_uri_on_localhost: "http://localhost?redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb" => "client_id.loopback_redirect_uri";
    rejects_loopback_redirect_uri_over_https: "http://localhost?redirect_uri=https%3A%2F%2F127.0.0.1%2Fcb" => "client_id.loopback_redirect_uri";
    rejects_loopback_redirect_uri_on_lan_ip: "http://localhost?redirect_uri=http%3A%2F%2F192.168.1.2%2Fcb" => "client_id.loopback_redirect_uri";
    rejects_loopback_redirect_uri_on_other_loopback_ip: "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.2%2Fcb" => "client_id.loopback_redirect_uri";
    rejects_loopback_redirect_uri_that_is_not_a_url: "http://localhost?redirect_uri=cb" => "client_id.loopback_redirect_uri";
    rejects_loopback_redirect_uri_with_fragment: "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb%23f" => "client_id.loopback_redirect_uri";
    rejects_ip_loopback_client_id: "http://127.0.0.1/" => "client_id.https";
}

#[test]
fn accepts_discoverable_client_id_and_keeps_its_spelling() {
    for raw in [
        "https://app.example.com/client-metadata.json",
        "https://app.example.com/oauth/",
        "https://xn--bcher-kva.example/c.json",
        "https://app.example.com/a%20b.json",
    ] {
        let id = ClientId::parse(raw).unwrap();
        assert_eq!(id.as_str(), raw);
        assert_eq!(id.to_string(), raw);
        assert!(!id.is_loopback());
        assert!(id.loopback_metadata().is_none());
    }
    assert_eq!(
        ClientId::parse("https://app.example.com/m.json")
            .unwrap()
            .host(),
        Some("app.example.com")
    );
}

#[test]
fn accepts_query_in_discoverable_client_id() {
    // draft §3 says SHOULD NOT: a warning in the check report, not a refusal.
    let id = ClientId::parse("https://app.example.com/client-metadata.json?v=2").unwrap();
    assert_eq!(id.url().and_then(Url::query), Some("v=2"));
}

fn loopback(raw: &str) -> (Vec<String>, String) {
    match ClientId::parse(raw).unwrap() {
        ClientId::Loopback {
            raw: r,
            redirect_uris,
            scope,
        } => {
            assert_eq!(r, raw);
            (redirect_uris, scope)
        }
        other => panic!("not loopback: {other:?}"),
    }
}

#[test]
fn loopback_defaults_without_query() {
    for raw in [
        "http://localhost",
        "http://localhost/",
        "http://localhost?",
        "http://localhost/?",
    ] {
        let (redirects, scope) = loopback(raw);
        assert_eq!(redirects, ["http://127.0.0.1/", "http://[::1]/"], "{raw}");
        assert_eq!(scope, "atproto", "{raw}");
    }
}

#[test]
fn loopback_plus_is_a_space_in_scope() {
    let (_, scope) = loopback("http://localhost?scope=atproto+transition:generic");
    assert_eq!(scope, "atproto transition:generic");
    let (_, scope) = loopback("http://localhost/?scope=atproto%20transition%3Ageneric");
    assert_eq!(scope, "atproto transition:generic");
}

#[test]
fn loopback_repeated_redirect_uri_keeps_all_in_order() {
    let (redirects, scope) = loopback("http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&scope=atproto&redirect_uri=http://[::1]/cb");
    assert_eq!(redirects, ["http://127.0.0.1:8080/cb", "http://[::1]/cb"]);
    assert_eq!(scope, "atproto");
}

#[test]
fn loopback_metadata_is_native_public_and_dpop_bound() {
    let id = ClientId::parse("http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb").unwrap();
    let m = id.loopback_metadata().unwrap();
    assert_eq!(m.client_id.as_deref(), Some(id.as_str()));
    assert_eq!(m.application_type.as_deref(), Some("native"));
    assert_eq!(m.token_endpoint_auth_method.as_deref(), Some("none"));
    assert_eq!(m.dpop_bound_access_tokens, Some(true));
    assert_eq!(
        m.grant_types,
        Some(vec![
            "authorization_code".to_string(),
            "refresh_token".to_string()
        ])
    );
    assert_eq!(m.response_types, Some(vec!["code".to_string()]));
    assert_eq!(
        m.redirect_uris,
        Some(vec!["http://127.0.0.1/cb".to_string()])
    );
    assert_eq!(m.scope.as_deref(), Some("atproto"));
    assert!(id.is_loopback());
    assert_eq!(id.host(), None);
}

/// Found by the `client_id` fuzz target (fuzz/): a loopback `client_id`
/// whose `scope` parameter holds a control character parses (the query
/// is well formed), and its made-up metadata is then refused by the same
/// scope rule as a fetched document, so the client is never usable.
#[test]
fn loopback_scope_with_a_control_character_is_refused_by_the_metadata_rules() {
    let raw = "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&scope=atproto+transition%3Age\u{c}eric";
    let id = ClientId::parse(raw).unwrap();
    let doc = id.loopback_metadata().unwrap();
    let e = crate::client::metadata::validate_metadata(&id, doc).unwrap_err();
    assert_eq!(e.rule_id, "scope.syntax", "{e}");
    assert_eq!(e.code, crate::error::ErrorCode::InvalidClientMetadata);
    let report = crate::client::check::check_client(raw, None);
    assert!(!report.accepted);
}

#[test]
fn serde_round_trips_through_parse() {
    let id = ClientId::parse("http://localhost?scope=atproto").unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"http://localhost?scope=atproto\"");
    assert_eq!(serde_json::from_str::<ClientId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<ClientId>("\"http://example.com/x\"").is_err());
}

#[test]
fn error_description_names_field_rule_and_section() {
    let e = ClientId::parse("https://app.example.com:8443/m.json").unwrap_err();
    let o = OAuthError::from(e);
    assert_eq!(o.error, ErrorCode::InvalidClient);
    assert_eq!(o.status, 400);
    let d = o.error_description.unwrap();
    assert!(d.starts_with("client_id: "), "{d}");
    assert!(d.contains("client_id.no_port"), "{d}");
    assert!(d.contains("atproto OAuth spec, \"Clients\""), "{d}");
    assert!(d.contains("Fix: "), "{d}");
}

#[test]
fn hostile_values_are_cut_in_messages() {
    let raw = format!("https://App.example.com/{}", "x".repeat(500));
    let e = ClientId::parse(&raw).unwrap_err();
    let d = e.description();
    assert!(!d.contains(&raw[8..]), "the whole value is echoed: {d}");
    assert!(d.len() < 800, "{d}");
}

// ---------------------------------------------------------------------------
// Development loopback documents (ClientIdPolicy, `--dev` only)
// ---------------------------------------------------------------------------

const DEV: ClientIdPolicy = ClientIdPolicy {
    allow_loopback_http_documents: true,
};

const DEV_RULE: &str = "client_id.dev_loopback_document";

fn dev_rule(raw: &str) -> &'static str {
    ClientId::parse_with(raw, &DEV)
        .expect_err("accepted a hostile development client_id")
        .rule_id
}

#[test]
fn strict_is_the_default_policy() {
    assert_eq!(ClientIdPolicy::default(), ClientIdPolicy::STRICT);
    assert!(!ClientIdPolicy::default().allow_loopback_http_documents);
}

#[test]
fn dev_policy_accepts_loopback_ip_document_with_port_and_path() {
    for raw in [
        "http://127.0.0.1:8080/client-metadata.json",
        "http://127.0.0.1:1/a/b/",
        "http://[::1]:54321/oauth/client.json",
        "http://127.0.0.1:8080/client-metadata.json?v=2",
    ] {
        let id = ClientId::parse_with(raw, &DEV).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(id.as_str(), raw);
        assert!(matches!(id, ClientId::Discoverable(_)), "{raw}");
        assert!(!id.is_loopback(), "{raw}");
        assert!(id.is_dev_loopback_document(), "{raw}");
        assert!(id.loopback_metadata().is_none(), "{raw}");
    }
}

#[test]
fn dev_loopback_documents_are_refused_by_default_with_the_strict_error() {
    for raw in [
        "http://127.0.0.1:8080/client-metadata.json",
        "http://[::1]:8080/client-metadata.json",
        "http://127.0.0.1/client-metadata.json",
    ] {
        let strict = ClientId::parse(raw).unwrap_err();
        assert_eq!(strict.rule_id, "client_id.https", "{raw}");
        assert_eq!(
            ClientId::parse_with(raw, &ClientIdPolicy::default()).unwrap_err(),
            strict,
            "{raw}"
        );
        assert_eq!(raw.parse::<ClientId>().unwrap_err(), strict, "{raw}");
        assert!(
            serde_json::from_str::<ClientId>(&format!("{raw:?}")).is_err(),
            "{raw}"
        );
    }
}

#[test]
fn dev_policy_keeps_the_other_client_id_rules() {
    for (raw, rule) in [
        ("http://127.0.0.1/m.json", DEV_RULE),
        ("http://127.0.0.1:80/m.json", DEV_RULE),
        ("http://127.0.0.1:/m.json", DEV_RULE),
        ("http://[::1]/m.json", DEV_RULE),
        ("http://127.0.0.1:8080/", "client_id.path"),
        ("http://127.0.0.1:8080", "client_id.path"),
        ("http://user@127.0.0.1:8080/m.json", "client_id.no_userinfo"),
        ("http://127.0.0.1:8080/m.json#x", "client_id.no_fragment"),
        ("http://127.0.0.1:8080/./m", "client_id.no_dot_segments"),
        ("http://127.0.0.1:8080/m json", "client_id.canonical"),
        ("http://0x7f.0.0.1:8080/m.json", "client_id.canonical"),
        ("http://[0::1]:8080/m.json", "client_id.canonical"),
        ("HTTP://127.0.0.1:8080/m.json", "client_id.canonical"),
    ] {
        assert_eq!(dev_rule(raw), rule, "{raw}");
    }
}

#[test]
fn dev_policy_relaxes_nothing_beyond_loopback_ip_literals() {
    for (raw, rule) in [
        ("http://127.0.0.2:8080/m.json", "client_id.https"),
        ("http://192.0.2.1:8080/m.json", "client_id.https"),
        ("http://app.example.com:8080/m.json", "client_id.https"),
        ("https://127.0.0.1:8443/m.json", "client_id.no_port"),
        ("https://127.0.0.1/m.json", "client_id.not_ip"),
        ("https://app.example.com:8443/m.json", "client_id.no_port"),
    ] {
        assert_eq!(dev_rule(raw), rule, "{raw}");
    }
}

#[test]
fn dev_policy_keeps_the_localhost_client_distinct() {
    let id = ClientId::parse_with("http://localhost?scope=atproto", &DEV).unwrap();
    assert!(id.is_loopback());
    assert!(!id.is_dev_loopback_document());
    assert_eq!(
        dev_rule("http://localhost:8080/client-metadata.json"),
        "client_id.loopback_origin"
    );
    assert_eq!(
        dev_rule("http://localhost/client-metadata.json"),
        "client_id.loopback_path"
    );
}

#[test]
fn https_client_ids_are_not_dev_loopback_documents() {
    let id = ClientId::parse("https://app.example.com/m.json").unwrap();
    assert!(!id.is_dev_loopback_document());
    let id = ClientId::parse_with("https://app.example.com/m.json", &DEV).unwrap();
    assert!(!id.is_dev_loopback_document());
}

#[test]
fn dev_loopback_document_passes_the_metadata_rules() {
    use crate::client::metadata::{validate_metadata, ClientMetadata};
    use crate::crypto::Es256SigningKey;
    use crate::jwk::ec_public_jwk;
    let raw = "http://127.0.0.1:8080/client-metadata.json";
    let id = ClientId::parse_with(raw, &DEV).unwrap();
    let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
    let doc = serde_json::json!({
        "client_id": raw,
        "client_uri": "http://127.0.0.1:8080/",
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": [ec_public_jwk(sk.public_key(), Some("k1"))]},
        "dpop_bound_access_tokens": true,
    });
    let client = validate_metadata(&id, ClientMetadata::from_value(doc).unwrap()).unwrap();
    assert!(client.is_confidential());
}
