//! Hostile cases for DPoP proof verification, one rule per test. Each
//! refusal asserts the exact error code (and `DPoP-Nonce` /
//! `WWW-Authenticate` where they apply) and that the replay store recorded
//! nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::*;
use crate::consts::DPOP_NONCE_STEP_SECS;
use crate::crypto::Es256SigningKey;
use crate::jwk::{ec_public_jwk, ec_thumbprint};
use crate::jwt::MAX_JWT_LEN;
use crate::replay::MemoryReplayStore;
use crate::store::{StoreError, StoreResult};
use crate::ErrorCode;

const NOW: i64 = 1_700_000_040;
const STEP: i64 = DPOP_NONCE_STEP_SECS;
const TOKEN_URL: &str = "https://pds.example/oauth/token";
const XRPC_URL: &str = "https://pds.example/xrpc/app.bsky.feed.getTimeline?limit=30";
const XRPC_HTU: &str = "https://pds.example/xrpc/app.bsky.feed.getTimeline";
const ACCESS_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOmFiYyJ9.c2ln";

fn signing_key() -> Es256SigningKey {
    Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap()
}

/// Sign any header and claims with `key`: the compact JWS, ES256 `R || S`.
fn sign(key: &Es256SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(serde_json::to_vec(header).unwrap()),
        B64.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(sig))
}

fn ath(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// One client key, the server's nonces and an empty replay store.
struct Harness {
    key: Es256SigningKey,
    nonces: Nonces,
    store: MemoryReplayStore,
}

impl Harness {
    fn new() -> Self {
        Harness {
            key: signing_key(),
            nonces: Nonces::new([42u8; 32]),
            store: MemoryReplayStore::new(),
        }
    }

    /// A valid header: `typ`, `alg`, and this client's public `jwk`.
    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_public_jwk(self.key.public_key(), None)})
    }

    /// Valid claims for a token request at `NOW` with the current nonce.
    fn claims(&self) -> Value {
        json!({
            "jti": format!("jti-{:016x}", rand::random::<u64>()),
            "htm": "POST",
            "htu": TOKEN_URL,
            "iat": NOW,
            "nonce": self.nonces.issue(NOW),
        })
    }

    /// A proof for the token endpoint, after `edit` changed header and claims.
    fn proof(&self, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
        let (mut h, mut c) = (self.header(), self.claims());
        edit(&mut h, &mut c);
        sign(&self.key, &h, &c)
    }

    fn verify_as_headers(&self, headers: &[&str]) -> Result<VerifiedProof, OAuthError> {
        let input = ProofInput {
            dpop_headers: headers,
            method: "POST",
            url: TOKEN_URL,
            access_token: None,
        };
        verify_proof(
            &input,
            NOW,
            &self.nonces,
            &self.store,
            &DpopPolicy::authorization_server(),
        )
    }

    /// Verify at the token endpoint of the authorization server.
    fn verify_as(&self, proof: &str) -> Result<VerifiedProof, OAuthError> {
        self.verify_as_headers(&[proof])
    }

    /// Verify a `GET` XRPC call at the resource server with `token`.
    fn verify_rs(&self, proof: &str, token: &str) -> Result<VerifiedProof, OAuthError> {
        let input = ProofInput {
            dpop_headers: &[proof],
            method: "GET",
            url: XRPC_URL,
            access_token: Some(token),
        };
        verify_proof(
            &input,
            NOW,
            &self.nonces,
            &self.store,
            &DpopPolicy::resource_server(),
        )
    }

    /// A proof for the XRPC call, bound to `token`.
    fn rs_proof(&self, edit: impl FnOnce(&mut Value)) -> String {
        self.proof(|_, c| {
            c["htm"] = json!("GET");
            c["htu"] = json!(XRPC_HTU);
            c["ath"] = json!(ath(ACCESS_TOKEN));
            edit(c);
        })
    }

    /// The refusal, checked for its code and that nothing was recorded.
    fn refused(&self, r: Result<VerifiedProof, OAuthError>, code: ErrorCode) -> OAuthError {
        let e = r.expect_err("proof accepted");
        assert_eq!(e.error, code, "{e}");
        assert!(self.store.is_empty(), "a refused proof was recorded");
        e
    }

    fn header_value<'e>(e: &'e OAuthError, name: &str) -> Option<&'e str> {
        e.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

