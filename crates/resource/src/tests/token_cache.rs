//! A token whose signature verified once is remembered
//! (`crate::token_cache`); everything else about it is still checked on
//! every request.

use atauth_core::keys::{generate_stored_key, Keyset};
use serde_json::json;

use super::*;

fn dpop(token: &str) -> String {
    format!("DPoP {token}")
}

#[test]
fn a_remembered_token_is_refused_once_its_key_is_withdrawn() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    h.issuer_keys
        .replace(Keyset::from_stored(&[generate_stored_key(4).unwrap()]).unwrap());
    let proof = h.proof(&token, |_| {});
    let (e, challenge) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("not signed by a key"));
}

#[test]
fn a_remembered_token_still_expires() {
    let h = Harness::new();
    let token = h.token(|c| c.exp = NOW + 30);
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    let at = NOW + 30;
    let proof = h.proof(&token, |c| {
        c["iat"] = json!(at);
        c["nonce"] = json!(h.nonces.issue(at));
    });
    let (e, _) = refused(
        h.verify_at(Some(&dpop(&token)), &[&proof], at),
        401,
        "invalid_token",
    );
    assert!(e.error_description.unwrap().contains("expired"));
}

#[test]
fn a_remembered_token_still_needs_a_proof_by_its_bound_key() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    let thief = new_key();
    let proof = h.proof_by(&thief, &token, |_| {});
    let (e, _) = refused(
        h.verify(Some(&dpop(&token)), &[&proof]),
        401,
        "invalid_token",
    );
    assert!(e.error_description.unwrap().contains("key binding"));
}

#[test]
fn a_remembered_token_is_refused_when_its_session_ends() {
    let h = Harness::new();
    // The token outlives its session (which ends at NOW + 3600).
    let token = h.token(|c| c.exp = NOW + 7200);
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    let later = NOW + 3600;
    let proof = h.proof(&token, |c| {
        c["iat"] = json!(later);
        c["nonce"] = json!(h.nonces.issue(later));
    });
    let (e, _) = refused(
        h.verify_at(Some(&dpop(&token)), &[&proof], later),
        401,
        "invalid_token",
    );
    assert!(e.error_description.unwrap().contains("session"));
}

#[test]
fn a_tampered_copy_of_a_remembered_token_is_verified_afresh_and_refused() {
    let h = Harness::new();
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    assert!(h.verify(Some(&dpop(&token)), &[&proof]).is_ok());
    // Same header and signature, other claims.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let other = h.token(|c| c.sub = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz".into());
    parts[1] = other.split('.').nth(1).unwrap().to_string();
    let forged = parts.join(".");
    let proof = h.proof(&forged, |_| {});
    let (e, _) = refused(
        h.verify(Some(&dpop(&forged)), &[&proof]),
        401,
        "invalid_token",
    );
    assert!(e.error_description.unwrap().contains("signature"));
}
