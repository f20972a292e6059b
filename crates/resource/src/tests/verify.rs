//! One hostile case per test, each asserting the exact status, error code
//! and `WWW-Authenticate` challenge (SPEC §8), and that a `DPoP-Nonce`
//! comes with every refusal.

use std::sync::Arc;

use atauth_core::consts::DPOP_NONCE_STEP_SECS;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::replay::ReplayStore;
use atauth_core::store::{StoreError, StoreResult};
use serde_json::json;

use super::*;
use crate::challenge::header;
use crate::{SessionCheck, Verifier};

fn dpop(token: &str) -> String {
    format!("DPoP {token}")
}

#[test]
fn accepts_valid_call() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let caller = h.verify(Some(&dpop(&token)), &[&proof]).unwrap();
    assert_eq!(caller.did.as_str(), DID);
    assert_eq!(caller.client_id, CLIENT_ID);
    assert_eq!(caller.session_id, SID);
    assert_eq!(caller.token_exp, NOW + 900);
    assert_eq!(caller.scope.to_scope_string(), "atproto transition:generic");
    assert_eq!(h.replay.len(), 1, "the proof's jti is recorded");
}

#[test]
fn accepts_lowercase_scheme_and_previous_step_nonce() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| {
        c["nonce"] = json!(h.nonces.issue(NOW - DPOP_NONCE_STEP_SECS))
    });
    assert!(h.verify(Some(&format!("dpop {token}")), &[&proof]).is_ok());
}

#[test]
fn rejects_missing_authorization() {
    let h = Harness::new();
    let (e, challenge) = refused(h.verify(None, &[]), 401, "invalid_request");
    assert_eq!(challenge, "DPoP algs=\"ES256\"");
    assert_eq!(header(&e, "DPoP-Nonce"), Some(h.nonces.issue(NOW).as_str()));
}

#[test]
fn rejects_unsupported_scheme_with_bare_challenge() {
    let h = Harness::new();
    let (_, challenge) = refused(
        h.verify(Some("Basic dXNlcjpwYXNz"), &[]),
        401,
        "invalid_request",
    );
    assert_eq!(challenge, "DPoP algs=\"ES256\"");
}

#[test]
fn rejects_dpop_bound_token_sent_as_bearer() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&format!("Bearer {token}")), &[&proof]),
        401,
        "invalid_token",
    );
    assert_eq!(
        challenge,
        "DPoP error=\"invalid_token\", error_description=\"DPoP-bound token sent as Bearer: use the DPoP \
         authorization scheme (RFC 9449 section 7.1)\", algs=\"ES256\""
    );
    assert_eq!(
        e.to_json(),
        r#"{"error":"invalid_token","error_description":"DPoP-bound token sent as Bearer: use the DPoP authorization scheme (RFC 9449 §7.1)"}"#
    );
    assert!(
        h.replay.is_empty(),
        "nothing is recorded before the scheme is accepted"
    );
}

#[test]
fn rejects_dpop_scheme_without_token() {
    let h = Harness::new();
    let (_, challenge) = refused(h.verify(Some("DPoP "), &[]), 401, "invalid_token");
    assert_challenge(&challenge, "invalid_token");
}

#[test]
fn rejects_token_that_is_not_token68() {
    let h = Harness::new();
    let (_, challenge) = refused(h.verify(Some("DPoP a b"), &[]), 401, "invalid_token");
    assert_challenge(&challenge, "invalid_token");
}

#[test]
fn rejects_missing_proof() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let (_, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
}

#[test]
fn rejects_two_proofs() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let (p1, p2) = (h.proof(&token, |_| {}), h.proof(&token, |_| {}));
    let (_, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&p1, &p2]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
}

#[test]
fn rejects_proof_without_ath() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| {
        c.as_object_mut().unwrap().remove("ath");
    });
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
    assert!(e.error_description.unwrap().contains("ath"));
}

#[test]
fn rejects_ath_of_another_token() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let other = h.token(|c| c.jti = "tok-2".into());
    let proof = h.proof(&other, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
    assert!(e.error_description.unwrap().contains("ath"));
}