// ---- accepted ----

#[test]
fn accepts_valid_proof_and_returns_its_thumbprint() {
    let h = Harness::new();
    let v = h.verify_as(&h.proof(|_, _| {})).unwrap();
    assert_eq!(
        v.jkt,
        ec_thumbprint(h.key.public_key().x(), h.key.public_key().y())
    );
    assert_eq!(v.iat, NOW);
    assert!(v.jti.starts_with("jti-"));
    assert_eq!(h.store.len(), 1);
}

#[test]
fn accepts_valid_proof_at_resource_server() {
    let h = Harness::new();
    let v = h.verify_rs(&h.rs_proof(|_| {}), ACCESS_TOKEN).unwrap();
    assert!(v.ensure_bound_to(&v.jkt).is_ok());
}

#[test]
fn accepts_next_step_nonce_from_an_instance_whose_clock_is_ahead() {
    let h = Harness::new();
    let ahead = Nonces::new([42u8; 32]).issue(NOW + STEP);
    assert!(h
        .verify_as(&h.proof(|_, c| c["nonce"] = json!(ahead)))
        .is_ok());
}

#[test]
fn accepts_previous_step_nonce() {
    let h = Harness::new();
    let previous = h.nonces.issue(NOW - STEP);
    assert!(h
        .verify_as(&h.proof(|_, c| c["nonce"] = json!(previous)))
        .is_ok());
}

#[test]
fn accepts_htu_with_query_and_fragment_when_path_matches() {
    let h = Harness::new();
    let htu = format!("{TOKEN_URL}?client_id=x#frag");
    assert!(h.verify_as(&h.proof(|_, c| c["htu"] = json!(htu))).is_ok());
}

#[test]
fn accepts_htu_differing_by_default_port_and_case() {
    let h = Harness::new();
    let htu = "HTTPS://PDS.Example:443/oauth/%74oken";
    assert!(h.verify_as(&h.proof(|_, c| c["htu"] = json!(htu))).is_ok());
}

#[test]
fn accepts_iat_exactly_max_age_old() {
    let h = Harness::new();
    assert!(h
        .verify_as(&h.proof(|_, c| c["iat"] = json!(NOW - DPOP_PROOF_MAX_AGE_SECS)))
        .is_ok());
}

#[test]
fn accepts_iat_exactly_max_skew_ahead() {
    let h = Harness::new();
    assert!(h
        .verify_as(&h.proof(|_, c| c["iat"] = json!(NOW + DPOP_MAX_FUTURE_SKEW_SECS)))
        .is_ok());
}

#[test]
fn accepts_fractional_iat() {
    let h = Harness::new();
    let v = h
        .verify_as(&h.proof(|_, c| c["iat"] = json!(NOW as f64 + 0.75)))
        .unwrap();
    assert_eq!(v.iat, NOW);
}

#[test]
fn accepts_typ_with_application_prefix() {
    let h = Harness::new();
    assert!(h
        .verify_as(&h.proof(|h, _| h["typ"] = json!("application/DPoP+JWT")))
        .is_ok());
}

#[test]
fn a_refused_proof_consumes_nothing_so_its_fixed_retry_passes() {
    let h = Harness::new();
    let mut claims = h.claims();
    claims.as_object_mut().unwrap().remove("nonce");
    h.refused(
        h.verify_as(&sign(&h.key, &h.header(), &claims)),
        ErrorCode::UseDpopNonce,
    );
    claims["nonce"] = json!(h.nonces.issue(NOW));
    assert!(h.verify_as(&sign(&h.key, &h.header(), &claims)).is_ok());
}

