//! Introspection (RFC 7662): the decision for each kind of token, and the
//! caller's credentials.

use super::*;
use crate::client::auth::ClientAuth;
use crate::error::ErrorCode;
use crate::store::SessionStore;
use crate::token::refresh_grant::refresh;
use crate::token::test_fixtures::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn secret() -> IntrospectionSecret {
    IntrospectionSecret::parse(SECRET).unwrap()
}

#[test]
fn active_access_token_answers_its_claims() {
    let (store, keys, b) = started_session(NOW);
    let r = introspect(
        &store,
        &keys,
        ISSUER,
        Some(&b.response.access_token),
        NOW + 1,
    )
    .unwrap();
    assert!(r.active);
    assert_eq!(r.iss.as_deref(), Some(ISSUER));
    assert_eq!(r.sub.as_deref(), Some(SUB));
    assert_eq!(r.aud.as_deref(), Some(AUDIENCE));
    assert_eq!(r.client_id.as_deref(), Some(WEB_CLIENT_ID));
    assert_eq!(r.sid.as_deref(), Some(b.session_id.as_str()));
    assert_eq!(r.cnf.as_ref().map(|c| c.jkt.clone()), Some(jkt_a()));
    assert_eq!(r.token_type.as_deref(), Some("DPoP"));
    assert!(r.jti.is_some() && r.scope.is_some());
    assert_eq!(r.iat, Some(NOW));
    assert!(r.exp.unwrap() > NOW);
}

#[test]
fn public_keys_answer_like_the_keyset() {
    let (store, keys, b) = started_session(NOW);
    let public = crate::keys::PublicKeyset::from_jwks(&keys.jwks()).unwrap();
    let r = introspect(&store, &public, ISSUER, Some(&b.response.access_token), NOW).unwrap();
    assert!(r.active);
}

#[test]
fn current_refresh_token_is_active_and_the_replaced_one_is_not() {
    let (store, keys, b) = started_session(NOW);
    let old = b.response.refresh_token.unwrap();
    let r = introspect(&store, &keys, ISSUER, Some(&old), NOW + 1).unwrap();
    assert!(r.active);
    assert_eq!(r.sid.as_deref(), Some(b.session_id.as_str()));
    assert_eq!(r.token_type, None);
    assert_eq!(r.aud, None);
    let a = jkt_a();
    let client = web_client();
    let next = refresh(
        &store,
        &keys,
        &policy(),
        &caller(&client, &ClientAuth::None, &a),
        Some(&old),
        None,
        AUDIENCE,
        NOW + 2,
    )
    .unwrap();
    assert!(
        !introspect(&store, &keys, ISSUER, Some(&old), NOW + 3)
            .unwrap()
            .active
    );
    let new = next.response.refresh_token.unwrap();
    let r = introspect(&store, &keys, ISSUER, Some(&new), NOW + 3).unwrap();
    assert!(r.active);
    assert_eq!(r.iat, Some(NOW + 2));
}

#[test]
fn revoked_session_makes_both_tokens_inactive() {
    let (store, keys, b) = started_session(NOW);
    store.delete_session(&b.session_id).unwrap();
    for t in [
        b.response.access_token.clone(),
        b.response.refresh_token.clone().unwrap(),
    ] {
        let r = introspect(&store, &keys, ISSUER, Some(&t), NOW + 1).unwrap();
        assert_eq!(r, Introspection::inactive());
    }
}

#[test]
fn expired_foreign_and_garbage_tokens_are_inactive() {
    let (store, keys, b) = started_session(NOW);
    let at = b.response.access_token.clone();
    let exp = introspect(&store, &keys, ISSUER, Some(&at), NOW)
        .unwrap()
        .exp
        .unwrap();
    assert!(
        !introspect(&store, &keys, ISSUER, Some(&at), exp)
            .unwrap()
            .active
    );
    assert!(
        !introspect(&store, &keys, "https://other.example", Some(&at), NOW)
            .unwrap()
            .active
    );
    let other = keyset();
    assert!(
        !introspect(&store, &other, ISSUER, Some(&at), NOW)
            .unwrap()
            .active
    );
    for garbage in ["garbage", "a.b.c", "ref-short", &"x".repeat(9000)] {
        let r = introspect(&store, &keys, ISSUER, Some(garbage), NOW).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"active": false})
        );
    }
}

#[test]
fn rejects_missing_token() {
    let (store, keys, _) = started_session(NOW);
    for t in [None, Some("")] {
        let e = introspect(&store, &keys, ISSUER, t, NOW).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
    }
}

#[test]
fn accepts_the_basic_credentials_it_builds() {
    let s = secret();
    assert!(s.check(Some(&s.basic_authorization())).is_ok());
    let lower = s.basic_authorization().replacen("Basic", "basic", 1);
    assert!(s.check(Some(&lower)).is_ok());
}

#[test]
fn rejects_missing_wrong_and_malformed_credentials_with_a_basic_challenge() {
    let s = secret();
    let wrong = IntrospectionSecret::parse(&"z".repeat(32)).unwrap();
    let other_user = format!("Basic {}", B64_STD.encode(format!("someone:{SECRET}")));
    for header in [
        None,
        Some(wrong.basic_authorization()),
        Some(other_user),
        Some(format!("Bearer {SECRET}")),
        Some("Basic !!!".to_string()),
        Some("Basic".to_string()),
    ] {
        let e = s.check(header.as_deref()).unwrap_err();
        assert_eq!(
            (e.error, e.status),
            (ErrorCode::InvalidClient, 401),
            "{header:?}"
        );
        assert!(e
            .headers
            .iter()
            .any(|(k, v)| k == "WWW-Authenticate" && v == "Basic realm=\"atauth\""));
    }
}

#[test]
fn rejects_weak_or_odd_secrets_and_redacts_them() {
    assert!(IntrospectionSecret::parse("short").is_err());
    assert!(IntrospectionSecret::parse(&"a:".repeat(20)).is_err());
    assert!(IntrospectionSecret::parse(&"a".repeat(257)).is_err());
    assert!(!format!("{:?}", secret()).contains(SECRET));
}