#[test]
fn rejects_proof_for_another_url() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| {
        c["htu"] = json!("https://evil.example/xrpc/com.atproto.server.getSession")
    });
    let (_, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
}

#[test]
fn rejects_proof_for_another_method() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| c["htm"] = json!("POST"));
    let (_, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
}

#[test]
fn rejects_proof_signed_by_another_key_than_cnf_jkt() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let thief = new_key();
    let proof = h.proof_by(&thief, &token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("key binding"));
}

#[test]
fn rejects_replayed_proof() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_dpop_proof",
    );
    assert_challenge(&challenge, "invalid_dpop_proof");
    assert!(e.error_description.unwrap().contains("jti"));
}

#[test]
fn rejects_stale_nonce_with_use_dpop_nonce_and_a_new_nonce() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let stale = h.nonces.issue(NOW - 2 * DPOP_NONCE_STEP_SECS);
    let proof = h.proof(&token, |c| c["nonce"] = json!(stale));
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "use_dpop_nonce",
    );
    assert_challenge(&challenge, "use_dpop_nonce");
    let fresh = header(&e, "DPoP-Nonce").unwrap();
    assert_eq!(fresh, h.nonces.issue(NOW));
    assert_ne!(fresh, stale);
    assert_eq!(
        e.headers.iter().filter(|(k, _)| k == "DPoP-Nonce").count(),
        1
    );
    assert!(h.replay.is_empty());
}

#[test]
fn rejects_proof_without_nonce_with_use_dpop_nonce() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| {
        c.as_object_mut().unwrap().remove("nonce");
    });
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "use_dpop_nonce",
    );
    assert_challenge(&challenge, "use_dpop_nonce");
    assert_eq!(header(&e, "DPoP-Nonce"), Some(h.nonces.issue(NOW).as_str()));
}

#[test]
fn rejects_expired_token() {
    let h = Harness::new();
    let token = h.token(|c| c.exp = NOW + 30);
    let at = NOW + 30;
    let proof = h.proof(&token, |c| {
        c["iat"] = json!(at);
        c["nonce"] = json!(h.nonces.issue(at));
    });
    let (e, challenge) = refused(
        h.verify_at(Some(&dpop(&token)), &[&proof], at),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("expired"));
}

#[test]
fn accepts_token_one_second_before_expiry() {
    let h = Harness::new();
    let token = h.token(|c| c.exp = NOW + 1);
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
}

#[test]
fn rejects_wrong_aud() {
    let h = Harness::new();
    let token = h.token(|c| c.aud = "https://other-pds.example".into());
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("aud"));
}

#[test]
fn rejects_wrong_iss() {
    let h = Harness::new();
    let token = h.token(|c| c.iss = "https://other-auth.example".into());
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("iss"));
}

#[test]
fn rejects_token_signed_by_unknown_key() {
    let h = Harness::new();
    let stranger = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
    let token = atauth_core::jwt::sign(&stranger, "at+jwt", &h.claims()).unwrap();
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e
        .error_description
        .unwrap()
        .contains("not signed by a key of the issuer"));
}

#[test]
fn rejects_token_of_another_typ() {
    let h = Harness::new();
    let token = atauth_core::jwt::sign(&h.issuer_keys.current(), "dpop+jwt", &h.claims()).unwrap();
    let proof = h.proof(&token, |_| {});
    let (_, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
}

#[test]
fn rejects_tampered_token() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = h.claims();
    claims.scope = "atproto transition:generic transition:email".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    let proof = h.proof(&forged, |_| {});
    let (e, _) = refused(
        h.verify(Some(&dpop(&forged)), &[&proof]),
        401,
        "invalid_token",
    );
    assert!(e.error_description.unwrap().contains("signature"));
}