// ---- §4.3 (1), (2) ----

#[test]
fn rejects_request_without_proof() {
    let h = Harness::new();
    let e = h.refused(h.verify_as_headers(&[]), ErrorCode::InvalidDpopProof);
    assert_eq!(e.status, 400);
}

#[test]
fn rejects_two_dpop_headers() {
    let h = Harness::new();
    let (a, b) = (h.proof(|_, _| {}), h.proof(|_, _| {}));
    let e = h.refused(h.verify_as_headers(&[&a, &b]), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (1)"));
}

#[test]
fn rejects_two_proofs_joined_in_one_header() {
    let h = Harness::new();
    let joined = format!("{}, {}", h.proof(|_, _| {}), h.proof(|_, _| {}));
    let e = h.refused(h.verify_as(&joined), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (2)"));
}

#[test]
fn rejects_value_that_is_not_a_jwt() {
    let h = Harness::new();
    let e = h.refused(h.verify_as("not-a-jwt"), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (2)"));
}

#[test]
fn rejects_jwt_whose_payload_is_not_an_object() {
    let h = Harness::new();
    let token = sign(&h.key, &h.header(), &json!(["jti"]));
    h.refused(h.verify_as(&token), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_header_value_longer_than_max_jwt_len() {
    let h = Harness::new();
    let long = h.proof(|_, c| c["pad"] = json!("x".repeat(MAX_JWT_LEN)));
    let e = h.refused(h.verify_as(&long), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("longer than"));
}

// ---- §4.3 (3) ----

#[test]
fn rejects_missing_jti() {
    let h = Harness::new();
    let p = h.proof(|_, c| {
        c.as_object_mut().unwrap().remove("jti");
    });
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("\"jti\""));
}

#[test]
fn rejects_oversized_jti() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["jti"] = json!("j".repeat(MAX_JTI_LEN + 1)));
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_non_numeric_iat() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["iat"] = json!(NOW.to_string()));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("NumericDate"));
}

#[test]
fn rejects_missing_htu() {
    let h = Harness::new();
    let p = h.proof(|_, c| {
        c.as_object_mut().unwrap().remove("htu");
    });
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_missing_jwk() {
    let h = Harness::new();
    let p = h.proof(|h, _| {
        h.as_object_mut().unwrap().remove("jwk");
    });
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("\"jwk\""));
}

// ---- §4.3 (4), (5) ----

#[test]
fn rejects_typ_jwt() {
    let h = Harness::new();
    let e = h.refused(
        h.verify_as(&h.proof(|h, _| h["typ"] = json!("jwt"))),
        ErrorCode::InvalidDpopProof,
    );
    assert!(e.error_description.unwrap().contains("§4.3 (4)"));
}

#[test]
fn rejects_alg_none() {
    let h = Harness::new();
    let mut header = h.header();
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        B64.encode(serde_json::to_vec(&header).unwrap()),
        B64.encode(serde_json::to_vec(&h.claims()).unwrap())
    );
    let e = h.refused(h.verify_as(&unsigned), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("\"none\""));
}

#[test]
fn rejects_alg_hs256() {
    let h = Harness::new();
    let e = h.refused(
        h.verify_as(&h.proof(|h, _| h["alg"] = json!("HS256"))),
        ErrorCode::InvalidDpopProof,
    );
    assert!(e.error_description.unwrap().contains("symmetric"));
}

#[test]
fn rejects_alg_es384() {
    let h = Harness::new();
    let e = h.refused(
        h.verify_as(&h.proof(|h, _| h["alg"] = json!("ES384"))),
        ErrorCode::InvalidDpopProof,
    );
    assert!(e.error_description.unwrap().contains("§4.3 (5)"));
}

// ---- §4.3 (6), (7) ----

#[test]
fn rejects_jwk_carrying_private_d() {
    let h = Harness::new();
    let p = h.proof(|h, _| h["jwk"]["d"] = json!("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (7)"));
}

#[test]
fn rejects_jwk_of_another_key_than_the_signer() {
    let h = Harness::new();
    let other = signing_key();
    let p = h.proof(|h, _| h["jwk"] = ec_public_jwk(other.public_key(), None));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (6)"));
}

#[test]
fn rejects_non_ec_jwk() {
    let h = Harness::new();
    let p = h.proof(|h, _| h["jwk"] = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}));
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

// ---- §4.3 (8), (9) ----

#[test]
fn rejects_wrong_htm() {
    let h = Harness::new();
    let e = h.refused(
        h.verify_as(&h.proof(|_, c| c["htm"] = json!("GET"))),
        ErrorCode::InvalidDpopProof,
    );
    assert!(e.error_description.unwrap().contains("§4.3 (8)"));
}

#[test]
fn rejects_lowercase_htm() {
    let h = Harness::new();
    h.refused(
        h.verify_as(&h.proof(|_, c| c["htm"] = json!("post"))),
        ErrorCode::InvalidDpopProof,
    );
}

#[test]
fn rejects_htu_with_other_path() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["htu"] = json!("https://pds.example/oauth/par"));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (9)"));
}

#[test]
fn rejects_htu_with_other_host() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["htu"] = json!("https://evil.example/oauth/token"));
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_htu_with_other_scheme() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["htu"] = json!("http://pds.example/oauth/token"));
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_htu_with_other_port() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["htu"] = json!("https://pds.example:8443/oauth/token"));
    h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_relative_htu() {
    let h = Harness::new();
    h.refused(
        h.verify_as(&h.proof(|_, c| c["htu"] = json!("/oauth/token"))),
        ErrorCode::InvalidDpopProof,
    );
}

// ---- §4.3 (10) ----

#[test]
fn rejects_missing_nonce_with_a_fresh_one() {
    let h = Harness::new();
    let p = h.proof(|_, c| {
        c.as_object_mut().unwrap().remove("nonce");
    });
    let e = h.refused(h.verify_as(&p), ErrorCode::UseDpopNonce);
    assert_eq!(e.status, 400);
    assert_eq!(
        Harness::header_value(&e, "DPoP-Nonce"),
        Some(h.nonces.issue(NOW).as_str())
    );
}

#[test]
fn rejects_stale_nonce_issued_two_steps_ago() {
    let h = Harness::new();
    let stale = h.nonces.issue(NOW - 2 * STEP);
    let e = h.refused(
        h.verify_as(&h.proof(|_, c| c["nonce"] = json!(stale))),
        ErrorCode::UseDpopNonce,
    );
    let fresh = Harness::header_value(&e, "DPoP-Nonce").unwrap();
    assert_ne!(
        fresh, stale,
        "clients retry only when the nonce differs (SPEC §7)"
    );
    assert_eq!(fresh, h.nonces.issue(NOW));
}

#[test]
fn rejects_forged_nonce() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["nonce"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let e = h.refused(h.verify_as(&p), ErrorCode::UseDpopNonce);
    assert!(Harness::header_value(&e, "DPoP-Nonce").is_some());
}

#[test]
fn rejects_nonce_from_another_secret() {
    let h = Harness::new();
    let foreign = Nonces::new([1u8; 32]).issue(NOW);
    h.refused(
        h.verify_as(&h.proof(|_, c| c["nonce"] = json!(foreign))),
        ErrorCode::UseDpopNonce,
    );
}

#[test]
fn rejects_non_string_nonce_as_invalid_proof() {
    let h = Harness::new();
    h.refused(
        h.verify_as(&h.proof(|_, c| c["nonce"] = json!(12))),
        ErrorCode::InvalidDpopProof,
    );
}