#[test]
fn accepts_tokens_of_every_key_in_the_live_set_after_rotation() {
    let h = Harness::new();
    let old = h.token(|_| {});
    let newer = generate_stored_key(2).unwrap();
    h.issuer_keys
        .replace(Keyset::from_stored(&[h.stored.clone(), newer.clone()]).unwrap());
    let proof = h.proof(&old, |_| {});
    assert!(
        h.verify(Some(&dpop(&old)), &[&proof]).is_ok(),
        "the old key still verifies"
    );
    let new = h.token(|c| c.jti = "tok-new".into());
    assert!(new.starts_with(&B64.encode(format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
        newer.kid
    ))));
    let proof = h.proof(&new, |_| {});
    assert!(
        h.verify(Some(&dpop(&new)), &[&proof]).is_ok(),
        "the new key signs and verifies"
    );
}

#[test]
fn rejects_token_of_a_key_removed_from_the_live_set() {
    let h = Harness::new();
    let old = h.token(|_| {});
    h.issuer_keys
        .replace(Keyset::from_stored(&[generate_stored_key(3).unwrap()]).unwrap());
    let proof = h.proof(&old, |_| {});
    let (_, challenge) = refused(h.verify(Some(&dpop(&old)), &[&proof]), 401, "invalid_token");
    assert_challenge(&challenge, "invalid_token");
}

#[test]
fn rejects_revoked_session_in_stateful_mode() {
    let h = Harness::new();
    let token = h.token(|c| c.sid = "ses-revoked".into());
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("revoked"));
}

#[test]
fn rejects_session_that_has_ended() {
    let h = Harness::new();
    h.add_session("ses-ended", NOW);
    let token = h.token(|c| c.sid = "ses-ended".into());
    let proof = h.proof(&token, |_| {});
    refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
}

#[test]
fn stateless_mode_does_not_look_up_the_session() {
    let h = Harness::stateless();
    let token = h.token(|c| c.sid = "ses-unknown".into());
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
}

struct FailingSessions;

impl SessionCheck for FailingSessions {
    fn session_active(&self, _: &str, _: i64) -> Result<bool, StoreError> {
        Err(StoreError::Backend("database down".into()))
    }
}

#[test]
fn session_backend_failure_is_server_error_without_detail() {
    let h = Harness::stateless();
    let v = Verifier::new(
        ISSUER,
        AUDIENCE,
        h.issuer_keys.clone(),
        h.nonces.clone(),
        h.replay.clone(),
    )
    .with_session_check(Arc::new(FailingSessions));
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let req = RequestParts {
        method: "GET",
        url: URL,
        authorization: Some(&dpop(&token)),
        dpop_headers: &[&proof],
    };
    let e = v.verify(&req, NOW).unwrap_err();
    assert_eq!(e.status, 500);
    assert_eq!(e.to_json(), r#"{"error":"server_error"}"#);
    assert!(header(&e, "DPoP-Nonce").is_some());
}

struct FailingReplay;

impl ReplayStore for FailingReplay {
    fn check_and_insert(&self, _: &str, _: &str, _: i64, _: i64) -> StoreResult<bool> {
        Err(StoreError::Backend("replay down".into()))
    }
}

#[test]
fn replay_backend_failure_is_server_error() {
    let h = Harness::stateless();
    let v = Verifier::new(
        ISSUER,
        AUDIENCE,
        h.issuer_keys.clone(),
        h.nonces.clone(),
        Arc::new(FailingReplay),
    );
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let req = RequestParts {
        method: "GET",
        url: URL,
        authorization: Some(&dpop(&token)),
        dpop_headers: &[&proof],
    };
    assert_eq!(v.verify(&req, NOW).unwrap_err().status, 500);
}

#[test]
fn request_url_uses_the_configured_origin() {
    let h = Harness::stateless();
    assert_eq!(h.verifier.request_url(PATH), URL);
    let v = Verifier::new(
        ISSUER,
        "https://pds.example/",
        h.issuer_keys.clone(),
        h.nonces.clone(),
        h.replay.clone(),
    );
    assert_eq!(
        v.request_url("/xrpc/x?a=1"),
        "https://pds.example/xrpc/x?a=1"
    );
}

#[test]
fn debug_output_hides_credentials() {
    let req = RequestParts {
        method: "GET",
        url: URL,
        authorization: Some("DPoP secret-token"),
        dpop_headers: &["secret-proof"],
    };
    let s = format!("{req:?}");
    assert!(!s.contains("secret"), "{s}");
}