// ---- §4.3 (11) ----

#[test]
fn rejects_iat_too_old() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["iat"] = json!(NOW - DPOP_PROOF_MAX_AGE_SECS - 1));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("too old"));
}

#[test]
fn rejects_iat_too_far_ahead() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["iat"] = json!(NOW + DPOP_MAX_FUTURE_SKEW_SECS + 1));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("future"));
}

#[test]
fn rejects_iat_beyond_i64_without_overflow() {
    let h = Harness::new();
    h.refused(
        h.verify_as(&h.proof(|_, c| c["iat"] = json!(u64::MAX))),
        ErrorCode::InvalidDpopProof,
    );
}

#[test]
fn rejects_iat_of_i64_min_without_overflow() {
    let h = Harness::new();
    h.refused(
        h.verify_as(&h.proof(|_, c| c["iat"] = json!(i64::MIN))),
        ErrorCode::InvalidDpopProof,
    );
}

// ---- §4.3 (12) ----

#[test]
fn rejects_ath_at_authorization_server() {
    let h = Harness::new();
    let p = h.proof(|_, c| c["ath"] = json!(ath(ACCESS_TOKEN)));
    let e = h.refused(h.verify_as(&p), ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("§4.3 (12)"));
}

#[test]
fn rejects_missing_ath_at_resource_server_as_401_challenge() {
    let h = Harness::new();
    let p = h.rs_proof(|c| {
        c.as_object_mut().unwrap().remove("ath");
    });
    let e = h.refused(h.verify_rs(&p, ACCESS_TOKEN), ErrorCode::InvalidDpopProof);
    assert_eq!(e.status, 401);
    let challenge = Harness::header_value(&e, "WWW-Authenticate").unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\", error_description=\""),
        "{challenge}"
    );
    assert!(challenge.ends_with(", algs=\"ES256\""), "{challenge}");
}

#[test]
fn rejects_ath_of_another_token_at_resource_server() {
    let h = Harness::new();
    let p = h.rs_proof(|c| c["ath"] = json!(ath("another-token")));
    let e = h.refused(h.verify_rs(&p, ACCESS_TOKEN), ErrorCode::InvalidDpopProof);
    assert!(e
        .error_description
        .unwrap()
        .contains("\"ath\" does not match"));
}

#[test]
fn rejects_missing_nonce_at_resource_server_as_401_challenge() {
    let h = Harness::new();
    let p = h.rs_proof(|c| {
        c.as_object_mut().unwrap().remove("nonce");
    });
    let e = h.refused(h.verify_rs(&p, ACCESS_TOKEN), ErrorCode::UseDpopNonce);
    assert_eq!(e.status, 401);
    assert_eq!(
        Harness::header_value(&e, "DPoP-Nonce"),
        Some(h.nonces.issue(NOW).as_str())
    );
    assert_eq!(
        Harness::header_value(&e, "WWW-Authenticate"),
        Some(
            "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof \
             (RFC 9449 section 8, section 9)\", algs=\"ES256\""
        )
    );
}

#[test]
fn rejects_token_bound_to_another_key() {
    let h = Harness::new();
    let v = h.verify_rs(&h.rs_proof(|_| {}), ACCESS_TOKEN).unwrap();
    let e = v
        .ensure_bound_to("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap_err();
    assert_eq!((e.error, e.status), (ErrorCode::InvalidToken, 401));
    assert!(Harness::header_value(&e, "WWW-Authenticate")
        .unwrap()
        .starts_with("DPoP error=\"invalid_token\""));
}

// ---- §11.1 ----

#[test]
fn rejects_replayed_jti() {
    let h = Harness::new();
    let p = h.proof(|_, _| {});
    assert!(h.verify_as(&p).is_ok());
    let e = h.verify_as(&p).unwrap_err();
    assert_eq!(e.error, ErrorCode::InvalidDpopProof);
    assert!(e.error_description.unwrap().contains("already been used"));
    assert_eq!(h.store.len(), 1);
}

/// A replay store whose backend is down.
struct BrokenStore;

impl crate::replay::ReplayStore for BrokenStore {
    fn check_and_insert(&self, _: &str, _: &str, _: i64, _: i64) -> StoreResult<bool> {
        Err(StoreError::Backend("connection refused".into()))
    }
}

#[test]
fn replay_store_failure_is_a_server_error() {
    let h = Harness::new();
    let p = h.proof(|_, _| {});
    let input = ProofInput {
        dpop_headers: &[&p],
        method: "POST",
        url: TOKEN_URL,
        access_token: None,
    };
    let e = verify_proof(
        &input,
        NOW,
        &h.nonces,
        &BrokenStore,
        &DpopPolicy::authorization_server(),
    )
    .unwrap_err();
    assert_eq!(e.error, ErrorCode::ServerError);
    assert_eq!(e.to_json(), r#"{"error":"server_error"}"#);
}

// ---- RFC 9449 §10.1: dpop_jkt ----

fn verified(jkt: &str) -> VerifiedProof {
    VerifiedProof {
        jkt: jkt.into(),
        jti: "j".into(),
        iat: NOW,
    }
}

const JKT_A: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const JKT_B: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

#[test]
fn rejects_dpop_jkt_mismatching_the_proof() {
    let e = check_dpop_jkt(Some(JKT_A), Some(&verified(JKT_B))).unwrap_err();
    assert_eq!(e.error, ErrorCode::InvalidRequest);
    assert!(e.error_description.unwrap().contains("§10.1"));
}

#[test]
fn rejects_malformed_dpop_jkt() {
    let e = check_dpop_jkt(Some("abc"), None).unwrap_err();
    assert_eq!(e.error, ErrorCode::InvalidRequest);
}

#[test]
fn dpop_jkt_matching_the_proof_binds_to_it() {
    assert_eq!(
        check_dpop_jkt(Some(JKT_A), Some(&verified(JKT_A)))
            .unwrap()
            .as_deref(),
        Some(JKT_A)
    );
}

#[test]
fn proof_alone_binds_to_its_key() {
    assert_eq!(
        check_dpop_jkt(None, Some(&verified(JKT_B)))
            .unwrap()
            .as_deref(),
        Some(JKT_B)
    );
}

#[test]
fn dpop_jkt_alone_binds_to_it() {
    assert_eq!(
        check_dpop_jkt(Some(JKT_A), None).unwrap().as_deref(),
        Some(JKT_A)
    );
}

#[test]
fn neither_binds_nothing_and_the_caller_refuses() {
    assert_eq!(check_dpop_jkt(None, None).unwrap(), None);
}

// ---- resource-server error shape ----

#[test]
fn challenge_description_cannot_break_out_of_its_quotes() {
    let e = resource_server_error(OAuthError::invalid_dpop_proof("a \"quoted\" \\ thing\né"));
    assert_eq!(
        Harness::header_value(&e, "WWW-Authenticate"),
        Some("DPoP error=\"invalid_dpop_proof\", error_description=\"a 'quoted' / thing??\", algs=\"ES256\"")
    );
    assert_eq!(
        e.error_description.as_deref(),
        Some("a \"quoted\" \\ thing\né")
    );
}

#[test]
fn other_errors_pass_through_unchanged() {
    let e = OAuthError::server_error("x");
    assert_eq!(resource_server_error(e.clone()), e);
}

#[test]
fn input_debug_hides_the_access_token() {
    let input = ProofInput {
        dpop_headers: &[],
        method: "GET",
        url: XRPC_URL,
        access_token: Some(ACCESS_TOKEN),
    };
    let s = format!("{input:?}");
    assert!(!s.contains(ACCESS_TOKEN) && s.contains("<redacted>"), "{s}");
}
